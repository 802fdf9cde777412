/**
 * Ingest throughput: events through POST /v1/events (HTTP, validation, duplicate check, insert
 * with rollup projections) beside a raw INSERT of the same events into a plain table of the same
 * engine, in one run. Prints a ratio, the machine, and peak RSS.
 *
 *   npm run bench                          # 100,000 events per run, 3 rounds
 *   BENCH_EVENTS=20000 BENCH_ROUNDS=1 npm run bench   # quicker
 *   BENCH_CLIENTS=1,4,8,16 npm run bench   # concurrent requests to try
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { insertRows, selectRows } from '../platform/store.js';
import { toClickHouseTime } from '../platform/time.js';
import { machine, startBenchService } from './service.js';

// The generated events are plain JSON objects; their fields go to the table as they are.
const rawRow = z.object({
  tenant_id: z.string(),
  id: z.unknown(),
  type: z.unknown(),
  source: z.unknown(),
  subject: z.unknown(),
  time: z.string(),
  data: z.string(),
});

const TOTAL = Number(process.env.BENCH_EVENTS ?? 100_000);
const BATCH = 1_000;

function progress(label: string, done: number, total: number): void {
  if (!process.stderr.isTTY) return;
  process.stderr.write(`\r  ${label}: ${Math.round((done / total) * 100)}% (${done}/${total})   `);
  if (done === total) process.stderr.write('\n');
}

function makeEvents(runId: string): Array<Record<string, unknown>> {
  const start = Date.now() - 3_600_000;
  return Array.from({ length: TOTAL }, (_, i) => ({
    specversion: '1.0',
    id: `${runId}-${i}`,
    source: 'bench-agent',
    type: 'api.request',
    subject: `customer-${i % 500}`,
    time: new Date(start + Math.floor((i / TOTAL) * 3_500_000)).toISOString(),
    data: { bytes: String((i * 7919) % 100_000), region: ['eu', 'us', 'ap'][i % 3], path: '/v1/things' },
  }));
}

export async function benchEmbedded(): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'meterline-bench-'));
  const { service, base, headers } = await startBenchService(
    { METERLINE_DATA_DIR: dataDir },
    { key: 'bytes', name: 'Bytes', eventType: 'api.request', aggregation: 'SUM', valueProperty: '$.bytes', groupBy: { region: '$.region' } },
  );

  const { store } = service;
  await store.client.command({
    query: `CREATE TABLE ${store.table('bench_raw')} (
      tenant_id LowCardinality(String), id String, type LowCardinality(String), source String, subject String,
      time DateTime64(3, 'UTC'), data String
    ) ENGINE = MergeTree ORDER BY (tenant_id, type, subject, time)`,
  });

  const clientCounts = (process.env.BENCH_CLIENTS ?? '1,4,8').split(',').map(Number);
  const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
  let runId = 0;

  // Raw engine insert: the same events as rows of a plain table, 1,000 per INSERT, one at a time.
  async function rawRun(): Promise<number> {
    const events = makeEvents(`raw${runId++}`);
    const started = performance.now();
    for (let offset = 0; offset < TOTAL; offset += BATCH) {
      const rows = events.slice(offset, offset + BATCH).map((event) => ({
        tenant_id: 'default',
        id: event.id,
        type: event.type,
        source: event.source,
        subject: event.subject,
        time: toClickHouseTime(new Date(event.time as string)),
        data: JSON.stringify(event.data),
      }));
      await insertRows(store, 'bench_raw', rawRow, rows);
      progress('raw insert', Math.min(offset + BATCH, TOTAL), TOTAL);
    }
    return TOTAL / ((performance.now() - started) / 1000);
  }

  // The pipeline: the same shape of events through HTTP, `concurrency` requests in flight.
  async function httpRun(concurrency: number): Promise<number> {
    const events = makeEvents(`http${runId++}`);
    const bodies: string[] = [];
    for (let offset = 0; offset < TOTAL; offset += BATCH) bodies.push(JSON.stringify(events.slice(offset, offset + BATCH)));
    let next = 0;
    let done = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < bodies.length) {
          const body = bodies[next++] as string;
          const response = await fetch(`${base}/v1/events`, { method: 'POST', headers, body });
          const answer = (await response.json()) as { accepted: number };
          if (response.status !== 202 || answer.accepted !== BATCH) throw new Error(`ingest: ${response.status}`);
          done += BATCH;
          progress(`POST /v1/events ×${concurrency}`, done, TOTAL);
        }
      }),
    );
    return TOTAL / ((performance.now() - started) / 1000);
  }

  // Rounds interleave the paths so background merges and warm-up weigh on each alike; medians are reported.
  const rawRates: number[] = [];
  const httpRates = new Map<number, number[]>(clientCounts.map((count) => [count, []]));
  for (let round = 1; round <= rounds; round++) {
    if (process.stderr.isTTY) process.stderr.write(`round ${round}/${rounds}\n`);
    rawRates.push(await rawRun());
    for (const count of clientCounts) httpRates.get(count)?.push(await httpRun(count));
  }
  const median = (values: number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)] as number;
  };

  // Nothing lost, nothing doubled: the table holds every event of the HTTP runs once.
  const expected = TOTAL * rounds * clientCounts.length;
  const [check] = await selectRows<{ n: string }>(
    store,
    `SELECT toString(count()) AS n FROM ${store.table('events')} WHERE tenant_id = 'default' AND meter_key = 'bytes'`,
    {},
  );
  if (check?.n !== String(expected)) throw new Error(`expected ${expected} metered events, found ${check?.n}`);

  const rawRate = median(rawRates);
  console.log('\n## Embedded mode: ingest throughput\n');
  console.log(`Machine: ${machine()}`);
  console.log(`Events: ${TOTAL} per run, ${BATCH} per request or insert; median of ${rounds} interleaved rounds\n`);
  console.log('| path | events/s | vs raw insert |');
  console.log('|---|---:|---:|');
  console.log(`| raw INSERT into a plain MergeTree table | ${Math.round(rawRate).toLocaleString('en')} | 1.00 |`);
  for (const count of clientCounts) {
    const rate = median(httpRates.get(count) ?? []);
    const label = `POST /v1/events, ${count} client${count > 1 ? 's' : ''}`;
    console.log(`| ${label} | ${Math.round(rate).toLocaleString('en')} | ${(rate / rawRate).toFixed(2)} |`);
  }
  console.log(`\nPeak RSS: ${Math.round(process.resourceUsage().maxRSS / 1024)} MiB (one process: service, engine and load generator)`);

  await service.close();
  await rm(dataDir, { recursive: true, force: true });
}
