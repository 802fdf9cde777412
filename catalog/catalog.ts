import { z } from 'zod';
import { ConflictError, InvalidRequestError, NotFoundError } from '../platform/errors.js';
import { LimitExceededError } from '../platform/limits.js';
import type { Logger } from '../platform/logger.js';
import { createSerialQueue } from '../platform/serial.js';
import { defineQuery, insertRows, type Store } from '../platform/store.js';
import { fromClickHouseTime, parseRfc3339, toClickHouseTime } from '../platform/time.js';
import {
  apiKeyMatches,
  hashApiKey,
  issueApiKey,
  keyIdOf,
  OPERATOR_KEY_ID,
  type ApiKeyScope,
} from './api-key.js';
import type {
  ApiKeyInput,
  ApiKeyIssued,
  ApiKeyView,
  Customer,
  CustomerInput,
  Meter,
  MeterInput,
  TenantInput,
} from './schemas.js';
import { AGGREGATIONS } from './schemas.js';

/** The rows the catalog writes, one schema per table. */
const apiKeyInsertRow = z.object({
  key_id: z.string(),
  tenant_id: z.string(),
  secret_hash: z.string(),
  scope: z.string(),
  customer_id: z.string(),
  operator: z.number(),
  created_at: z.string(),
  revoked_at: z.string().nullable(),
  expires_at: z.string().nullable(),
  version: z.number(),
});

const keyUseInsertRow = z.object({ tenant_id: z.string(), key_id: z.string(), last_used_at: z.string() });

const tenantInsertRow = z.object({ id: z.string(), name: z.string(), operations_email: z.string(), created_at: z.string() });

const meterInsertRow = z.object({
  tenant_id: z.string(),
  key: z.string(),
  name: z.string(),
  event_type: z.string(),
  aggregation: z.string(),
  value_property: z.string(),
  group_by: z.string(),
  created_at: z.string(),
});

/** A customers row as written (the bench seeds customers with it too). */
export const customerInsertRow = z.object({
  tenant_id: z.string(),
  id: z.string(),
  name: z.string(),
  timezone: z.string(),
  currency: z.string(),
  billing_anchor_day: z.number(),
  subjects: z.array(z.string()),
  billing_contacts: z.array(z.string()),
  created_at: z.string(),
});

/** Who is calling: resolved from an API key, and the only source of a request's tenant. */
export interface Principal {
  readonly tenantId: string;
  readonly keyId: string;
  readonly scope: ApiKeyScope;
  /** Set for read keys bound to one customer. */
  readonly customerId?: string;
  /** The operator key may create tenants. */
  readonly operator: boolean;
}

/** The outcome of presenting a key: who is calling, or why the key is refused (a 401). */
export type Authentication = { readonly principal: Principal } | { readonly refused: string };

const keyRow = z.object({
  key_id: z.string(),
  tenant_id: z.string(),
  secret_hash: z.string(),
  scope: z.enum(['admin', 'ingest', 'read']),
  customer_id: z.string(),
  operator: z.coerce.number(),
  created_at: z.string(),
  revoked_at: z.string().nullable(),
  expires_at: z.string().nullable(),
  version: z.coerce.number(),
});
type KeyRow = z.infer<typeof keyRow>;

const KEY_COLUMNS = 'key_id, tenant_id, secret_hash, scope, customer_id, operator, created_at, revoked_at, expires_at, version';

const findKey = defineQuery({
  name: 'catalog.findKey',
  sql: (t) => `SELECT ${KEY_COLUMNS} FROM ${t('api_keys')} FINAL WHERE key_id = {keyId:String}`,
  params: z.object({ keyId: z.string() }),
  row: keyRow,
});

const listKeysQuery = defineQuery({
  name: 'catalog.listKeys',
  sql: (t) => `SELECT ${KEY_COLUMNS} FROM ${t('api_keys')} FINAL WHERE tenant_id = {tenantId:String} ORDER BY created_at, key_id`,
  params: z.object({ tenantId: z.string() }),
  row: keyRow,
});

