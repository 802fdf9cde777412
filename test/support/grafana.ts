import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

/**
 * Reading the provisioned Grafana dashboards the way Grafana and the ClickHouse data source
 * plugin do, so tests can run their queries on the real engines.
 */

const datasourceRef = z.object({ type: z.string().min(1), uid: z.string().min(1) });

const target = z
  .object({
    refId: z.string().min(1),
    datasource: datasourceRef,
    // Prometheus targets carry expr; ClickHouse targets carry rawSql.
    expr: z.string().optional(),
    rawSql: z.string().optional(),
    editorType: z.string().optional(),
    queryType: z.string().optional(),
    format: z.number().optional(),
  })
  .loose();

const gridPos = z.object({
  h: z.number().int().positive(),
  w: z.number().int().positive().max(24),
  x: z.number().int().min(0).max(23),
  y: z.number().int().min(0),
});

const basePanel = z
  .object({
    id: z.number().int().positive(),
    type: z.string().min(1),
    title: z.string().min(1),
    gridPos,
  })
  .loose();

const queryPanel = basePanel.extend({
  description: z.string().min(20),
  datasource: datasourceRef,
  targets: z.array(target).min(1),
});

const rowPanel = basePanel.extend({
  type: z.literal('row'),
  panels: z.array(queryPanel).default([]),
});

const variable = z
  .object({
    name: z.string().regex(/^[A-Za-z_]\w*$/),
    type: z.string(),
    datasource: datasourceRef.optional(),
    // A variable query is saved either as the query text or as an object holding it.
    query: z.union([z.string(), z.object({ query: z.string().optional(), rawSql: z.string().optional() }).loose()]).optional(),
    includeAll: z.boolean().optional(),
    allValue: z.string().nullable().optional(),
  })
  .loose();

export const dashboardSchema = z
  .object({
    uid: z.string().regex(/^[A-Za-z0-9_-]{1,40}$/, 'a Grafana uid: at most 40 letters, digits, - and _'),
    title: z.string().min(1),
    schemaVersion: z.number().int().positive(),
    time: z.object({ from: z.string(), to: z.string() }),
    templating: z.object({ list: z.array(variable) }),
    panels: z.array(z.union([rowPanel, queryPanel])),
  })
  .loose();

export type Dashboard = z.infer<typeof dashboardSchema>;
export type QueryPanel = z.infer<typeof queryPanel>;
export type Target = z.infer<typeof target>;
export type Variable = z.infer<typeof variable>;

export interface LoadedDashboard {
  readonly file: string;
  readonly raw: unknown;
  readonly dashboard: Dashboard;
}

/** Every *.json directly under dir, parsed and checked against the dashboard shape. */
export function loadDashboards(dir: string): LoadedDashboard[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.json'))
    .sort()
    .map((file) => {
      const raw: unknown = JSON.parse(readFileSync(join(dir, file), 'utf8'));
      const parsed = dashboardSchema.safeParse(raw);
      if (!parsed.success) throw new Error(`${file}: not a dashboard this repository accepts: ${parsed.error.message}`);
      return { file, raw, dashboard: parsed.data };
    });
}

/** The panels that run queries, including those nested in rows; rows themselves run none. */
export function queryPanels(dashboard: Dashboard): QueryPanel[] {
  return dashboard.panels.flatMap((panel) => {
    if (panel.type === 'row') return 'panels' in panel && Array.isArray(panel.panels) ? (panel.panels as QueryPanel[]) : [];
    return [panel as QueryPanel];
  });
}

/** Every panel with a grid position, rows and nested panels alike. */
export function allPanels(dashboard: Dashboard): Array<{ id: number; title: string; type: string; gridPos: z.infer<typeof gridPos> }> {
  return dashboard.panels.flatMap((panel) => [panel, ...(panel.type === 'row' ? queryPanels({ ...dashboard, panels: [panel] }) : [])]);
}

/** The query text of a template variable, whichever way it was saved. */
export function variableQuery(variable: Variable): string | undefined {
  const { query } = variable;
  if (query === undefined) return undefined;
  if (typeof query === 'string') return query;
  return query.rawSql ?? query.query;
}

export interface TimeRange {
  readonly from: Date;
  readonly to: Date;
  /** What Grafana sends as the query interval ($__interval), in seconds. */
  readonly intervalSeconds: number;
}

/**
 * Replaces ${name} and $name with the variable's value, as Grafana's template service does
 * before the query reaches the data source. Names starting with "__" are Grafana's own
 * ($__timeFilter and friends): the plugin's backend expands those, see expandClickHouseMacros.
 * An unknown variable is an error here, where Grafana would leave the text as it is.
 */
