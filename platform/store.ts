import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Readable } from 'node:stream';
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import { z } from 'zod';
import type { Config } from './config.js';
import { QueryTimeoutError } from './limits.js';
import type { Logger } from './logger.js';

/**
 * The one door to ClickHouse. Embedded mode runs the engine in-process (chDB);
 * server mode speaks HTTP to a ClickHouse server. Both go through @clickhouse/client,
 * so every query is the same SQL in both modes.
 */
export interface Store {
  readonly kind: 'embedded' | 'server';
  /** Database holding Meterline's tables; a config-validated identifier, never request text. */
  readonly database: string;
  readonly client: ClickHouseClient;
  /** Fully qualified, quoted name of one of Meterline's tables. */
  table(name: string): string;
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

export class StoreUnavailableError extends Error {
  readonly retriable = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreUnavailableError';
  }
}

export async function openStore(config: Config['store'], log: Logger): Promise<Store> {
  let client: ClickHouseClient;
  if (config.kind === 'embedded') {
    const dataDir = resolve(config.dataDir);
    await mkdir(dataDir, { recursive: true });
    let chdb: typeof import('chdb/connection');
    try {
      chdb = await import('chdb/connection');
    } catch (cause) {
      throw new StoreUnavailableError(
        'embedded mode needs the optional package "chdb" (npm install chdb), or set CLICKHOUSE_URL to use a ClickHouse server',
        { cause },
      );
    }
    const connection = chdb.createChdbConnection({ path: dataDir });
    // chdb types its connection against @clickhouse/client-common, which @clickhouse/client 1.23
    // now bundles under its own (structurally identical) types; the runtime contract is the same.
    client = createClient({ connection: connection as unknown as NonNullable<Parameters<typeof createClient>[0]>['connection'] });
    log.info({ store: 'embedded', dataDir, database: config.database }, 'store: embedded ClickHouse engine (chDB)');
  } else {
    const bootstrap = createClient({
      url: config.url,
      ...(config.username ? { username: config.username } : {}),
      ...(config.password ? { password: config.password } : {}),
    });
    await bootstrap.command({ query: `CREATE DATABASE IF NOT EXISTS ${quoteIdentifier(config.database)}` });
    await bootstrap.close();
    client = createClient({
      url: config.url,
      database: config.database,
      ...(config.username ? { username: config.username } : {}),
      ...(config.password ? { password: config.password } : {}),
    });
    log.info({ store: 'server', url: redactUrl(config.url), database: config.database }, 'store: ClickHouse server');
  }
  if (config.kind === 'embedded') {
    await client.command({ query: `CREATE DATABASE IF NOT EXISTS ${quoteIdentifier(config.database)}` });
  }
  let closed = false;
  return {
    kind: config.kind,
    database: config.database,
    client,
    table: (name) => `${quoteIdentifier(config.database)}.${quoteIdentifier(name)}`,
    async ping() {
      const result = await client.ping();
      return result.success;
    },
    async close() {
      if (closed) return;
      closed = true;
      await client.close();
      if (config.kind === 'embedded') {
        // chDB binds one data directory per process; let it release before anyone reopens.
        const chdb = await import('chdb');
        await chdb.drainPending();
      }
    },
  };
}

export function quoteIdentifier(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`not a safe identifier: ${name}`);
  return `\`${name}\``;
}

function redactUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}

/** Per-statement settings; values are constants or ids Meterline generates, never request text. */
export type StatementSettings = Readonly<Record<string, string | number>>;

/**
 * Renders settings as the statement's own SETTINGS clause. They are never passed as
 * clickhouse_settings: the in-process engine applies those with session-wide SET, so they
 * would outlive the statement (a deduplication token would silently drop the next insert).
 */
export function settingsClause(settings: StatementSettings | undefined): string {
  if (!settings || Object.keys(settings).length === 0) return '';
  const parts = Object.entries(settings).map(([name, value]) => {
    if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`not a setting name: ${name}`);
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) throw new Error(`setting ${name} is not finite`);
      return `${name} = ${value}`;
    }
    if (!/^[A-Za-z0-9_.:-]*$/.test(value)) throw new Error(`setting ${name} has characters outside [A-Za-z0-9_.:-]`);
    return `${name} = '${value}'`;
  });
  return ` SETTINGS ${parts.join(', ')}`;
}

/**
 * A query declared once: SQL with {name:Type} placeholders, a schema for its parameters and
 * one for its rows. Values from outside only ever travel as parameters.
 */
export interface QuerySpec<P extends z.ZodType, R extends z.ZodType> {
  readonly name: string;
  /** Builds the SQL from the store's table names; called once per store. */
  readonly sql: (t: Store['table']) => string;
  readonly params: P;
  readonly row: R;
  readonly settings?: StatementSettings;
}

export type TypedQuery<P extends z.ZodType, R extends z.ZodType> = (
  store: Store,
  params: z.input<P>,
) => Promise<Array<z.output<R>>>;

export function defineQuery<P extends z.ZodType, R extends z.ZodType>(spec: QuerySpec<P, R>): TypedQuery<P, R> {
  const sqlByStore = new WeakMap<Store, string>();
  return async (store, params) => {
    let sql = sqlByStore.get(store);
    if (sql === undefined) {
      sql = spec.sql(store.table) + settingsClause(spec.settings);
      sqlByStore.set(store, sql);
    }
    const queryParams = spec.params.parse(params) as Record<string, unknown>;
    return selectTyped(store, { name: spec.name, sql, params: queryParams, row: spec.row });
  };
}