const keyUsageQuery = defineQuery({
  name: 'catalog.keyUsage',
  sql: (t) => `SELECT key_id, toString(max(last_used_at)) AS last_used_at FROM ${t('api_key_usage')}
    WHERE tenant_id = {tenantId:String} GROUP BY key_id`,
  params: z.object({ tenantId: z.string() }),
  row: z.object({ key_id: z.string(), last_used_at: z.string() }),
});

/** How often a process writes the last use of the keys it saw: one insert for all of them, never one per request. */
export const KEY_USE_FLUSH_MS = 10_000;

function isoOf(text: string | null): string | undefined {
  return text === null ? undefined : fromClickHouseTime(text).toISOString();
}

const findTenant = defineQuery({
  name: 'catalog.findTenant',
  sql: (t) => `SELECT id, name, operations_email FROM ${t('tenants')} FINAL WHERE id = {id:String}`,
  params: z.object({ id: z.string() }),
  row: z.object({ id: z.string(), name: z.string(), operations_email: z.string() }),
});

const meterRow = z.object({
  key: z.string(),
  name: z.string(),
  event_type: z.string(),
  aggregation: z.enum(AGGREGATIONS),
  value_property: z.string(),
  group_by: z.string(),
  created_at: z.string(),
});

const listMetersQuery = defineQuery({
  name: 'catalog.listMeters',
  sql: (t) => `SELECT key, name, event_type, aggregation, value_property, group_by, created_at
    FROM ${t('meters')} FINAL WHERE tenant_id = {tenantId:String} ORDER BY key`,
  params: z.object({ tenantId: z.string() }),
  row: meterRow,
});

const customerRow = z.object({
  id: z.string(),
  name: z.string(),
  timezone: z.string(),
  currency: z.string(),
  billing_anchor_day: z.coerce.number(),
  subjects: z.array(z.string()),
  billing_contacts: z.array(z.string()),
  created_at: z.string(),
});

const findCustomerQuery = defineQuery({
  name: 'catalog.findCustomer',
  sql: (t) => `SELECT id, name, timezone, currency, billing_anchor_day, subjects, billing_contacts, created_at
    FROM ${t('customers')} FINAL WHERE tenant_id = {tenantId:String} AND id = {id:String}`,
  params: z.object({ tenantId: z.string(), id: z.string() }),
  row: customerRow,
});

const allSubjectOwners = defineQuery({
  name: 'catalog.allSubjectOwners',
  sql: (t) => `SELECT id, subject FROM ${t('customers')} FINAL ARRAY JOIN subjects AS subject
    WHERE tenant_id = {tenantId:String}`,
  params: z.object({ tenantId: z.string() }),
  row: z.object({ id: z.string(), subject: z.string() }),
});

const listCustomersQuery = defineQuery({
  name: 'catalog.listCustomers',
  sql: (t) => `SELECT id, name, timezone, currency, billing_anchor_day, subjects, billing_contacts, created_at
    FROM ${t('customers')} FINAL WHERE tenant_id = {tenantId:String} ORDER BY id`,
  params: z.object({ tenantId: z.string() }),
  row: customerRow,
});

/** One page of customers in id order, read one past the page so the caller knows whether more follow. */
const customersPageQuery = defineQuery({
  name: 'catalog.customersPage',
  sql: (t) => `SELECT id, name, timezone, currency, billing_anchor_day, subjects, billing_contacts, created_at
    FROM ${t('customers')} FINAL WHERE tenant_id = {tenantId:String} AND id > {after:String} ORDER BY id LIMIT {limit:UInt32}`,
  params: z.object({ tenantId: z.string(), after: z.string(), limit: z.number().int().min(1) }),
  row: customerRow,
});

