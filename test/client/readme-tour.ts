/**
 * The README's five-minute tour, written against a client generated from the live OpenAPI
 * document (openapi-typescript types + openapi-fetch). The interop test generates
 * `meterline-api.ts` beside a copy of this file, compiles both with tsc (strict) and runs the
 * result: a change that breaks the document or the tour's calls fails the compile or the run.
 * Prints the figures the README shows, as one JSON line.
 */
import createClient from 'openapi-fetch';
import type { components, paths } from './meterline-api.js';

const { ML, KEY, WEBHOOK_URL } = process.env;
if (!ML || !KEY || !WEBHOOK_URL) throw new Error('set ML, KEY and WEBHOOK_URL');

const client = createClient<paths>({ baseUrl: ML, headers: { authorization: `Bearer ${KEY}` } });

/** The data of a successful answer; anything else stops the tour with the answer's text. */
function ok<T>(step: string, result: { data?: T; error?: unknown; response: Response }): T {
  if (result.data === undefined || !result.response.ok) {
    throw new Error(`${step}: HTTP ${result.response.status} ${JSON.stringify(result.error)}`);
  }
  return result.data;
}

const largeCall: components['schemas']['CloudEvent'] = { specversion: '1.0', id: 'evt-1', source: 'gateway-7', type: 'llm.call', subject: 'acme', data: { tokens: '1250', model: 'large' } };

// 1. A meter: sum the tokens of every llm.call event, split by model.
ok('meter', await client.POST('/v1/meters', {
  body: { key: 'tokens', name: 'LLM tokens', eventType: 'llm.call', aggregation: 'SUM', valueProperty: '$.tokens', groupBy: { model: '$.model' } },
}));

// 2. A customer, billed monthly from the 1st in its own time zone.
ok('customer', await client.POST('/v1/customers', {
  body: { id: 'acme', name: 'Acme Ltd', timezone: 'Asia/Kathmandu', currency: 'USD', billingAnchorDay: 1, subjects: ['acme', 'acme-eu'] },
}));

// 3. Events: a JSON array with a duplicate and a reject.
const ingested = ok('events', await client.POST('/v1/events', {
  body: [
    largeCall,
    { specversion: '1.0', id: 'evt-2', source: 'gateway-7', type: 'llm.call', subject: 'acme-eu', data: { tokens: 310.5, model: 'small' } },
    largeCall,
    { specversion: '1.0', id: 'evt-3', source: 'gateway-7', type: 'llm.call', subject: 'acme', data: { tokens: 'lots' } },
  ],
}));

// 4. Usage in hourly windows of the customer's clock, split by model.
const windows = ok('query', await client.GET('/v1/meters/{key}/query', {
  params: { path: { key: 'tokens' }, query: { customerId: 'acme', windowSize: 'HOUR', windowTimeZone: 'Asia/Kathmandu', groupBy: ['model'] } },
}));

// 5. The customer's current billing period.
const usage = ok('usage', await client.GET('/v1/customers/{id}/usage', { params: { path: { id: 'acme' }, query: { period: 'current' } } }));

// 6. Keys for agents and for a customer portal.
const ingestKey = ok('ingest key', await client.POST('/v1/api-keys', { body: { scope: 'ingest' } }));
const portalKey = ok('portal key', await client.POST('/v1/api-keys', { body: { scope: 'read', customerId: 'acme' } }));

// 7. A plan and a contract: tokens at 0.002 USD each, since the 1st.
ok('plan', await client.POST('/v1/plans', {
  body: {
    key: 'llm', name: 'LLM', currency: 'USD', effectiveFrom: '2026-11-01T00:00:00Z',
    charges: [{ key: 'tokens', meter: 'tokens', price: { model: 'unit', unitAmount: '0.002' } }],
  },
}));
ok('contract', await client.PUT('/v1/customers/{id}/contract', { params: { path: { id: 'acme' } }, body: { plan: 'llm', startsAt: '2026-11-01T00:00:00Z' } }));
const charges = ok('charges', await client.GET('/v1/customers/{id}/charges', { params: { path: { id: 'acme' } } }));

// 8. Hear about spend: a webhook endpoint (its secret is shown once) and a rule.
const endpoint = ok('webhook endpoint', await client.POST('/v1/webhook-endpoints', { body: { url: WEBHOOK_URL } }));
ok('alert rule', await client.POST('/v1/alert-rules', {
  body: { kind: 'spend_threshold', thresholds: ['2', '100'], recurringStep: '100', channels: ['webhook'] },
}));
ok('event 4', await client.POST('/v1/events', {
  body: { specversion: '1.0', id: 'evt-4', source: 'gateway-7', type: 'llm.call', subject: 'acme', data: { tokens: '1', model: 'large' } },
}));
let firing: Array<{ kind: string; state: string; details: Record<string, unknown> }> = [];
for (const deadline = Date.now() + 30_000; firing.length === 0 && Date.now() < deadline; ) {
  firing = ok('alerts', await client.GET('/v1/alerts', { params: { query: { state: 'firing' } } })).data;
  if (firing.length === 0) await new Promise((resolve) => setTimeout(resolve, 100));
}

console.log(
  JSON.stringify({
    ingested,
    windowCount: windows.data.length,
    usage: usage.meters.map((meter) => ({ key: meter.key, value: meter.value, groups: meter.groupBy })),
    keyScopes: [ingestKey.scope, portalKey.scope],
    charges: { lines: charges.lines.map((line) => ({ charge: line.charge, quantity: line.quantity, amount: line.amount })), total: charges.total },
    secret: endpoint.secret,
    firing: firing.map((alert) => ({ kind: alert.kind, state: alert.state, threshold: alert.details.threshold })),
  }),
);
