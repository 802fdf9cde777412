import type { AddressObject } from 'mailparser';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../aggregator/migrate.js';
import { buildAlertStore, derivedId, messageIdOf, type AlertRecord, type AlertStore, type DeliveryRecord } from '../alerts/alert-store.js';
import { webhookPayload } from '../alerts/notification.js';
import { buildOutbox, retryDelayMs, WEBHOOK_USER_AGENT, type Outbox, type OutboxDeps } from '../alerts/outbox.js';
import { buildWebhookEndpoints, type WebhookEndpoint, type WebhookEndpoints } from '../alerts/webhook-endpoints.js';
import { buildCatalog } from '../catalog/index.js';
import type { AlertsConfig } from '../platform/config.js';
import { createLogger } from '../platform/logger.js';
import { buildMetrics, type Metrics } from '../platform/metrics.js';
import { buildNetworkPolicy, type NetworkPolicy, type Resolve } from '../platform/network-policy.js';
import { openStore, type Store } from '../platform/store.js';
import { waitFor } from './support/process.js';
import { startSmtpCatcher, startWebhookReceiver, verifySignature, type ReceivedRequest, type Reply, type SmtpCatcher, type WebhookReceiver } from './support/receivers.js';
import { testDataDir, uniqueDatabase } from './support/service.js';

const log = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
const CHARGES_URL = 'https://meterline.example.com/v1/customers/acme/charges?period=2026-11';
const BASE_CONFIG: AlertsConfig = {
  intervalMs: 1_000,
  publicUrl: 'https://meterline.example.com',
  webhookTimeoutMs: 2_000,
  maxAttempts: 5,
  backoffBaseMs: 30,
  backoffMaxMs: 500,
  // The receivers of these tests listen on loopback, as an on-premises receiver would on its network.
  webhookAllowNetworks: ['127.0.0.0/8'],
};
const LOCAL_POLICY = buildNetworkPolicy({ allowNetworks: BASE_CONFIG.webhookAllowNetworks });
const STRICT_POLICY = buildNetworkPolicy({ allowNetworks: [] });

/** A name whose first answer is public and every later one loopback: DNS rebinding. */
function rebinding(): Resolve {
  let calls = 0;
  return (_hostname, family) => {
    calls += 1;
    const entry = calls === 1 ? { address: '93.184.216.34', family: 4 } : { address: '127.0.0.1', family: 4 };
    return Promise.resolve(family === 6 ? [] : [entry]);
  };
}

