import { z } from 'zod';
import { ConflictError, InvalidRequestError, NotFoundError } from '../platform/errors.js';
import { LimitExceededError } from '../platform/limits.js';
import type { Logger } from '../platform/logger.js';
import { createSerialQueue } from '../platform/serial.js';
import { defineQuery, insertRows, type Store } from '../platform/store.js';
import { fromClickHouseTime, toClickHouseTime } from '../platform/time.js';
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
  Customer,
  CustomerInput,
  Meter,
  MeterInput,
  TenantInput,
} from './schemas.js';
import { AGGREGATIONS } from './schemas.js';

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

const keyRow = z.object({
  key_id: z.string(),
  tenant_id: z.string(),
  secret_hash: z.string(),
  scope: z.enum(['admin', 'ingest', 'read']),
  customer_id: z.string(),
  operator: z.coerce.number(),
  revoked_at: z.string().nullable(),
});
type KeyRow = z.infer<typeof keyRow>;

const findKey = defineQuery({
  name: 'catalog.findKey',
  sql: (t) => `SELECT key_id, tenant_id, secret_hash, scope, customer_id, operator, revoked_at
    FROM ${t('api_keys')} FINAL WHERE key_id = {keyId:String}`,
  params: z.object({ keyId: z.string() }),
  row: keyRow,
});

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
  /** How long another process's catalog writes may take to be seen here. */
  readonly cacheTtlMs: number;
  readonly now?: () => number;
}

export type Catalog = ReturnType<typeof buildCatalog>;

export function buildCatalog({ store, log, cacheTtlMs, now = Date.now }: CatalogDeps) {
  const serially = createSerialQueue();
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

  async function insertKey(tenantId: string, scope: ApiKeyScope, customerId: string | undefined, operator = false) {
    const issued = issueApiKey();
    const keyId = operator ? OPERATOR_KEY_ID : issued.keyId;
    await insertRows(store, 'api_keys', [
      {
        key_id: keyId,
        tenant_id: tenantId,
        secret_hash: hashApiKey(issued.token),
        scope,
        customer_id: customerId ?? '',
        operator: operator ? 1 : 0,
        created_at: toClickHouseTime(new Date(now())),
        revoked_at: null,
        version: now(),
      },
    ]);
    keyCache.delete(keyId);
    return { keyId, token: issued.token };
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
    /** Resolves a presented key to its principal; undefined for unknown, revoked or wrong keys. */
    async authenticate(token: string): Promise<Principal | undefined> {
      // The operator's key lives under a fixed id, whatever its text (it may come from config).
      let record: KeyRow | undefined;
      for (const keyId of new Set([keyIdOf(token) ?? OPERATOR_KEY_ID, OPERATOR_KEY_ID])) {
        const candidate = await keyRecord(keyId);
        if (candidate && candidate.revoked_at === null && apiKeyMatches(token, candidate.secret_hash)) {
          record = candidate;
          break;
        }
      }
      if (!record) return undefined;
      return {
        tenantId: record.tenant_id,
        keyId: record.key_id,
        scope: record.scope,
        ...(record.customer_id ? { customerId: record.customer_id } : {}),
        operator: record.operator === 1,
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
          await insertRows(store, 'tenants', [
            { id: defaultTenant, name: defaultTenant, created_at: toClickHouseTime(new Date(now())) },
          ]);
        }
        const [existing] = await findKey(store, { keyId: OPERATOR_KEY_ID });
        if (configuredKey !== undefined) {
          if (!existing || !apiKeyMatches(configuredKey, existing.secret_hash) || existing.tenant_id !== defaultTenant) {
            await insertRows(store, 'api_keys', [
              {
                key_id: OPERATOR_KEY_ID,
                tenant_id: defaultTenant,
                secret_hash: hashApiKey(configuredKey),
                scope: 'admin',
                customer_id: '',
                operator: 1,
                created_at: toClickHouseTime(new Date(now())),
                revoked_at: null,
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
        await insertRows(store, 'tenants', [
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
      await requireTenant(tenantId);
      const { keyId, token } = await insertKey(tenantId, input.scope, input.customerId);
      return {
        id: keyId,
        key: token,
        scope: input.scope,
        tenantId,
        ...(input.customerId !== undefined ? { customerId: input.customerId } : {}),
      };
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
        await insertRows(store, 'meters', [
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
        await insertRows(store, 'customers', [
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
