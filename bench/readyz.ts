/**
 * /readyz under heavy queries. Kubernetes probes give up after 3 s, and the in-process engine
 * runs a store check after the queries already queued, so a /readyz that checks the store on
 * every probe takes as long as the heavy queries ahead of it. Measured in one run, on one
 * data set:
 *
 *   1. /readyz with no other traffic;
 *   2. /readyz while 4 clients send heavy meter queries over HTTP (the heavy-query cap lets
 *      METERLINE_MAX_HEAVY_QUERIES run, the others get 429 and retry after Retry-After);
 *   3. the baseline: the store check the old /readyz ran on every probe (ping + migrations),
 *      timed while 4 heavy usage queries run on the engine with no cap, as before the limits.
 *
 *   BENCH_SUITES=readyz npm run bench
 *   BENCH_READYZ_EVENTS=300000 BENCH_READYZ_SECONDS=10 BENCH_SUITES=readyz npm run bench   # quicker
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMigrated, queryMeterUsage } from '../aggregator/index.js';
import { machine, startBenchService } from './service.js';

const EVENTS = Number(process.env.BENCH_READYZ_EVENTS ?? 1_000_000);
const SECONDS = Number(process.env.BENCH_READYZ_SECONDS ?? 20);
const CLIENTS = 4;
const PROBE_SPACING_MS = 50;
const GOAL_P99_MS = 100;
const DAY = 86_400_000;

function note(text: string): void {
  if (process.stderr.isTTY) process.stderr.write(`${text}\n`);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

const ms = (value: number) => (Number.isFinite(value) ? `${value < 10 ? value.toFixed(1) : Math.round(value).toLocaleString('en')} ms` : '–');

interface Probes {
  readonly sorted: number[];
  readonly failures: number;
}

/** Probes one after another, PROBE_SPACING_MS apart, until `until` says stop. */
async function probe(check: () => Promise<boolean>, until: () => boolean): Promise<Probes> {
  const durations: number[] = [];
  let failures = 0;
  do {
    const started = performance.now();
    if (!(await check())) failures += 1;
    durations.push(performance.now() - started);
    await sleep(PROBE_SPACING_MS);
  } while (!until());
  return { sorted: durations.sort((a, b) => a - b), failures };
}

function row(label: string, probes: Probes): string {
  const { sorted } = probes;
  return `| ${label} | ${ms(percentile(sorted, 50))} | ${ms(percentile(sorted, 99))} | ${ms(sorted.at(-1) ?? Number.NaN)} | ${sorted.length} | ${probes.failures} |`;
}

