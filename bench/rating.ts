/**
 * Rating 10,000 customers × 10 charges for the current period from the rollups, beside the bare
 * ClickHouse query that fetches the same usage, in one run.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCatalog, customerInsertRow } from '../catalog/index.js';
import { createLogger } from '../platform/logger.js';
import { insertRows, selectRows } from '../platform/store.js';
import { toClickHouseTime } from '../platform/time.js';
import { buildCharges, buildPlansContracts, contractVersionRow } from '../rater/index.js';
import { machine, startBenchService } from './service.js';

const CUSTOMERS = Number(process.env.BENCH_RATING_CUSTOMERS ?? 10_000);
const CHARGES = 10;

export async function benchRating(): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'meterline-bench-rating-'));
  const { service, base, headers } = await startBenchService(
    { METERLINE_DATA_DIR: dataDir, METERLINE_ROLES: 'api,aggregator' },
    { key: 'm0', name: 'Meter 0', eventType: 'usage.0', aggregation: 'SUM', valueProperty: '$.v' },
  );
  try {
    const { store } = service;
    for (let m = 1; m < CHARGES; m++) {
      const meter = { key: `m${m}`, name: `Meter ${m}`, eventType: `usage.${m}`, aggregation: 'SUM', valueProperty: '$.v' };
      await fetch(`${base}/v1/meters`, { method: 'POST', headers, body: JSON.stringify(meter) });
    }
    const plan = {
      key: 'bench',
      name: 'Bench',
      currency: 'USD',
      effectiveFrom: '2020-01-01T00:00:00Z',
      charges: Array.from({ length: CHARGES }, (_, m) => ({
        key: `c${m}`,
        meter: `m${m}`,
        price: { model: 'graduated', tiers: [{ upTo: '100', unitAmount: '0.10' }, { upTo: null, unitAmount: '0.05' }] },
      })),
    };
    const created = await fetch(`${base}/v1/plans`, { method: 'POST', headers, body: JSON.stringify(plan) });
    if (created.status !== 201) throw new Error(`plan: ${created.status}`);

    // Catalog rows are written in bulk: creating 10,000 customers one request at a time would
    // measure the catalog API, not rating.
    const now = toClickHouseTime(new Date());
    const ids = Array.from({ length: CUSTOMERS }, (_, i) => `cust-${i}`);
    await insertRows(
      store,
      'customers',
      customerInsertRow,
      ids.map((id) => ({ tenant_id: 'default', id, name: id, timezone: 'UTC', currency: 'USD', billing_anchor_day: 1, subjects: [id], billing_contacts: [], created_at: now })),
    );
    const terms = { plan: 'bench', startsAt: '2020-01-01T00:00:00Z', overrides: {}, discounts: [], taxRates: [{ name: 'VAT', percent: '20' }], reason: '' };
    await insertRows(
      store,
      'contract_versions',
      contractVersionRow,
      ids.map((id) => ({ tenant_id: 'default', customer_id: id, version: 1, terms: JSON.stringify(terms), created_at: now, created_by: 'bench', reason: '' })),
    );
    const time = new Date(Date.now() - 60_000).toISOString();
    for (let m = 0; m < CHARGES; m++) {
      const events = ids.map((id, i) => ({ specversion: '1.0', id: `${id}-${m}`, type: `usage.${m}`, subject: id, time, data: { v: String((i % 300) + 0.5) } }));
      for (let offset = 0; offset < events.length; offset += 5_000) {
        const response = await fetch(`${base}/v1/events`, { method: 'POST', headers, body: JSON.stringify(events.slice(offset, offset + 5_000)) });
        if (response.status !== 202) throw new Error(`events: ${response.status}`);
      }
    }

    const periodStart = new Date();
    periodStart.setUTCDate(1);
    periodStart.setUTCHours(0, 0, 0, 0);
    const bareStarted = performance.now();
    const usage = await selectRows<{ subject: string; meter_key: string; v: string }>(
      store,
      `SELECT subject, meter_key, toString(sum(value)) AS v FROM ${store.table('events')}
        WHERE tenant_id = 'default' AND meter_key != '' AND toStartOfMinute(time) >= {from:DateTime64(3, 'UTC')}
        GROUP BY subject, meter_key SETTINGS optimize_use_projections = 1`,
      { from: toClickHouseTime(periodStart) },
    );
    const bareSeconds = (performance.now() - bareStarted) / 1000;
    if (usage.length !== CUSTOMERS * CHARGES) throw new Error(`bare query: ${usage.length} rows`);

    const log = createLogger('warn');
    const catalog = buildCatalog({ store, log, cacheTtlMs: 60_000 });
    const plans = buildPlansContracts({ store, catalog });
    const charges = buildCharges({ store, catalog, plans });
    const started = performance.now();
    const rated = await charges.forCustomers('default', ids);
    const seconds = (performance.now() - started) / 1000;
    if (rated.length !== CUSTOMERS) throw new Error(`rated ${rated.length} customers`);

    console.log('\n## Rating: every customer\'s current period from the rollups\n');
    console.log(`Machine: ${machine()}`);
    console.log(`${CUSTOMERS} customers × ${CHARGES} graduated charges, one tax rate, ${CUSTOMERS * CHARGES} events\n`);
    console.log('| step | seconds |');
    console.log('|---|---:|');
    console.log(`| bare ClickHouse query of the same usage (subject × meter totals) | ${bareSeconds.toFixed(2)} |`);
    console.log(`| rating all customers (contracts, plans, usage, statements) | ${seconds.toFixed(2)} |`);
    console.log(`\nRating takes ${(seconds / bareSeconds).toFixed(1)}× the bare query.`);
  } finally {
    await service.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}
