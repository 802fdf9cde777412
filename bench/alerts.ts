/**
 * Alert latency: from the 202 of the event that takes a customer's spend over its next threshold
 * to the signed webhook for that crossing arriving at a real HTTP receiver, in embedded mode with
 * the default rater and alert intervals. Measured with no other traffic and under a steady
 * background load in the same run, beside the rater interval that bounds it from below.
 *
 *   npm run bench                                   # 50 customers, 40 quiet + 200 loaded crossings
 *   BENCH_ALERTS_RATE=1000 BENCH_SUITES=alerts npm run bench   # heavier background load
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Histogram } from 'prom-client';
import { verifyWebhook } from '../alerts/index.js';
import { loadConfig } from '../platform/config.js';
import { machine, startBenchService } from './service.js';

const CUSTOMERS = Number(process.env.BENCH_ALERTS_CUSTOMERS ?? 50);
const CROSSINGS = Number(process.env.BENCH_ALERTS_CROSSINGS ?? 200);
const QUIET_CROSSINGS = Number(process.env.BENCH_ALERTS_QUIET_CROSSINGS ?? 40);
const RATE = Number(process.env.BENCH_ALERTS_RATE ?? 300);
const CLIENTS = Number(process.env.BENCH_ALERTS_CLIENTS ?? 4);
/** Between two crossings: 200 of them take a minute, and one customer is crossed every 15 s. */
const SPACING_MS = Number(process.env.BENCH_ALERTS_SPACING_MS ?? 300);
const BACKGROUND_BATCH = 10;
const STEP = 10;
const GOAL_P99_MS = 5_000;
/** A crossing without its webhook after this long counts as missing. */
const DEADLINE_MS = 30_000;