export async function benchReadyz(): Promise<void> {
  const startLoad = loadavg()[0] ?? 0;
  const dataDir = await mkdtemp(join(tmpdir(), 'meterline-bench-readyz-'));
  const { service, base, headers } = await startBenchService(
    { METERLINE_DATA_DIR: dataDir },
    { key: 'users', name: 'Users', eventType: 'visit', aggregation: 'UNIQUE_COUNT', valueProperty: '$.user' },
  );
  const { store } = service;
  try {
    // One event a second over the last days, spread over 997 subjects: every minute of every
    // subject is its own row of the rollup, so a UNIQUE_COUNT by day merges them all.
    const from = new Date(Math.floor((Date.now() - Math.ceil((EVENTS * 1000) / DAY + 1) * DAY) / DAY) * DAY);
    const to = new Date(Math.ceil(Date.now() / DAY) * DAY);
    note(`readyz: filling ${EVENTS.toLocaleString('en')} events`);
    await store.client.command({
      query: `INSERT INTO ${store.table('events')}
        (tenant_id, meter_key, subject, time, event_id, is_raw, type, source, data, ingested_at, value, value_key, group_by)
        SELECT 'default', 'users', concat('s', toString(number % 997)),
          toDateTime64('${from.toISOString().slice(0, 19).replace('T', ' ')}', 3, 'UTC') + toIntervalSecond(number),
          concat('bench-', toString(number)), 0, 'visit', 'bench', '', now64(3), toDecimal128(1, 9),
          toString(number % 50021), '{}'
        FROM numbers(${EVENTS})`,
    });
    const heavyPath = `/v1/meters/users/query?from=${from.toISOString()}&to=${to.toISOString()}&windowSize=DAY`;
    const readyz = async () => (await fetch(`${base}/readyz`)).status === 200;

    note('readyz: one heavy query alone');
    const started = performance.now();
    const alone = await fetch(`${base}${heavyPath}`, { headers });
    if (alone.status !== 200) throw new Error(`heavy query answered ${alone.status}: ${await alone.text()}`);
    await alone.arrayBuffer();
    const aloneMs = performance.now() - started;

    note('readyz: quiet');
    const quietEnd = performance.now() + SECONDS * 1000;
    const quiet = await probe(readyz, () => performance.now() > quietEnd);

    note(`readyz: under ${CLIENTS} heavy HTTP clients`);
    let running = true;
    const outcomes = new Map<number, number>();
    const heavyDurations: number[] = [];
    const clients = Array.from({ length: CLIENTS }, async () => {
      while (running) {
        const begin = performance.now();
        const response = await fetch(`${base}${heavyPath}`, { headers });
        await response.arrayBuffer();
        outcomes.set(response.status, (outcomes.get(response.status) ?? 0) + 1);
        if (response.status === 200) heavyDurations.push(performance.now() - begin);
        else if (response.status === 429) await sleep(Number(response.headers.get('retry-after') ?? 1) * 1000);
        else throw new Error(`heavy query answered ${response.status}`);
      }
    });
    await sleep(200);
    const loadedEnd = performance.now() + SECONDS * 1000;
    const loaded = await probe(readyz, () => performance.now() > loadedEnd);
    running = false;
    await Promise.all(clients);

    note(`readyz: baseline, the old per-probe store check under ${CLIENTS} uncapped heavy queries`);
    running = true;
    const meter = { key: 'users', aggregation: 'UNIQUE_COUNT' as const, groupBy: {} };
    const uncapped = Array.from({ length: CLIENTS }, async () => {
      while (running) {
        await queryMeterUsage(store, { tenantId: 'default', meter, from, to, windowSize: 'DAY', windowTimeZone: 'UTC', groupBy: [], bySubject: false });
      }
    });
    await sleep(200);
    const baselineEnd = performance.now() + SECONDS * 1000;
    const baseline = await probe(async () => (await store.ping()) && (await isMigrated(store)), () => performance.now() > baselineEnd);
    running = false;
    await Promise.all(uncapped);

    const sortedHeavy = heavyDurations.sort((a, b) => a - b);
    const p99 = percentile(loaded.sorted, 99);
    console.log(`
### /readyz under heavy queries (\`bench/readyz.ts\`)

${machine()}; ${EVENTS.toLocaleString('en')} events, a UNIQUE_COUNT meter read by day over all of them
(one such query alone: ${ms(aloneMs)}); ${CLIENTS} clients sending it back to back for ${SECONDS} s;
/readyz probed one after another, ${PROBE_SPACING_MS} ms apart. Defaults: METERLINE_MAX_HEAVY_QUERIES=2.
Load average (1 min) ${startLoad.toFixed(1)} at the start, ${(loadavg()[0] ?? 0).toFixed(1)} at the end.

| /readyz | p50 | p99 | max | probes | not ready |
|---|---:|---:|---:|---:|---:|
${row('no other traffic', quiet)}
${row(`under ${CLIENTS} heavy HTTP clients (cap 2, 429 + Retry-After past it)`, loaded)}
${row(`baseline: the old per-probe store check, ${CLIENTS} uncapped heavy queries`, baseline)}

Heavy queries while loaded: ${[...outcomes].map(([status, count]) => `${count} × ${status}`).join(', ')}; answered ones p50 ${ms(percentile(sortedHeavy, 50))}, p99 ${ms(percentile(sortedHeavy, 99))}.

**Goal: /readyz p99 under ${GOAL_P99_MS} ms under ${CLIENTS} heavy queries — ${p99 < GOAL_P99_MS ? 'met' : 'not met'} (${ms(p99)}).**`);
  } finally {
    await service.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}