export function interpolateVariables(sql: string, values: Readonly<Record<string, string>>): string {
  return sql.replace(/\$\{(\w+)(?::[^}]*)?\}|\$(\w+)/g, (whole, braced: string | undefined, bare: string | undefined) => {
    const name = braced ?? bare ?? '';
    if (name.startsWith('__')) return whole;
    const value = values[name];
    if (value === undefined) throw new Error(`no value for template variable ${name} in: ${sql}`);
    return value;
  });
}

/**
 * Expands the ClickHouse data source plugin's macros as its backend does (grafana/clickhouse-datasource
 * pkg/macros/macros.go, matched by grafana/sqlds's macro parser):
 *
 * - a macro is `$__name` followed by an optional bracketed argument list; arguments are split on
 *   commas outside nested brackets, so `$__timeFilter(toStartOfMinute(time))` has one argument;
 * - longer names are expanded first, so `$__timeFilter_ms` is never read as `$__timeFilter`;
 * - times are whole seconds since the epoch (`toDateTime(<s>)`) or milliseconds
 *   (`fromUnixTimestamp64Milli(<ms>)`) for the `_ms` forms;
 * - the interval is at least one second (one millisecond for `_ms`).
 *
 * Only the macros the plugin defines are known; anything else starting with `$__` is an error.
 */
export function expandClickHouseMacros(sql: string, range: TimeRange): string {
  const fromS = Math.floor(range.from.getTime() / 1000);
  const toS = Math.floor(range.to.getTime() / 1000);
  const fromMs = range.from.getTime();
  const toMs = range.to.getTime();
  const intervalS = Math.max(Math.floor(range.intervalSeconds), 1);
  const intervalMs = Math.max(Math.floor(range.intervalSeconds * 1000), 1);
  const one = (name: string, args: readonly string[]): string => {
    if (args.length !== 1) throw new Error(`$__${name} takes 1 argument, got ${args.length}`);
    return args[0] as string;
  };
  const macros: Record<string, (args: readonly string[]) => string> = {
    fromTime: () => `toDateTime(${fromS})`,
    toTime: () => `toDateTime(${toS})`,
    fromTime_ms: () => `fromUnixTimestamp64Milli(${fromMs})`,
    toTime_ms: () => `fromUnixTimestamp64Milli(${toMs})`,
    timeFilter: (args) => {
      const column = one('timeFilter', args);
      return `${column} >= toDateTime(${fromS}) AND ${column} <= toDateTime(${toS})`;
    },
    timeFilter_ms: (args) => {
      const column = one('timeFilter_ms', args);
      return `${column} >= fromUnixTimestamp64Milli(${fromMs}) AND ${column} <= fromUnixTimestamp64Milli(${toMs})`;
    },
    dateFilter: (args) => {
      const column = one('dateFilter', args);
      const day = (date: Date) => `toDate('${date.toISOString().slice(0, 10)}')`;
      return `${column} >= ${day(range.from)} AND ${column} <= ${day(range.to)}`;
    },
    timeInterval: (args) => `toStartOfInterval(toDateTime(${one('timeInterval', args)}), INTERVAL ${intervalS} second)`,
    timeInterval_ms: (args) =>
      `toStartOfInterval(toDateTime64(${one('timeInterval_ms', args)}, 3), INTERVAL ${intervalMs} millisecond)`,
    interval_s: () => String(intervalS),
  };
  let out = sql;
  for (const name of Object.keys(macros).sort((a, b) => b.length - a.length)) {
    const pattern = new RegExp(`\\$__${name}\\b`, 'g');
    let match: RegExpExecArray | null;
    while ((match = pattern.exec(out)) !== null) {
      const start = match.index;
      const afterName = start + match[0].length;
      const { args, length } = parseMacroArgs(out.slice(afterName));
      const expansion = (macros[name] as (args: readonly string[]) => string)(args);
      out = out.slice(0, start) + expansion + out.slice(afterName + length);
      pattern.lastIndex = start + expansion.length;
    }
  }
  const unknown = /\$__\w+/.exec(out);
  if (unknown) throw new Error(`unknown ClickHouse macro ${unknown[0]} in: ${sql}`);
  return out;
}

/** A bracketed argument list at the start of text: its top-level arguments and its length. */
function parseMacroArgs(text: string): { args: string[]; length: number } {
  if (!text.startsWith('(')) return { args: [], length: 0 };
  const args: string[] = [];
  let depth = 0;
  let current = '';
  for (let index = 0; index < text.length; index += 1) {
    const char = text[index] as string;
    if (char === '(') {
      depth += 1;
      if (depth === 1) continue;
    } else if (char === ')') {
      depth -= 1;
      if (depth === 0) {
        args.push(current.trim());
        return { args, length: index + 1 };
      }
    } else if (char === ',' && depth === 1) {
      args.push(current.trim());
      current = '';
      continue;
    }
    current += char;
  }
  throw new Error(`unclosed macro argument list: ${text.slice(0, 80)}`);
}
