import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { customerId, type Catalog } from '../catalog/index.js';
import { InvalidRequestError, NotFoundError } from '../platform/errors.js';
import type { NetworkPolicy } from '../platform/network-policy.js';
import { createSerialQueue } from '../platform/serial.js';
import { defineQuery, insertRows, type Store } from '../platform/store.js';
import { fromClickHouseTime, rowVersionClock, toClickHouseTime } from '../platform/time.js';
import { generateWebhookSecret } from './webhook-signature.js';

/** A webhook_endpoints row: one version of an endpoint (secret emptied once removed). */
const endpointInsertRow = z.object({
  tenant_id: z.string(),
  endpoint_id: z.string(),
  url: z.string(),
  customer_id: z.string(),
  secret: z.string(),
  disabled: z.number(),
  disabled_reason: z.string(),
  created_at: z.string(),
  updated_at: z.string(),
  version: z.number(),
});

export const webhookEndpointInput = z.object({
  url: z
    .url({ protocol: /^https?$/ })
    .max(2000)
    .refine((url) => {
      const parsed = URL.parse(url);
      return parsed === null || (parsed.username === '' && parsed.password === '');
    }, 'a webhook URL may not carry credentials (user:password@); authenticate the messages by their signature')
    .describe(
      'Where alert messages are POSTed, signed by the Standard Webhooks convention. Loopback, link-local, private, unique-local, multicast and unspecified addresses are refused unless the operator allows their network.',
    ),
  customerId: customerId.optional().describe("Absent: every customer's alerts; present: only that customer's."),
  description: z.string().max(200).optional(),
});
export type WebhookEndpointInput = z.infer<typeof webhookEndpointInput>;