const subjectOwners = defineQuery({
  name: 'catalog.subjectOwners',
  sql: (t) => `SELECT id, subject FROM ${t('customers')} FINAL ARRAY JOIN subjects AS subject
    WHERE tenant_id = {tenantId:String} AND subject IN {subjects:Array(String)}`,
  params: z.object({ tenantId: z.string(), subjects: z.array(z.string()) }),
  row: z.object({ id: z.string(), subject: z.string() }),
});

function toMeter(row: z.infer<typeof meterRow>): Meter {
  return {
    key: row.key,
    name: row.name,
    eventType: row.event_type,
    aggregation: row.aggregation,
    ...(row.value_property ? { valueProperty: row.value_property } : {}),
    groupBy: z.record(z.string(), z.string()).parse(JSON.parse(row.group_by)),
    createdAt: fromClickHouseTime(row.created_at).toISOString(),
  };
}

function toCustomer(row: z.infer<typeof customerRow>): Customer {
  return {
    id: row.id,
    name: row.name,
    timezone: row.timezone,
    currency: row.currency,
    billingAnchorDay: row.billing_anchor_day,
    subjects: row.subjects,
    billingContacts: row.billing_contacts,
    createdAt: fromClickHouseTime(row.created_at).toISOString(),
  };
}

interface Cached<T> {
  readonly at: number;
  readonly value: T;
}

export interface CatalogDeps {
  readonly store: Store;
  readonly log: Logger;
  /** How long another process's catalog writes (a revoked key among them) may take to be seen here. */
  readonly cacheTtlMs: number;
  /** How long the last use of keys is gathered before it is written. */
  readonly keyUseFlushMs?: number;
  readonly now?: () => number;
}

export type Catalog = ReturnType<typeof buildCatalog>;