function only<T>(items: readonly T[]): T {
  const [item] = items;
  if (items.length !== 1 || item === undefined) throw new Error(`expected one item, got ${items.length}`);
  return item;
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

async function counter(metric: { get(): Promise<{ values: Array<{ labels: object; value: number }> }> }, labels: object = {}): Promise<number> {
  const { values } = await metric.get();
  const match = values.find((value) => Object.entries(labels).every(([key, expected]) => (value.labels as Record<string, unknown>)[key] === expected));
  return match?.value ?? 0;
}

describe('alert delivery', () => {
  let store: Store;
  let alertStore: AlertStore;
  let endpoints: WebhookEndpoints;
  const seeded: Array<{ tenantId: string; alertId: string }> = [];
  const outboxes: Outbox[] = [];
  const receivers: WebhookReceiver[] = [];
  let sequence = 0;

  beforeAll(async () => {
    store = await openStore({ kind: 'embedded', dataDir: await testDataDir(), database: uniqueDatabase() }, log);
    await migrate(store, log);
    alertStore = buildAlertStore(store);
    endpoints = buildWebhookEndpoints({ store, catalog: buildCatalog({ store, log, cacheTtlMs: 0 }), networkPolicy: LOCAL_POLICY });
  });

  // The outbox takes whatever is due in the whole store: nothing one test leaves pending may reach the next.
  afterEach(async () => {
    await Promise.all(outboxes.splice(0).map((outbox) => outbox.stop()));
    await Promise.all(receivers.splice(0).map((receiver) => receiver.close()));
    for (const { tenantId, alertId } of seeded.splice(0)) {
      const pending = (await alertStore.deliveriesOf(tenantId, [alertId])).filter((delivery) => delivery.status === 'pending');
      if (pending.length > 0) await alertStore.updateDeliveries(pending.map((delivery) => ({ ...delivery, status: 'cancelled' as const })));
    }
  });

  afterAll(async () => store.close());

  function outboxWith(overrides: Partial<AlertsConfig> = {}, deps: Partial<OutboxDeps> = {}): { outbox: Outbox; metrics: Metrics } {
    const metrics = buildMetrics();
    const outbox = buildOutbox({ alertStore, endpoints, config: { ...BASE_CONFIG, ...overrides }, log, metrics, networkPolicy: LOCAL_POLICY, ...deps });
    outboxes.push(outbox);
    return { outbox, metrics };
  }

  async function receiver(answer: (n: number, path: string) => Promise<Reply>): Promise<WebhookReceiver> {
    const started = await startWebhookReceiver((n, request) => answer(n, request.path));
    receivers.push(started);
    return started;
  }

  /** A spend alert of Acme Corp with one pending `alert.fired` delivery per target. */
  function newTenant(): string {
    sequence += 1;
    return `tenant-${sequence}`;
  }

  async function seedAlert(
    tenantId: string,
    targets: ReadonlyArray<{ channel: 'email' | 'webhook'; target: string }>,
    extra: Partial<AlertRecord> = {},
  ): Promise<{ alert: AlertRecord; deliveries: DeliveryRecord[] }> {
    sequence += 1;
    const createdAt = new Date().toISOString();
    const alert: AlertRecord = {
      tenantId,
      id: derivedId('alt', tenantId, 'rule_spend', 'acme', '500', String(sequence)),
      ruleId: 'rule_spend',
      customerId: 'acme',
      kind: 'spend_threshold',
      status: 'firing',
      details: {
        ruleId: 'rule_spend',
        kind: 'spend_threshold',
        customerId: 'acme',
        customerName: 'Acme Corp',
        period: { start: '2026-11-01T00:00:00.000Z', end: '2026-12-01T00:00:00.000Z' },
        currency: 'USD',
        value: '612.40',
        measure: 'subtotal',
        threshold: '500',
        chargesUrl: CHARGES_URL,
      },
      createdAt,
      ...extra,
    };
    const deliveries = targets.map(
      ({ channel, target }): DeliveryRecord => ({
        tenantId,
        id: derivedId('dlv', alert.id, 'alert.fired', channel, target),
        messageId: messageIdOf(alert.id, 'alert.fired'),
        alertId: alert.id,
        messageType: 'alert.fired',
        channel,
        target,
        status: 'pending',
        attempts: 0,
        nextAttemptAt: createdAt,
        createdAt,
        updatedAt: createdAt,
      }),
    );
    await alertStore.recordNew([alert], deliveries);
    seeded.push({ tenantId, alertId: alert.id });
    return { alert, deliveries };
  }

  async function endpointFor(tenantId: string, url: string, policy: NetworkPolicy = LOCAL_POLICY): Promise<WebhookEndpoint> {
    const registrar = policy === LOCAL_POLICY ? endpoints : buildWebhookEndpoints({ store, catalog: buildCatalog({ store, log, cacheTtlMs: 0 }), networkPolicy: policy });
    const endpoint = await registrar.create(tenantId, { url });
    // Every webhook a receiver gets is then checked with both verifiers when it closes.
    for (const hook of receivers) if (url.startsWith(hook.origin)) hook.trust(endpoint.secret);
    return endpoint;
  }

  /** A tenant with one endpoint at `url` (registered under `policy`) and one alert with a pending delivery to it. */
  async function seedWebhook(url: string, extra: Partial<AlertRecord> = {}, policy: NetworkPolicy = LOCAL_POLICY) {
    const tenantId = newTenant();
    const endpoint = await endpointFor(tenantId, url, policy);
    const { alert, deliveries } = await seedAlert(tenantId, [{ channel: 'webhook', target: endpoint.id }], extra);
    return { alert, endpoint, delivery: only(deliveries) };
  }

  async function deliveryOf(delivery: DeliveryRecord): Promise<DeliveryRecord> {
    const found = (await alertStore.deliveriesOf(delivery.tenantId, [delivery.alertId])).find((row) => row.id === delivery.id);
    if (!found) throw new Error(`delivery ${delivery.id} not found`);
    return found;
  }

  const untilStatus = (delivery: DeliveryRecord, status: DeliveryRecord['status']) =>
    waitFor(async () => {
      const current = await deliveryOf(delivery);
      return current.status === status ? current : undefined;
    }, `delivery ${delivery.id} to become ${status}`, 20_000);

  // Meterline's verifier and the reference Standard Webhooks library must both accept it.
  const verifies = verifySignature;

  describe('email', () => {
    let smtp: SmtpCatcher;

    beforeAll(async () => {
      smtp = await startSmtpCatcher();
    });
    afterAll(async () => smtp.close());

    it('sends the alert by email to every recipient with the figures and the charges link', async () => {
      const recipients = 'billing@acme.example, ops@msp.example';
      const { deliveries } = await seedAlert(newTenant(), [{ channel: 'email', target: recipients }]);
            const { outbox, metrics } = outboxWith({
        smtp: { host: '127.0.0.1', port: smtp.port, secure: false, from: 'Meterline Alerts <alerts@meterline.example.com>' },
      });

      expect(await outbox.runOnce()).toBe(1);

      expect(smtp.messages).toHaveLength(1);
      const [{ mail, envelopeTo }] = smtp.messages as [(typeof smtp.messages)[number]];
      expect([...envelopeTo].sort()).toEqual(['billing@acme.example', 'ops@msp.example']);
      expect((mail.to as AddressObject).value.map((address) => address.address)).toEqual(['billing@acme.example', 'ops@msp.example']);
      expect(mail.from?.value[0]?.address).toBe('alerts@meterline.example.com');
      expect(mail.subject).toBe('[Meterline] Acme Corp: spend crossed 500 USD');
      expect(mail.text).toMatch(/Current value: +612\.40 USD \(subtotal\)/);
      expect(mail.text).toMatch(/Threshold: +500 USD/);
      expect(mail.text).toContain(CHARGES_URL);
      expect(mail.html).toContain('612.40 USD');
      expect(mail.html).toContain('500 USD');
      expect(mail.html).toContain(`<a href="${CHARGES_URL}">`);

      const after = await deliveryOf(only(deliveries));
      expect(after).toMatchObject({ status: 'succeeded', attempts: 1 });
      expect(await counter(metrics.deliveries, { channel: 'email', outcome: 'succeeded' })).toBe(1);
      expect((await metrics.deliveryLatency.get()).values.find((value) => value.metricName?.endsWith('_count'))?.value).toBe(1);
      expect(await counter(metrics.outboxPending)).toBe(0);
    });

    it('fails an email delivery at once when no SMTP server is configured', async () => {
      const { deliveries } = await seedAlert(newTenant(), [{ channel: 'email', target: 'billing@acme.example' }]);
      const { outbox, metrics } = outboxWith();
      await outbox.runOnce();
      expect(await deliveryOf(only(deliveries))).toMatchObject({ status: 'failed', attempts: 1, lastError: 'email is not configured (set SMTP_HOST)' });
      expect(await counter(metrics.deliveries, { channel: 'email', outcome: 'failed' })).toBe(1);
    });
  });

  describe('webhooks', () => {
    it('retries with the same webhook-id until the endpoint answers 2xx, every attempt signed', async () => {
      const hook = await receiver(async (n) => (n <= 2 ? { status: 500, body: 'upstream exploded' } : { status: 204 }));
      const { alert, endpoint, delivery } = await seedWebhook(`${hook.origin}/hooks/meterline`);
      // random() = 1 takes the top of each jitter range, so the waits are exactly 30 and 60 ms.
      const { outbox, metrics } = outboxWith({ backoffBaseMs: 30 }, { random: () => 1 });
      outbox.start();

      const done = await untilStatus(delivery, 'succeeded');
      expect(done.attempts).toBe(3);
      expect(done.lastError).toBe('HTTP 500 Internal Server Error');
      expect(hook.received).toHaveLength(3);
      const ids = new Set(hook.received.map((request) => request.headers['webhook-id']));
      expect([...ids]).toEqual([delivery.messageId]);
      for (const request of hook.received) {
        expect(request.path).toBe('/hooks/meterline');
        expect(request.headers['content-type']).toBe('application/json');
        expect(request.headers['user-agent']).toBe(WEBHOOK_USER_AGENT);
        expect(verifies(endpoint.secret, request)).toBe(true);
        expect(JSON.parse(request.body)).toEqual(webhookPayload(alert, 'alert.fired', delivery.createdAt));
      }
      // Every attempt carries the same message; only the timestamp and signature are new.
      expect(new Set(hook.received.map((request) => request.body)).size).toBe(1);
      const [first, second, third] = hook.received as [ReceivedRequest, ReceivedRequest, ReceivedRequest];
      expect(second.at - first.at).toBeGreaterThanOrEqual(25);
      expect(third.at - second.at).toBeGreaterThanOrEqual(55);

      expect(await counter(metrics.deliveries, { channel: 'webhook', outcome: 'retry' })).toBe(2);
      expect(await counter(metrics.deliveries, { channel: 'webhook', outcome: 'succeeded' })).toBe(1);
      expect(await counter(metrics.webhookRetries)).toBe(2);
      expect((await endpoints.get(alert.tenantId, endpoint.id)).disabled).toBe(false);
    });

    it('gives up after maxAttempts, disables the endpoint and counts it', async () => {
      const hook = await receiver(async () => ({ status: 503, body: 'maintenance' }));
      const { alert, endpoint, delivery } = await seedWebhook(`${hook.origin}/always-down`);
      const { outbox, metrics } = outboxWith({ maxAttempts: 3, backoffBaseMs: 20 });
      outbox.start();

      const failed = await untilStatus(delivery, 'failed');
      expect(failed).toMatchObject({ attempts: 3, lastError: 'HTTP 503 Service Unavailable' });
      expect(hook.received).toHaveLength(3);
      const disabled = await waitFor(async () => {
        const current = await endpoints.get(alert.tenantId, endpoint.id);
        return current.disabled ? current : undefined;
      }, 'the endpoint to be disabled');
      expect(disabled.disabledReason).toBe('deliveries kept failing: HTTP 503 Service Unavailable');
      expect(failed.lastError).not.toContain(endpoint.secret);
      expect(await counter(metrics.deliveries, { channel: 'webhook', outcome: 'retry' })).toBe(2);
      expect(await counter(metrics.deliveries, { channel: 'webhook', outcome: 'failed' })).toBe(1);
      expect(await counter(metrics.webhookRetries)).toBe(2);
      expect(await counter(metrics.webhookEndpointsDisabled)).toBe(1);

      // Later messages to the disabled endpoint fail without being sent.
      const next = only((await seedAlert(alert.tenantId, [{ channel: 'webhook', target: endpoint.id }])).deliveries);
      await outbox.stop();
      await outboxWith().outbox.runOnce();
      expect(await deliveryOf(next)).toMatchObject({
        status: 'failed',
        lastError: `webhook endpoint ${endpoint.id} is disabled: deliveries kept failing: HTTP 503 Service Unavailable`,
      });
      expect(hook.received).toHaveLength(3);
    });

    it('does not follow redirects: a 3xx is a failure', async () => {
      const hook = await receiver(async (_n, path) =>
        path === '/moved' ? { status: 307, headers: { location: '/elsewhere' } } : { status: 204 },
      );
      const { delivery } = await seedWebhook(`${hook.origin}/moved`);
      await outboxWith().outbox.runOnce();
      expect(await deliveryOf(delivery)).toMatchObject({ status: 'pending', attempts: 1, lastError: 'HTTP 307 Temporary Redirect' });
      expect(hook.received.map((request) => request.path)).toEqual(['/moved']);
    });

    it('times out a slow endpoint and schedules a retry within the backoff range', async () => {
      const release = deferred();
      const hook = await receiver(async () => {
        await release.promise;
        return { status: 204 };
      });
      const { delivery } = await seedWebhook(hook.origin);
      const before = Date.now();
      await outboxWith({ webhookTimeoutMs: 200, backoffBaseMs: 1_000, backoffMaxMs: 60_000 }).outbox.runOnce();
      release.resolve();
      const after = await deliveryOf(delivery);
      expect(after).toMatchObject({ status: 'pending', attempts: 1, lastError: 'timed out after 200 ms' });
      const wait = Date.parse(after.nextAttemptAt) - before;
      expect(wait).toBeGreaterThanOrEqual(500);
      expect(wait).toBeLessThan(1_000 + 2_000);
    });

    it("records the status and its standard reason, never the receiver's body", async () => {
      const hook = await receiver(async () => ({ status: 500, body: 'SECRET-INTERNAL-BODY: db password is hunter2' }));
      const { delivery } = await seedWebhook(`${hook.origin}/internal`);
      await outboxWith().outbox.runOnce();
      const after = await deliveryOf(delivery);
      expect(after).toMatchObject({ status: 'pending', attempts: 1, lastError: 'HTTP 500 Internal Server Error' });
      expect(JSON.stringify(after)).not.toContain('SECRET-INTERNAL-BODY');
      expect(hook.received).toHaveLength(1);
    });

    it('refuses at connect time an IP literal the policy does not allow, sending nothing', async () => {
      const hook = await receiver(async () => ({ status: 204 }));
      // Registered while loopback was allowed; the operator has since removed it from the allow list.
      const { delivery } = await seedWebhook(`${hook.origin}/hooks`);
      await outboxWith({}, { networkPolicy: STRICT_POLICY }).outbox.runOnce();
      expect(await deliveryOf(delivery)).toMatchObject({ status: 'pending', attempts: 1, lastError: 'address 127.0.0.1 is not allowed (loopback)' });
      expect(hook.received).toHaveLength(0);
    });

    it('refuses at connect time a name that resolves inward, sending nothing', async () => {
      const hook = await receiver(async () => ({ status: 204 }));
      const port = new URL(hook.origin).port;
      const { delivery } = await seedWebhook(`http://localhost:${port}/hooks`, {}, buildNetworkPolicy({ allowNetworks: ['127.0.0.0/8', '::1/128'] }));
      await outboxWith({}, { networkPolicy: STRICT_POLICY }).outbox.runOnce();
      const after = await deliveryOf(delivery);
      expect(after.status).toBe('pending');
      expect(after.lastError).toMatch(/^localhost resolves to (127\.0\.0\.1|::1), which is not allowed \(loopback\)$/);
      expect(hook.received).toHaveLength(0);
    });

    it('refuses a name that rebinds inward after registration, and reaches it through the same lookup when allowed', async () => {
      const hook = await receiver(async () => ({ status: 204 }));
      const url = `http://hooks.rebind.test:${new URL(hook.origin).port}/hooks`;
      const strict = buildNetworkPolicy({ allowNetworks: [], resolve: rebinding() });
      // The first answer (at registration) is public, so the endpoint is accepted.
      const { delivery } = await seedWebhook(url, {}, strict);
      await outboxWith({}, { networkPolicy: strict }).outbox.runOnce();
      const refused = await deliveryOf(delivery);
      expect(refused).toMatchObject({ status: 'pending', lastError: 'hooks.rebind.test resolves to 127.0.0.1, which is not allowed (loopback)' });
      expect(hook.received).toHaveLength(0);
      await alertStore.updateDeliveries([{ ...refused, status: 'cancelled' }]);

      const allowed = buildNetworkPolicy({ allowNetworks: ['127.0.0.0/8'], resolve: rebinding() });
      const second = await seedWebhook(url, {}, allowed);
      await outboxWith({}, { networkPolicy: allowed }).outbox.runOnce();
      expect(await deliveryOf(second.delivery)).toMatchObject({ status: 'succeeded' });
      expect(hook.received.map((request) => request.headers.host)).toEqual([`hooks.rebind.test:${new URL(hook.origin).port}`]);
    });

    it('fails a delivery to a removed endpoint without sending', async () => {
      const hook = await receiver(async () => ({ status: 204 }));
      const { alert, endpoint, delivery } = await seedWebhook(hook.origin);
      await endpoints.remove(alert.tenantId, endpoint.id);
      await outboxWith().outbox.runOnce();
      expect(await deliveryOf(delivery)).toMatchObject({ status: 'failed', lastError: `webhook endpoint ${endpoint.id} was removed` });
      expect(hook.received).toHaveLength(0);
    });
  });

  it("cancels an acknowledged alert's pending deliveries and sends nothing", async () => {
    const hook = await receiver(async () => ({ status: 204 }));
    const tenantId = newTenant();
    const endpoint = await endpointFor(tenantId, hook.origin);
    const { deliveries } = await seedAlert(
      tenantId,
      [
        { channel: 'webhook', target: endpoint.id },
        { channel: 'email', target: 'billing@acme.example' },
      ],
      { acknowledgedAt: new Date().toISOString(), acknowledgedBy: 'oncall@msp.example' },
    );
    const { outbox, metrics } = outboxWith();
    expect(await outbox.runOnce()).toBe(2);
    for (const delivery of deliveries) expect(await deliveryOf(delivery)).toMatchObject({ status: 'cancelled', attempts: 0 });
    expect(hook.received).toHaveLength(0);
    expect(await counter(metrics.deliveries, { channel: 'webhook', outcome: 'cancelled' })).toBe(1);
    expect(await counter(metrics.deliveries, { channel: 'email', outcome: 'cancelled' })).toBe(1);
  });

  it('re-sends with the same webhook-id when the process died between sending and recording', async () => {
    const hook = await receiver(async () => ({ status: 204 }));
    const { endpoint, delivery } = await seedWebhook(hook.origin);

    // The first process sends, then loses the store before it can record the outcome.
    let failures = 0;
    const crashing: OutboxDeps['alertStore'] = {
      ...alertStore,
      updateDeliveries: async () => {
        failures += 1;
        throw new Error('connection to the store lost');
      },
    };
    const { outbox: first, metrics: firstMetrics } = outboxWith({}, { alertStore: crashing });
    await first.runOnce();
    expect(failures).toBe(1);
    expect(hook.received).toHaveLength(1);
    expect(await deliveryOf(delivery)).toMatchObject({ status: 'pending', attempts: 0 });
    expect(await counter(firstMetrics.outboxPending)).toBeGreaterThanOrEqual(1);

    // The next process finds it still pending and sends the same message again.
    const { outbox: second } = outboxWith();
    await second.runOnce();
    expect(hook.received).toHaveLength(2);
    const [sent, resent] = hook.received as [ReceivedRequest, ReceivedRequest];
    expect(resent.headers['webhook-id']).toBe(sent.headers['webhook-id']);
    expect(resent.headers['webhook-id']).toBe(delivery.messageId);
    expect(resent.body).toBe(sent.body);
    expect(verifies(endpoint.secret, resent)).toBe(true);
    expect(await deliveryOf(delivery)).toMatchObject({ status: 'succeeded', attempts: 1 });
  });

  it('never sends one delivery twice at once, and stop() waits for the send in flight', async () => {
    const release = deferred();
    const hook = await receiver(async () => {
      await release.promise;
      return { status: 200, body: 'ok' };
    });
    const { delivery } = await seedWebhook(hook.origin);
    const { outbox } = outboxWith({ webhookTimeoutMs: 20_000 });
    outbox.start();
    await waitFor(async () => (hook.received.length === 1 ? true : undefined), 'the first send');

    // Passes while the send hangs find the delivery due, and leave it alone.
    outbox.wake();
    expect(await outbox.runOnce()).toBe(0);
    let stopped = false;
    const stopping = outbox.stop().then(() => (stopped = true));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(stopped).toBe(false);
    expect(hook.received).toHaveLength(1);

    release.resolve();
    await stopping;
    expect(await deliveryOf(delivery)).toMatchObject({ status: 'succeeded', attempts: 1 });
    expect(hook.received).toHaveLength(1);
  });

  it('spreads retry delays exponentially up to the cap, jittered into [delay/2, delay]', () => {
    const config = { backoffBaseMs: 1_000, backoffMaxMs: 30_000 };
    expect([1, 2, 3, 4, 5, 6, 50].map((attempts) => retryDelayMs(attempts, config, () => 1))).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);
    expect([1, 2, 6].map((attempts) => retryDelayMs(attempts, config, () => 0))).toEqual([500, 1_000, 15_000]);
  });
});