export const webhookEndpointView = z.object({
  id: z.string(),
  url: z.string(),
  customerId: z.string().optional(),
  disabled: z.boolean(),
  disabledReason: z.string().optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type WebhookEndpointView = z.infer<typeof webhookEndpointView>;

export interface WebhookEndpoint extends WebhookEndpointView {
  /** The signing secret; shown to the client once, at creation. */
  readonly secret: string;
}

const endpointRow = z.object({
  endpoint_id: z.string(),
  url: z.string(),
  customer_id: z.string(),
  secret: z.string(),
  disabled: z.coerce.number(),
  disabled_reason: z.string(),
  created_at: z.string(),
  updated_at: z.string(),
  version: z.coerce.number(),
});

const endpointsQuery = defineQuery({
  name: 'alerts.webhookEndpoints',
  sql: (t) => `SELECT endpoint_id, url, customer_id, secret, disabled, disabled_reason,
      toString(created_at) AS created_at, toString(updated_at) AS updated_at, version
    FROM ${t('webhook_endpoints')} FINAL WHERE tenant_id = {tenantId:String} ORDER BY created_at, endpoint_id`,
  params: z.object({ tenantId: z.string() }),
  row: endpointRow,
});

const endpointQuery = defineQuery({
  name: 'alerts.webhookEndpoint',
  sql: (t) => `SELECT endpoint_id, url, customer_id, secret, disabled, disabled_reason,
      toString(created_at) AS created_at, toString(updated_at) AS updated_at, version
    FROM ${t('webhook_endpoints')} FINAL WHERE tenant_id = {tenantId:String} AND endpoint_id = {id:String}`,
  params: z.object({ tenantId: z.string(), id: z.string() }),
  row: endpointRow,
});

function toEndpoint(row: z.infer<typeof endpointRow>): WebhookEndpoint {
  return {
    id: row.endpoint_id,
    url: row.url,
    ...(row.customer_id ? { customerId: row.customer_id } : {}),
    disabled: row.disabled === 1,
    ...(row.disabled_reason ? { disabledReason: row.disabled_reason } : {}),
    createdAt: fromClickHouseTime(row.created_at).toISOString(),
    updatedAt: fromClickHouseTime(row.updated_at).toISOString(),
    secret: row.secret,
  };
}

/** The public view: everything but the secret. */
export function endpointView(endpoint: WebhookEndpoint): WebhookEndpointView {
  const { secret: _secret, ...view } = endpoint;
  return view;
}

export interface WebhookEndpointsDeps {
  readonly store: Store;
  readonly catalog: Pick<Catalog, 'getCustomer'>;
  /** Which addresses an endpoint may point at; registration refuses the others. */
  readonly networkPolicy: Pick<NetworkPolicy, 'checkUrl'>;
  readonly now?: () => number;
}

/** A removed endpoint is a last row with this version: reads skip it, and no later write can revive it. */
const REMOVED = Number.MAX_SAFE_INTEGER;

/**
 * Webhook endpoints. The secret signs messages, so it is kept as given (a hash could not sign);
 * it is never logged and never shown after creation; removing an endpoint erases it.
 */
export function buildWebhookEndpoints({ store, catalog, networkPolicy, now = Date.now }: WebhookEndpointsDeps) {
  const serially = createSerialQueue();
  const nextVersion = rowVersionClock(now);

  async function write(tenantId: string, endpoint: WebhookEndpoint, removed = false): Promise<void> {
    await insertRows(store, 'webhook_endpoints', endpointInsertRow, [
      {
        tenant_id: tenantId,
        endpoint_id: endpoint.id,
        url: endpoint.url,
        customer_id: endpoint.customerId ?? '',
        secret: removed ? '' : endpoint.secret,
        disabled: endpoint.disabled ? 1 : 0,
        disabled_reason: endpoint.disabledReason ?? '',
        created_at: toClickHouseTime(new Date(endpoint.createdAt)),
        updated_at: toClickHouseTime(new Date(now())),
        version: removed ? REMOVED : nextVersion(),
      },
    ]);
  }

  async function get(tenantId: string, id: string): Promise<WebhookEndpoint> {
    const [row] = await endpointQuery(store, { tenantId, id });
    if (!row || row.version === REMOVED) throw new NotFoundError(`webhook endpoint ${id} not found`);
    return toEndpoint(row);
  }

  return {
    async create(tenantId: string, input: WebhookEndpointInput): Promise<WebhookEndpoint> {
      // Checked here as well as on every connection: a tenant learns of a bad URL when it registers it.
      const refused = await networkPolicy.checkUrl(input.url);
      if (refused !== undefined) throw new InvalidRequestError(`url: ${refused}`, 'url');
      if (input.customerId !== undefined) await catalog.getCustomer(tenantId, input.customerId);
      const at = new Date(now()).toISOString();
      const endpoint: WebhookEndpoint = {
        id: `we_${randomBytes(8).toString('hex')}`,
        url: input.url,
        ...(input.customerId !== undefined ? { customerId: input.customerId } : {}),
        disabled: false,
        createdAt: at,
        updatedAt: at,
        secret: generateWebhookSecret(),
      };
      await write(tenantId, endpoint);
      return endpoint;
    },

    /** Live endpoints of the tenant, with their secrets (for signing; never answer these to a client). */
    async list(tenantId: string): Promise<WebhookEndpoint[]> {
      return (await endpointsQuery(store, { tenantId })).filter((row) => row.version !== REMOVED).map(toEndpoint);
    },

    get,

    /** Re-enables (or disables) an endpoint by hand. */
    async setDisabled(tenantId: string, id: string, disabled: boolean, reason: string): Promise<WebhookEndpoint> {
      return serially(async () => {
        const endpoint = await get(tenantId, id);
        const { disabledReason: _previous, ...rest } = endpoint;
        const updated: WebhookEndpoint = { ...rest, disabled, ...(disabled ? { disabledReason: reason } : {}) };
        await write(tenantId, updated);
        return updated;
      });
    },

    async remove(tenantId: string, id: string): Promise<void> {
      await serially(async () => {
        const endpoint = await get(tenantId, id);
        await write(tenantId, endpoint, true);
      });
    },
  };
}

export type WebhookEndpoints = ReturnType<typeof buildWebhookEndpoints>;