/** A tenant's append-only versioned table: each change of a key is a new row with the next `version`. */
export interface LatestVersionsSpec<R extends z.ZodType> {
  readonly name: string;
  readonly table: string;
  /** The columns that name one versioned thing (a rule id, a plan key, a customer id). */
  readonly key: readonly string[];
  /** The select list: SQL written in code (column names or expressions), never request text. */
  readonly columns: readonly string[];
  readonly row: R;
}

/** The SQL of defineLatestVersionsQuery: of each key's rows in one tenant, the one with the highest version. */
export function latestVersionsSql(table: string, key: readonly string[], columns: readonly string[]): string {
  if (key.length === 0) throw new Error('a latest-version query needs at least one key column');
  if (columns.length === 0) throw new Error('a latest-version query needs at least one column');
  const keys = key.map(quoteIdentifier).join(', ');
  return `SELECT ${columns.join(', ')}
    FROM ${table} WHERE tenant_id = {tenantId:String}
    ORDER BY ${keys}, version DESC LIMIT 1 BY ${keys}`;
}

/**
 * The current version of every key of a tenant's versioned table (alert rules, plans,
 * contracts), declared once: LIMIT 1 BY reads whole rows, where argMax per column would need
 * one aggregate for each.
 */
export function defineLatestVersionsQuery<R extends z.ZodType>(spec: LatestVersionsSpec<R>) {
  return defineQuery({
    name: spec.name,
    sql: (t) => latestVersionsSql(t(spec.table), spec.key, spec.columns),
    params: z.object({ tenantId: z.string() }),
    row: spec.row,
  });
}

/**
 * One statement built at run time (its shape depends on the request: windows, dimensions, row
 * limits), still with a schema for its rows. Values from outside only ever travel in params.
 */
export interface TypedStatement<R extends z.ZodType> {
  readonly name: string;
  /** SQL carrying its own SETTINGS clause. */
  readonly sql: string;
  readonly params: Record<string, unknown>;
  readonly row: R;
}

/** Runs a typed statement; a row that does not match its schema throws. */
export async function selectTyped<R extends z.ZodType>(
  store: Store,
  statement: TypedStatement<R>,
  options: SelectOptions = {},
): Promise<Array<z.output<R>>> {
  const rows = await selectRows<unknown>(store, statement.sql, statement.params, options);
  return rows.map((row, index) => {
    const parsed = statement.row.safeParse(row);
    if (!parsed.success) {
      // A row that does not match is a schema drift bug: fail loudly rather than bill on a guess.
      throw new Error(`query ${statement.name}: row ${index} does not match its schema: ${parsed.error.message}`);
    }
    return parsed.data as z.output<R>;
  });
}

/**
 * The settings that make the engine stop a statement after `timeoutMs` (max_execution_time is
 * in seconds and takes fractions). Merge them into the statement's own SETTINGS clause.
 */
export function timeoutSettings(timeoutMs: number): StatementSettings {
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new Error(`not a query timeout: ${timeoutMs}`);
  return { max_execution_time: timeoutMs / 1000, timeout_overflow_mode: 'throw' };
}

/** ClickHouse's TIMEOUT_EXCEEDED, from a server or from the in-process engine (whose error class is its own). */
export function isEngineTimeout(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, type } = error as { code?: unknown; type?: unknown };
  return code === '159' || type === 'TIMEOUT_EXCEEDED';
}

export interface SelectOptions {
  /** The timeout the statement's SETTINGS carry (timeoutSettings); its expiry becomes a QueryTimeoutError. */
  readonly timeoutMs?: number;
}

/** Runs a SELECT whose SQL already carries any SETTINGS clause it needs. */
export async function selectRows<T>(
  store: Store,
  sql: string,
  params: Record<string, unknown>,
  options: SelectOptions = {},
): Promise<T[]> {
  try {
    const result = await store.client.query({ query: sql, query_params: params, format: 'JSONEachRow' });
    return await result.json<T>();
  } catch (error) {
    if (options.timeoutMs !== undefined && isEngineTimeout(error)) throw new QueryTimeoutError(options.timeoutMs, { cause: error });
    throw error;
  }
}

/** The columns of one table's insert: names and, for the compiler, the type each row gives them. */
export type RowSchema = z.ZodObject;

/**
 * Inserts rows (decimals already strings) with per-statement settings. The row schema names the
 * columns, so every row fills the same ones whatever the first row holds. Rows travel as
 * JSONCompactEachRow under that explicit column list: the engine parses arrays markedly faster
 * than objects, and the column list keeps values and names together. Rows are typed by the
 * schema at compile time; at run time only a missing column is checked, since a full parse of
 * every row would cost the event insert path a large share of its throughput.
 */
export async function insertRows<S extends RowSchema>(
  store: Store,
  table: string,
  schema: S,
  rows: ReadonlyArray<z.input<S>>,
  settings?: StatementSettings,
): Promise<void> {
  if (rows.length === 0) return;
  const columns = Object.keys(schema.shape);
  let body = '';
  rows.forEach((row, index) => {
    const record = row as Record<string, unknown>;
    const values = columns.map((column) => {
      const value = record[column];
      if (value === undefined) throw new Error(`insert into ${table}: row ${index} has no ${column}`);
      return value;
    });
    body += `${JSON.stringify(values)}\n`;
  });
  const result = await store.client.exec({
    query: `INSERT INTO ${store.table(table)} (${columns.map(quoteIdentifier).join(', ')})${settingsClause(settings)} FORMAT JSONCompactEachRow`,
    values: Readable.from([body]),
  });
  // Drain the (empty) answer so the connection is released.
  for await (const _chunk of result.stream) {
    // nothing to read
  }
}