function note(text: string): void {
  if (process.stderr.isTTY) process.stderr.write(`${text}\n`);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

const ms = (value: number) => (Number.isFinite(value) ? `${Math.round(value).toLocaleString('en')} ms` : '–');

/** A plain HTTP endpoint answering 204; the instants of receipt are kept by customer and threshold of the payload. */
async function startReceiver(secret: () => string) {
  const receipts = new Map<string, number[]>();
  let badSignatures = 0;
  let unreadable = 0;
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      // The instant the whole body is in, before anything else is done with it.
      const at = performance.now();
      const body = Buffer.concat(chunks).toString('utf8');
      response.statusCode = 204;
      response.end();
      const header = (name: string) => (typeof request.headers[name] === 'string' ? (request.headers[name] as string) : undefined);
      const headers = { 'webhook-id': header('webhook-id'), 'webhook-timestamp': header('webhook-timestamp'), 'webhook-signature': header('webhook-signature') };
      if (!verifyWebhook({ secret: secret(), headers, body, now: new Date() })) badSignatures += 1;
      try {
        const message = JSON.parse(body) as { data: { customerId: string; threshold?: string } };
        const key = `${message.data.customerId}/${Number(message.data.threshold)}`;
        receipts.set(key, [...(receipts.get(key) ?? []), at]);
      } catch {
        unreadable += 1;
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    receipts,
    badSignatures: () => badSignatures,
    unreadable: () => unreadable,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Sum and count of a histogram (one label set), to take means over a phase from two readings. */
async function reading(histogram: Histogram<string>, labels: Record<string, string> = {}): Promise<{ sum: number; count: number }> {
  const { values } = await histogram.get();
  const matches = (entry: (typeof values)[number]) => Object.entries(labels).every(([name, value]) => entry.labels[name] === value);
  const find = (suffix: string) => values.find((entry) => entry.metricName?.endsWith(suffix) && matches(entry))?.value ?? 0;
  return { sum: find('_sum'), count: find('_count') };
}

function meanMs(before: { sum: number; count: number }, after: { sum: number; count: number }): number {
  const count = after.count - before.count;
  return count > 0 ? ((after.sum - before.sum) / count) * 1000 : Number.NaN;
}

export async function benchAlerts(): Promise<void> {
  const startLoad = loadavg()[0] ?? 0;
  const dataDir = await mkdtemp(join(tmpdir(), 'meterline-bench-alerts-'));
  let secret = '';
  const receiver = await startReceiver(() => secret);
  // The service's defaults unless the intervals are set for this run.
  const intervals = Object.fromEntries(
    ['METERLINE_RATER_INTERVAL', 'METERLINE_ALERTS_INTERVAL'].flatMap((name) => (process.env[name] ? [[name, process.env[name] as string]] : [])),
  );
  const raterIntervalMs = loadConfig(intervals).raterIntervalMs;
  const alertsIntervalMs = loadConfig(intervals).alerts.intervalMs;
  const { service, base, headers } = await startBenchService(
    // The receiver listens on loopback, which webhooks may reach only when the operator allows it.
    { METERLINE_DATA_DIR: dataDir, METERLINE_WEBHOOK_ALLOW_NETWORKS: '127.0.0.0/8', ...intervals },
    { key: 'units', name: 'Units', eventType: 'usage.units', aggregation: 'SUM', valueProperty: '$.units' },
  );
  try {
    const post = async (path: string, body: unknown, status = 201, method = 'POST') => {
      const response = await fetch(`${base}${path}`, { method, headers, body: JSON.stringify(body) });
      const text = await response.text();
      if (response.status !== status) throw new Error(`${method} ${path}: ${response.status} ${text}`);
      return JSON.parse(text || '{}') as Record<string, unknown>;
    };
    await post('/v1/plans', {
      key: 'units',
      name: 'Units',
      currency: 'USD',
      charges: [{ key: 'units', meter: 'units', price: { model: 'unit', unitAmount: '1.00' } }],
      effectiveFrom: '2020-01-01T00:00:00Z',
    });
    const customers = Array.from({ length: CUSTOMERS }, (_, i) => `cust-${i}`);
    for (const id of customers) {
      await post('/v1/customers', { id, name: id, timezone: 'UTC', currency: 'USD' });
      await post(`/v1/customers/${id}/contract`, { plan: 'units', startsAt: '2020-01-01T00:00:00Z' }, 200, 'PUT');
      await post('/v1/alert-rules', { kind: 'spend_threshold', customerId: id, thresholds: [], recurringStep: String(STEP), channels: ['webhook'] });
    }
    secret = (await post('/v1/webhook-endpoints', { url: receiver.url })).secret as string;

    let sequence = 0;
    const event = (subject: string, units: number) => ({
      specversion: '1.0',
      id: `alerts-${++sequence}`,
      source: 'bench-agent',
      type: 'usage.units',
      subject,
      time: new Date().toISOString(),
      data: { units: String(units) },
    });
    const send = async (events: unknown[]) => {
      const response = await fetch(`${base}/v1/events`, { method: 'POST', headers, body: JSON.stringify(events) });
      await response.arrayBuffer();
      if (response.status !== 202) throw new Error(`events: ${response.status}`);
    };

    // Background events carry no cost: every customer is re-rated and re-evaluated each cycle as
    // under real traffic, yet every threshold crossing is one of the probes below.
    let loadRunning = false;
    let backgroundEvents = 0;
    const background = async (): Promise<number> => {
      loadRunning = true;
      const interval = (CLIENTS * BACKGROUND_BATCH * 1000) / RATE;
      const started = performance.now();
      await Promise.all(
        Array.from({ length: CLIENTS }, async (_, client) => {
          let next = started + (client * interval) / CLIENTS;
          let cursor = client;
          while (loadRunning) {
            await sleep(Math.max(0, next - performance.now()));
            if (!loadRunning) break;
            next += interval;
            const batch = Array.from({ length: BACKGROUND_BATCH }, () => event(customers[cursor++ % CUSTOMERS] as string, 0));
            await send(batch);
            backgroundEvents += batch.length;
          }
        }),
      );
      return backgroundEvents / ((performance.now() - started) / 1000);
    };

    /** Crossings so far per customer: its spend is that many steps. */
    const crossed = new Map<string, number>();
    const expected: string[] = [];
    // One crossing every SPACING_MS, customers in turn, without waiting for the webhooks: the
    // crossings overlap as independent customers' would.
    const phase = async (count: number) => {
      const probes: Array<{ key: string; acceptedAt: number }> = [];
      const inFlight: Array<Promise<void>> = [];
      const started = performance.now();
      for (let i = 0; i < count; i++) {
        await sleep(Math.max(0, started + i * SPACING_MS - performance.now()));
        const customer = customers[expected.length % CUSTOMERS] as string;
        const steps = (crossed.get(customer) ?? 0) + 1;
        crossed.set(customer, steps);
        const threshold = steps * STEP;
        const key = `${customer}/${threshold}`;
        expected.push(key);
        inFlight.push(send([event(customer, STEP)]).then(() => void probes.push({ key, acceptedAt: performance.now() })));
      }
      await Promise.all(inFlight);
      const deadline = performance.now() + DEADLINE_MS;
      while (performance.now() < deadline && probes.some((p) => !receiver.receipts.has(p.key))) await sleep(50);
      const latencies = probes.flatMap((p) => {
        const first = receiver.receipts.get(p.key)?.[0];
        return first === undefined ? [] : [first - p.acceptedAt];
      });
      return { latencies: latencies.sort((a, b) => a - b), missing: probes.length - latencies.length };
    };

    const { metrics } = service;
    const readings = async () => ({
      rater: await reading(metrics.ratingCycleDuration as Histogram<string>),
      engine: await reading(metrics.alertsEvaluationDuration as Histogram<string>),
      delivery: await reading(metrics.deliveryLatency as Histogram<string>, { channel: 'webhook' }),
    });

    // Every customer rated and evaluated once before the first probe, so both phases start warm.
    note('alerts: warming up');
    await send(customers.map((id) => event(id, 0)));
    await sleep(3_000);

    note(`alerts: ${QUIET_CROSSINGS} crossings, no background load`);
    const quietBefore = await readings();
    const quiet = await phase(QUIET_CROSSINGS);
    const quietAfter = await readings();

    note(`alerts: ${CROSSINGS} crossings, background load of ${RATE} events/s`);
    const load = background();
    await sleep(3_000);
    const loadedBefore = await readings();
    const loaded = await phase(CROSSINGS);
    const loadedAfter = await readings();
    loadRunning = false;
    const achievedRate = await load;

    // Late or repeated deliveries would arrive now; two outbox polls is ample for a repeat to show.
    await sleep(2_500);
    const expectedKeys = new Set(expected);
    let duplicates = 0;
    let unexpected = 0;
    for (const [key, receipts] of receiver.receipts) {
      if (!expectedKeys.has(key)) unexpected += receipts.length;
      else duplicates += receipts.length - 1;
    }
    const missing = quiet.missing + loaded.missing;

    const row = (label: string, count: number, rate: string, sorted: number[]) =>
      `| ${label} | ${count} | ${rate} | ${ms(percentile(sorted, 50))} | ${ms(percentile(sorted, 95))} | ${ms(percentile(sorted, 99))} | ${ms(sorted.at(-1) ?? Number.NaN)} |`;
    const inside = (label: string, before: Awaited<ReturnType<typeof readings>>, after: Awaited<ReturnType<typeof readings>>) =>
      `| ${label} | ${ms(meanMs(before.rater, after.rater))} | ${ms(meanMs(before.engine, after.engine))} | ${ms(meanMs(before.delivery, after.delivery))} |`;
    const loadedP99 = percentile(loaded.latencies, 99);

    console.log('\n## Alerts: threshold crossing to webhook\n');
    console.log(`Machine: ${machine()}`);
    console.log(`Load average (1 min) at the start ${startLoad.toFixed(1)}, at the end ${loadavg()[0]?.toFixed(1)}: other work on the machine weighs on every figure here`);
    console.log(`Rater interval ${ms(raterIntervalMs)}, alerts poll interval ${ms(alertsIntervalMs)}`);
    console.log(
      `${CUSTOMERS} customers on a unit-price plan, one spend_threshold rule each (recurring step ${STEP} USD, webhook channel), ` +
        `one endpoint; a crossing every ${SPACING_MS} ms, customers in turn; background load ${RATE} events/s targeted from ${CLIENTS} clients, ` +
        `${BACKGROUND_BATCH} events per request\n`,
    );
    console.log('| run | crossings | background events/s | p50 | p95 | p99 | max |');
    console.log('|---|---:|---:|---:|---:|---:|---:|');
    console.log(row('no background load', quiet.latencies.length, '0', quiet.latencies));
    console.log(row('background load', loaded.latencies.length, Math.round(achievedRate).toLocaleString('en'), loaded.latencies));
    console.log(`| rater interval (\`METERLINE_RATER_INTERVAL\`): the wait for the next rating | | | | | ${ms(raterIntervalMs)} | |`);
    console.log('\nMean times inside the service during each run (from its own metrics):\n');
    console.log('| run | rating cycle | alert evaluation cycle | alert recorded → webhook answered |');
    console.log('|---|---:|---:|---:|');
    console.log(inside('no background load', quietBefore, quietAfter));
    console.log(inside('background load', loadedBefore, loadedAfter));
    const clean = missing === 0 && duplicates === 0 && unexpected === 0 && receiver.badSignatures() === 0 && receiver.unreadable() === 0;
    console.log(
      `\nWebhooks: ${expected.length} crossings, ${missing} missing, ${duplicates} duplicate, ${unexpected} unexpected, ` +
        `${receiver.badSignatures()} with a bad signature${clean ? '' : ' — **not every crossing was reported exactly once**'}`,
    );
    console.log(`Goal: p99 under ${ms(GOAL_P99_MS)} under background load — ${loadedP99 < GOAL_P99_MS && loaded.missing === 0 ? 'met' : 'not met'} (p99 ${ms(loadedP99)})`);
    console.log(`Peak RSS: ${Math.round(process.resourceUsage().maxRSS / 1024)} MiB (one process: service, engine, receiver and load generator)`);
    if (!clean) process.exitCode = 1;
  } finally {
    await service.close();
    await receiver.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}
