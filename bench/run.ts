/**
 * Ingest throughput: events through POST /v1/events (HTTP, validation, duplicate check, insert
 * with rollup projections) beside a raw INSERT of the same events into a plain table of the same
 * engine, in one run. Prints a ratio, the machine, and peak RSS.
 *
 *   npm run bench                      # 200,000 events
 *   BENCH_EVENTS=50000 npm run bench   # quicker
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../platform/config.js';
import { createLogger } from '../platform/logger.js';
import { insertRows, selectRows } from '../platform/store.js';
import { toClickHouseTime } from '../platform/time.js';
import { startService } from '../server/service.js';

const TOTAL = Number(process.env.BENCH_EVENTS ?? 200_000);
const BATCH = 1_000;
const OPERATOR_KEY = 'bench-operator-key-0123456789abcdef';

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

async function main(): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'meterline-bench-'));
  const config = loadConfig({
    METERLINE_DATA_DIR: dataDir,
    METERLINE_ADMIN_KEY: OPERATOR_KEY,
    LOG_LEVEL: 'warn',
  });
  const service = await startService(config, createLogger('warn'));
  await service.app.listen({ port: 0, host: '127.0.0.1' });
  const address = service.app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  const base = `http://127.0.0.1:${address.port}`;
  const headers = { authorization: `Bearer ${OPERATOR_KEY}`, 'content-type': 'application/json' };
  const meter = { key: 'bytes', name: 'Bytes', eventType: 'api.request', aggregation: 'SUM', valueProperty: '$.bytes', groupBy: { region: '$.region' } };
  const created = await fetch(`${base}/v1/meters`, { method: 'POST', headers, body: JSON.stringify(meter) });
  if (created.status !== 201) throw new Error(`meter: ${created.status}`);

  const { store } = service;
  await store.client.command({
    query: `CREATE TABLE ${store.table('bench_raw')} (
      tenant_id LowCardinality(String), id String, type LowCardinality(String), source String, subject String,
      time DateTime64(3, 'UTC'), data String
    ) ENGINE = MergeTree ORDER BY (tenant_id, type, subject, time)`,
  });

  // Raw engine insert: the same events as rows of a plain table, 1,000 per INSERT, one at a time.
  const rawEvents = makeEvents('raw');
  const rawStarted = performance.now();
  for (let offset = 0; offset < TOTAL; offset += BATCH) {
    const rows = rawEvents.slice(offset, offset + BATCH).map((event) => ({
      tenant_id: 'default',
      id: event.id,
      type: event.type,
      source: event.source,
      subject: event.subject,
      time: toClickHouseTime(new Date(event.time as string)),
      data: JSON.stringify(event.data),
    }));
    await insertRows(store, 'bench_raw', rows);
    progress('raw insert', Math.min(offset + BATCH, TOTAL), TOTAL);
  }
  const rawSeconds = (performance.now() - rawStarted) / 1000;

  const results: Array<{ label: string; seconds: number }> = [];
  for (const concurrency of (process.env.BENCH_CLIENTS ?? '1,4,8').split(',').map(Number)) {
    const events = makeEvents(`http${concurrency}`);
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
    results.push({ label: `POST /v1/events, ${concurrency} client${concurrency > 1 ? 's' : ''}`, seconds: (performance.now() - started) / 1000 });
  }

  // Nothing lost, nothing doubled: the table holds every event of the HTTP runs once.
  const [check] = await selectRows<{ n: string }>(
    store,
    `SELECT toString(count()) AS n FROM ${store.table('events')} WHERE tenant_id = 'default' AND meter_key = 'bytes'`,
    {},
  );
  const runs = (process.env.BENCH_CLIENTS ?? "1,4,8").split(",").length;
  if (check?.n !== String(TOTAL * runs)) throw new Error(`expected ${TOTAL * runs} metered events, found ${check?.n}`);

  const rawRate = TOTAL / rawSeconds;
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  console.log(`\nMachine: ${cpus().length} × ${cpu}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`);
  console.log(`Events: ${TOTAL} per run, ${BATCH} per request or insert\n`);
  console.log('| path | events/s | vs raw insert |');
  console.log('|---|---:|---:|');
  console.log(`| raw INSERT into a plain MergeTree table | ${Math.round(rawRate).toLocaleString('en')} | 1.00 |`);
  for (const { label, seconds } of results) {
    const rate = TOTAL / seconds;
    console.log(`| ${label} | ${Math.round(rate).toLocaleString('en')} | ${(rate / rawRate).toFixed(2)} |`);
  }
  console.log(`\nPeak RSS: ${Math.round(process.resourceUsage().maxRSS / 1024)} MiB (one process: service, engine and load generator)`);

  await service.close();
  await rm(dataDir, { recursive: true, force: true });
}

await main();