export function buildCatalog({ store, log, cacheTtlMs, keyUseFlushMs = KEY_USE_FLUSH_MS, now = Date.now }: CatalogDeps) {
  const serially = createSerialQueue();
  // Last uses not yet written, by key id; the newest use of each key wins.
  const pendingUse = new Map<string, { readonly tenantId: string; readonly at: number }>();
  let useTimer: NodeJS.Timeout | undefined;
  let useFlush: Promise<void> = Promise.resolve();
  // Keys revoked by this process: refused here at once, even if a read that began before the
  // revocation puts the old row back into the cache.
  const revokedHere = new Set<string>();
  const keyCache = new Map<string, Cached<KeyRow | undefined>>();
  const meterCache = new Map<string, Cached<Meter[]>>();
  const ownerCache = new Map<string, Cached<Map<string, string>>>();
  const tenantCache = new Map<string, Cached<boolean>>();

  const fresh = <T>(entry: Cached<T> | undefined): entry is Cached<T> =>
    entry !== undefined && now() - entry.at < cacheTtlMs;

  async function keyRecord(keyId: string): Promise<KeyRow | undefined> {
    const cached = keyCache.get(keyId);
    if (fresh(cached)) return cached.value;
    const [row] = await findKey(store, { keyId });
    keyCache.set(keyId, { at: now(), value: row });
    if (keyCache.size > 10_000) keyCache.delete(keyCache.keys().next().value as string);
    return row;
  }

  async function insertKey(tenantId: string, scope: ApiKeyScope, customerId: string | undefined, operator = false, expiresAt?: Date) {
    const issued = issueApiKey();
    const keyId = operator ? OPERATOR_KEY_ID : issued.keyId;
    await insertRows(store, 'api_keys', apiKeyInsertRow, [
      {
        key_id: keyId,
        tenant_id: tenantId,
        secret_hash: hashApiKey(issued.token),
        scope,
        customer_id: customerId ?? '',
        operator: operator ? 1 : 0,
        created_at: toClickHouseTime(new Date(now())),
        revoked_at: null,
        expires_at: expiresAt ? toClickHouseTime(expiresAt) : null,
        version: now(),
      },
    ]);
    keyCache.delete(keyId);
    return { keyId, token: issued.token };
  }

  function scheduleUseFlush(): void {
    if (useTimer || pendingUse.size === 0) return;
    useTimer = setTimeout(() => {
      useTimer = undefined;
      void flushKeyUse();
    }, keyUseFlushMs);
    // Pending uses are flushed on close; the timer alone must not keep a process alive.
    useTimer.unref();
  }

  /** Writes the gathered last uses in one insert; on failure they wait for the next flush. */
  function flushKeyUse(): Promise<void> {
    useFlush = useFlush.then(async () => {
      if (pendingUse.size === 0) return;
      const batch = [...pendingUse];
      pendingUse.clear();
      try {
        await insertRows(
          store,
          'api_key_usage',
          keyUseInsertRow,
          batch.map(([keyId, use]) => ({ tenant_id: use.tenantId, key_id: keyId, last_used_at: toClickHouseTime(new Date(use.at)) })),
        );
      } catch (error) {
        for (const [keyId, use] of batch) if (!pendingUse.has(keyId)) pendingUse.set(keyId, use);
        log.warn({ err: error, keys: batch.length }, 'could not record when keys were last used; will try again');
        scheduleUseFlush();
      }
    });
    return useFlush;
  }

  function keyView(row: KeyRow, lastUsedAt: string | undefined): ApiKeyView {
    const revokedAt = isoOf(row.revoked_at);
    const expiresAt = isoOf(row.expires_at);
    return {
      id: row.key_id,
      scope: row.scope,
      ...(row.customer_id ? { customerId: row.customer_id } : {}),
      operator: row.operator === 1,
      createdAt: fromClickHouseTime(row.created_at).toISOString(),
      ...(lastUsedAt !== undefined ? { lastUsedAt } : {}),
      ...(expiresAt !== undefined ? { expiresAt } : {}),
      ...(revokedAt !== undefined ? { revokedAt } : {}),
      status: revokedAt !== undefined ? 'revoked' : expiresAt !== undefined && Date.parse(expiresAt) <= now() ? 'expired' : 'active',
    };
  }

  async function requireTenant(id: string): Promise<void> {
    const [tenant] = await findTenant(store, { id });
    if (!tenant) throw new NotFoundError(`tenant ${id} not found`);
  }

  async function listMeters(tenantId: string): Promise<Meter[]> {
    const cached = meterCache.get(tenantId);
    if (fresh(cached)) return cached.value;
    const meters = (await listMetersQuery(store, { tenantId })).map(toMeter);
    meterCache.set(tenantId, { at: now(), value: meters });
    return meters;
  }

  return {
    /**
     * Resolves a presented key to its principal, or says why it is refused. Revoked and expired
     * are named only to a caller that presented the key's secret; any other key is "not valid".
     */
    async authenticate(token: string): Promise<Authentication> {
      // The operator's key lives under a fixed id, whatever its text (it may come from config).
      let record: KeyRow | undefined;
      for (const keyId of new Set([keyIdOf(token) ?? OPERATOR_KEY_ID, OPERATOR_KEY_ID])) {
        const candidate = await keyRecord(keyId);
        if (candidate && apiKeyMatches(token, candidate.secret_hash)) {
          record = candidate;
          break;
        }
      }
      if (!record) return { refused: 'the API key is not valid' };
      if (record.revoked_at !== null || revokedHere.has(record.key_id)) return { refused: 'the API key was revoked' };
      // Judged on every request, not when the row was cached: an expired key stops at its instant.
      if (record.expires_at !== null && fromClickHouseTime(record.expires_at).getTime() <= now()) {
        return { refused: `the API key expired at ${fromClickHouseTime(record.expires_at).toISOString()}` };
      }
      pendingUse.set(record.key_id, { tenantId: record.tenant_id, at: now() });
      scheduleUseFlush();
      return {
        principal: {
          tenantId: record.tenant_id,
          keyId: record.key_id,
          scope: record.scope,
          ...(record.customer_id ? { customerId: record.customer_id } : {}),
          operator: record.operator === 1,
        },
      };
    },

    /**
     * Makes sure the default tenant and the operator key exist. A configured key replaces the
     * stored hash; with none configured and none stored, a key is generated and returned once.
     */
    async ensureOperator(defaultTenant: string, configuredKey: string | undefined): Promise<{ generatedKey?: string }> {
      return serially(async () => {
        const [tenant] = await findTenant(store, { id: defaultTenant });
        if (!tenant) {
          await insertRows(store, 'tenants', tenantInsertRow, [
            { id: defaultTenant, name: defaultTenant, operations_email: '', created_at: toClickHouseTime(new Date(now())) },
          ]);
        }
        const [existing] = await findKey(store, { keyId: OPERATOR_KEY_ID });
        if (configuredKey !== undefined) {
          if (!existing || !apiKeyMatches(configuredKey, existing.secret_hash) || existing.tenant_id !== defaultTenant) {
            await insertRows(store, 'api_keys', apiKeyInsertRow, [
              {
                key_id: OPERATOR_KEY_ID,
                tenant_id: defaultTenant,
                secret_hash: hashApiKey(configuredKey),
                scope: 'admin',
                customer_id: '',
                operator: 1,
                created_at: toClickHouseTime(new Date(now())),
                revoked_at: null,
                expires_at: null,
                version: now(),
              },
            ]);
            keyCache.delete(OPERATOR_KEY_ID);
            log.info('operator key set from METERLINE_ADMIN_KEY');
          }
          return {};
        }
        if (existing) return {};
        const { token } = await insertKey(defaultTenant, 'admin', undefined, true);
        return { generatedKey: token };
      });
    },

    async createTenant(input: TenantInput): Promise<{ tenant: TenantInput; key: ApiKeyIssued }> {
      return serially(async () => {
        const [existing] = await findTenant(store, { id: input.id });
        if (existing) throw new ConflictError(`tenant ${input.id} already exists`);
        await insertRows(store, 'tenants', tenantInsertRow, [
          { id: input.id, name: input.name, operations_email: input.operationsEmail ?? '', created_at: toClickHouseTime(new Date(now())) },
        ]);
        const { keyId, token } = await insertKey(input.id, 'admin', undefined);
        tenantCache.delete(input.id);
        return { tenant: input, key: { id: keyId, key: token, scope: 'admin', tenantId: input.id } };
      });
    },

    async createApiKey(tenantId: string, input: ApiKeyInput): Promise<ApiKeyIssued> {
      if (input.customerId !== undefined && input.scope !== 'read') {
        throw new InvalidRequestError('only read keys are bound to a customer', 'customerId');
      }
      if (input.customerId !== undefined) {
        const [customer] = await findCustomerQuery(store, { tenantId, id: input.customerId });
        if (!customer) throw new NotFoundError(`customer ${input.customerId} not found`);
      }
      const expiresAt = input.expiresAt !== undefined ? parseRfc3339(input.expiresAt) : undefined;
      if (input.expiresAt !== undefined && (!expiresAt || expiresAt.getTime() <= now())) {
        throw new InvalidRequestError('expiresAt must be a future RFC 3339 date-time', 'expiresAt');
      }
      await requireTenant(tenantId);
      const { keyId, token } = await insertKey(tenantId, input.scope, input.customerId, false, expiresAt);
      return {
        id: keyId,
        key: token,
        scope: input.scope,
        tenantId,
        ...(input.customerId !== undefined ? { customerId: input.customerId } : {}),
        ...(expiresAt ? { expiresAt: expiresAt.toISOString() } : {}),
      };
    },

    /** The tenant's keys (never their secrets), with when each was last used as far as this process knows. */
    async listApiKeys(tenantId: string): Promise<ApiKeyView[]> {
      const [rows, usage] = await Promise.all([listKeysQuery(store, { tenantId }), keyUsageQuery(store, { tenantId })]);
      const lastUsed = new Map(usage.map((row) => [row.key_id, fromClickHouseTime(row.last_used_at).getTime()]));
      for (const [keyId, use] of pendingUse) {
        if (use.tenantId === tenantId && use.at > (lastUsed.get(keyId) ?? -Infinity)) lastUsed.set(keyId, use.at);
      }
      return rows.map((row) => {
        const at = lastUsed.get(row.key_id);
        return keyView(row, at !== undefined ? new Date(at).toISOString() : undefined);
      });
    },

    /**
     * Revokes a key: it answers 401 at once in this process, and in others once their cached copy
     * is older than the cache time. Revoking a revoked key changes nothing.
     */
    async revokeApiKey(tenantId: string, keyId: string): Promise<ApiKeyView> {
      return serially(async () => {
        const [row] = await findKey(store, { keyId });
        if (!row || row.tenant_id !== tenantId) throw new NotFoundError(`API key ${keyId} not found`);
        if (row.operator === 1) throw new ConflictError('the operator key is not revoked but replaced: restart with a new METERLINE_ADMIN_KEY');
        let current = row;
        if (row.revoked_at === null) {
          if (row.scope === 'admin') {
            // A tenant without a working admin key could never issue another one.
            const others = (await listKeysQuery(store, { tenantId })).filter(
              (other) =>
                other.key_id !== keyId &&
                other.scope === 'admin' &&
                other.revoked_at === null &&
                !revokedHere.has(other.key_id) &&
                (other.expires_at === null || fromClickHouseTime(other.expires_at).getTime() > now()),
            );
            if (others.length === 0) throw new ConflictError("this is the tenant's last working admin key: issue another admin key before revoking it");
          }
          const revokedAt = toClickHouseTime(new Date(now()));
          current = { ...row, revoked_at: revokedAt, version: Math.max(now(), row.version + 1) };
          await insertRows(store, 'api_keys', apiKeyInsertRow, [
            {
              key_id: current.key_id,
              tenant_id: current.tenant_id,
              secret_hash: current.secret_hash,
              scope: current.scope,
              customer_id: current.customer_id,
              operator: current.operator,
              created_at: toClickHouseTime(fromClickHouseTime(current.created_at)),
              revoked_at: revokedAt,
              expires_at: current.expires_at === null ? null : toClickHouseTime(fromClickHouseTime(current.expires_at)),
              version: current.version,
            },
          ]);
        }
        revokedHere.add(keyId);
        keyCache.set(keyId, { at: now(), value: current });
        return keyView(current, undefined);
      });
    },

    /** Writes what is pending; the catalog keeps working afterwards (a later use schedules a new flush). */
    async close(): Promise<void> {
      if (useTimer) clearTimeout(useTimer);
      useTimer = undefined;
      await flushKeyUse();
    },

    /** Defines a meter; past maxMeters of the tenant's it answers LimitExceededError. */
    async createMeter(tenantId: string, input: MeterInput, maxMeters = Number.POSITIVE_INFINITY): Promise<Meter> {
      return serially(async () => {
        meterCache.delete(tenantId);
        const existing = await listMeters(tenantId);
        if (existing.some((meter) => meter.key === input.key)) {
          throw new ConflictError(`meter ${input.key} already exists`);
        }
        if (existing.length >= maxMeters) {
          throw new LimitExceededError('maxMeters', maxMeters, `the tenant has ${existing.length} meters, the most it may define`, 'body.key');
        }
        const createdAt = new Date(now());
        await insertRows(store, 'meters', meterInsertRow, [
          {
            tenant_id: tenantId,
            key: input.key,
            name: input.name,
            event_type: input.eventType,
            aggregation: input.aggregation,
            value_property: input.valueProperty ?? '',
            group_by: JSON.stringify(input.groupBy),
            created_at: toClickHouseTime(createdAt),
          },
        ]);
        meterCache.delete(tenantId);
        return {
          key: input.key,
          name: input.name,
          eventType: input.eventType,
          aggregation: input.aggregation,
          ...(input.valueProperty !== undefined ? { valueProperty: input.valueProperty } : {}),
          groupBy: input.groupBy,
          createdAt: createdAt.toISOString(),
        };
      });
    },

    listMeters,

    /** Which customer owns each subject of a tenant (cached like meters). */
    async subjectOwners(tenantId: string): Promise<ReadonlyMap<string, string>> {
      const cached = ownerCache.get(tenantId);
      if (fresh(cached)) return cached.value;
      const owners = new Map((await allSubjectOwners(store, { tenantId })).map((row) => [row.subject, row.id]));
      ownerCache.set(tenantId, { at: now(), value: owners });
      return owners;
    },

    /** The tenant's operations address, if it gave one. */
    async operationsEmail(tenantId: string): Promise<string | undefined> {
      const [tenant] = await findTenant(store, { id: tenantId });
      return tenant?.operations_email ? tenant.operations_email : undefined;
    },

    async tenantExists(id: string): Promise<boolean> {
      const cached = tenantCache.get(id);
      if (fresh(cached)) return cached.value;
      const exists = (await findTenant(store, { id })).length > 0;
      tenantCache.set(id, { at: now(), value: exists });
      return exists;
    },

    async getMeter(tenantId: string, key: string): Promise<Meter> {
      const meter = (await listMeters(tenantId)).find((candidate) => candidate.key === key);
      if (!meter) throw new NotFoundError(`meter ${key} not found`);
      return meter;
    },

    async createCustomer(tenantId: string, input: CustomerInput): Promise<Customer> {
      return serially(async () => {
        const [existing] = await findCustomerQuery(store, { tenantId, id: input.id });
        if (existing) throw new ConflictError(`customer ${input.id} already exists`);
        const subjects = input.subjects ?? [input.id];
        const owners = await subjectOwners(store, { tenantId, subjects });
        if (owners.length > 0) {
          const taken = owners.map((owner) => `${owner.subject} (customer ${owner.id})`).join(', ');
          throw new ConflictError(`subjects already belong to another customer: ${taken}`);
        }
        const createdAt = new Date(now());
        await insertRows(store, 'customers', customerInsertRow, [
          {
            tenant_id: tenantId,
            id: input.id,
            name: input.name,
            timezone: input.timezone,
            currency: input.currency,
            billing_anchor_day: input.billingAnchorDay,
            subjects,
            billing_contacts: input.billingContacts,
            created_at: toClickHouseTime(createdAt),
          },
        ]);
        ownerCache.delete(tenantId);
        return {
          id: input.id,
          name: input.name,
          timezone: input.timezone,
          currency: input.currency,
          billingAnchorDay: input.billingAnchorDay,
          subjects,
          billingContacts: input.billingContacts,
          createdAt: createdAt.toISOString(),
        };
      });
    },

    /** Customers with ids after `after` in id order, at most `limit`, and whether more follow. */
    async customersPage(tenantId: string, after: string, limit: number): Promise<{ customers: Customer[]; more: boolean }> {
      const rows = await customersPageQuery(store, { tenantId, after, limit: limit + 1 });
      return { customers: rows.slice(0, limit).map(toCustomer), more: rows.length > limit };
    },

    async listCustomers(tenantId: string): Promise<Customer[]> {
      return (await listCustomersQuery(store, { tenantId })).map(toCustomer);
    },

    async getCustomer(tenantId: string, id: string): Promise<Customer> {
      const [row] = await findCustomerQuery(store, { tenantId, id });
      if (!row) throw new NotFoundError(`customer ${id} not found`);
      return toCustomer(row);
    },
  };
}
