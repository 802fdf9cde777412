import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Decimal } from 'decimal.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { buildCatalog } from '../catalog/index.js';
import { createLogger } from '../platform/logger.js';
import { selectRows } from '../platform/store.js';
import { buildCharges, buildPlansContracts, buildRatingLoop, type Charges } from '../rater/index.js';
import { cloudEvent, createTenant, expectStatus } from './support/fixtures.js';
import {
  allPanels,
  expandClickHouseMacros,
  interpolateVariables,
  loadDashboards,
  queryPanels,
  variableQuery,
  type QueryPanel,
  type TimeRange,
} from './support/grafana.js';
import { isExported, metricFamilies, metricNamesInPromQL, metricNamesInVariableQuery } from './support/prometheus.js';
import { startScrapedService, type ScrapedService } from './support/scrape.js';
import { startTestService, type TestService } from './support/service.js';

/**
 * The provisioned Grafana dashboards, checked against the real service: every ClickHouse
 * query runs on the real engine against seeded data after the plugin's macros are expanded,
 * and every Prometheus query names only metrics the running service exports.
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DASHBOARDS = loadDashboards(join(ROOT, 'dashboards'));
const PROMETHEUS = 'prometheus';
const CLICKHOUSE = 'grafana-clickhouse-datasource';

/** The columns each ClickHouse panel's query must return, in order; a new panel must be listed. */
const EXPECTED_COLUMNS: Record<string, readonly string[]> = {
  'Events and subjects in range': ['events', 'active_subjects'],
  Meters: ['key', 'name', 'event_type', 'aggregation', 'value_property', 'group_by', 'created_at'],
  'Usage by meter': ['time', 'meter', 'value'],
  'Usage by meter and group over the range': ['meter', 'dimensions', 'aggregation', 'value'],
  'Top subjects by events': ['subject', 'customer', 'events', 'first_event', 'last_event'],
  'Events per customer': ['time', 'customer', 'events'],
  'Events per subject (top 10)': ['time', 'subject', 'events'],
  Customers: ['id', 'name', 'timezone', 'currency', 'billing_anchor_day', 'subject_list', 'created_at'],
  'Period-to-date revenue by customer': ['customer', 'currency', 'period_start', 'period_end', 'subtotal', 'tax', 'total', 'rated_at'],
  'Top customers by period-to-date revenue': ['rank', 'customer', 'currency', 'subtotal', 'share_percent'],
  'Cost vs billed and margin (markup charges)': ['customer', 'charge', 'category', 'currency', 'cost', 'billed', 'margin', 'margin_percent'],
  'Forecast vs period-to-date': ['customer', 'currency', 'period_start', 'period_end', 'elapsed_percent', 'period_to_date', 'forecast', 'method'],
};

/** Panels that read the rater's snapshots: the latest one per customer in the period containing the end of the range. */
const RATED_PANELS = [
  'Period-to-date revenue by customer',
  'Top customers by period-to-date revenue',
  'Cost vs billed and margin (markup charges)',
  'Forecast vs period-to-date',
];

/** Panels that must be answered by the usage_by_minute projection, as the usage API is. */
const ROLLUP_PANELS = ['Usage by meter', 'Usage by meter and group over the range'];

/** Tables a dashboard may read. api_keys holds key hashes and scopes: no dashboard has any business there. */
const READABLE_TABLES = new Set(['events', 'meters', 'customers', 'tenants', 'rated_charges']);
const CATALOG_TABLES = new Set(['meters', 'customers', 'tenants']);

interface Provisioned {
  readonly uid: string;
  readonly type: string;
}

function provisionedDatasources(): Provisioned[] {
  const file = parseYaml(readFileSync(join(ROOT, 'dashboards/provisioning/datasources/datasources.yaml'), 'utf8')) as {
    datasources?: Array<{ uid?: unknown; type?: unknown }>;
  };
  return (file.datasources ?? []).map((ds) => ({ uid: String(ds.uid), type: String(ds.type) }));
}

interface NamedQuery {
  readonly dashboard: string;
  readonly panel: QueryPanel;
  readonly sql: string;
}

function clickHousePanels(): NamedQuery[] {
  return DASHBOARDS.flatMap(({ dashboard }) =>
    queryPanels(dashboard).flatMap((panel) =>
      panel.targets
        .filter((target) => target.datasource.type === CLICKHOUSE)
        .map((target) => ({ dashboard: dashboard.title, panel, sql: target.rawSql ?? '' })),
    ),
  );
}

function prometheusTargets(): Array<{ dashboard: string; panel: QueryPanel; expr: string; refId: string }> {
  return DASHBOARDS.flatMap(({ dashboard }) =>
    queryPanels(dashboard).flatMap((panel) =>
      panel.targets
        .filter((target) => target.datasource.type === PROMETHEUS)
        .map((target) => ({ dashboard: dashboard.title, panel, expr: target.expr ?? '', refId: target.refId })),
    ),
  );
}

const CH_PANELS = clickHousePanels();
const PROM_TARGETS = prometheusTargets();
const CH_VARIABLES = DASHBOARDS.flatMap(({ dashboard }) =>
  dashboard.templating.list
    .filter((variable) => variable.datasource?.type === CLICKHOUSE)
    .map((variable) => ({ dashboard: dashboard.title, variable, sql: variableQuery(variable) ?? '' })),
);
const PROM_VARIABLES = DASHBOARDS.flatMap(({ dashboard }) =>
  dashboard.templating.list
    .filter((variable) => variable.datasource?.type === PROMETHEUS)
    .map((variable) => ({ dashboard: dashboard.title, variable, query: variableQuery(variable) ?? '' })),
);

describe('dashboard files', () => {
  const datasources = provisionedDatasources();

  it('provisions one Prometheus and one ClickHouse data source, with fixed uids', () => {
    expect(datasources.map((ds) => ds.type).sort()).toEqual([CLICKHOUSE, PROMETHEUS]);
    for (const ds of datasources) expect(ds.uid).toMatch(/^[a-z0-9-]{1,40}$/);
  });

  it('finds both dashboards, with unique uids and titles', () => {
    expect(DASHBOARDS.map((d) => d.file)).toEqual(expect.arrayContaining(['pipeline-health.json', 'usage.json']));
    const uids = DASHBOARDS.map((d) => d.dashboard.uid);
    expect(new Set(uids).size).toBe(uids.length);
    const titles = DASHBOARDS.map((d) => d.dashboard.title);
    expect(new Set(titles).size).toBe(titles.length);
  });

  for (const { file, dashboard } of DASHBOARDS) {
    describe(file, () => {
      const panels = allPanels(dashboard);

      it('has unique panel ids and titles', () => {
        const ids = panels.map((panel) => panel.id);
        expect(new Set(ids).size, `duplicate ids in ${ids.join(',')}`).toBe(ids.length);
        const titles = queryPanels(dashboard).map((panel) => panel.title);
        expect(new Set(titles).size, 'panel titles identify panels in the tests and the README').toBe(titles.length);
      });

      it('places every panel on the 24-column grid without overlaps', () => {
        const cells = new Map<string, string>();
        for (const panel of panels) {
          const { x, y, w, h } = panel.gridPos;
          expect(x + w, `${panel.title} runs past column 24`).toBeLessThanOrEqual(24);
          for (let col = x; col < x + w; col += 1) {
            for (let row = y; row < y + h; row += 1) {
              const taken = cells.get(`${col},${row}`);
              expect(taken, `${panel.title} overlaps ${taken ?? ''}`).toBeUndefined();
              cells.set(`${col},${row}`, panel.title);
            }
          }
        }
      });

      it('refers to data sources by the provisioned uid and type only', () => {
        const known = new Map(datasources.map((ds) => [ds.uid, ds.type]));
        const refs = [
          ...queryPanels(dashboard).flatMap((panel) => [panel.datasource, ...panel.targets.map((target) => target.datasource)]),
          ...dashboard.templating.list.flatMap((variable) => (variable.datasource ? [variable.datasource] : [])),
        ];
        expect(refs.length).toBeGreaterThan(0);
        for (const ref of refs) expect(known.get(ref.uid), `data source ${ref.uid}`).toBe(ref.type);
      });

      it('describes the question each panel answers', () => {
        for (const panel of queryPanels(dashboard)) expect(panel.description, panel.title).toMatch(/\?/);
      });
    });
  }

  it('gives every ClickHouse panel SQL-editor targets whose format matches the query type', () => {
    for (const { panel } of CH_PANELS) {
      for (const target of panel.targets) {
        expect(target.editorType, panel.title).toBe('sql');
        expect(target.format, panel.title).toBe(target.queryType === 'timeseries' ? 0 : 1);
        expect(target.queryType, panel.title).toBe(panel.type === 'timeseries' ? 'timeseries' : 'table');
      }
    }
  });

  it('lists the columns of every ClickHouse panel in this test', () => {
    expect(CH_PANELS.map(({ panel }) => panel.title).sort()).toEqual(Object.keys(EXPECTED_COLUMNS).sort());
  });

  it('reads only Meterline tables that exist, catalog tables with FINAL, and every table scoped to the tenant', () => {
    const queries = [...CH_PANELS.map(({ panel, sql }) => ({ name: panel.title, sql })), ...CH_VARIABLES.map(({ variable, sql }) => ({ name: `$${variable.name}`, sql }))];
    for (const { name, sql } of queries) {
      const tables = [...sql.matchAll(/\bmeterline\.(\w+)(\s+FINAL\b)?/g)];
      expect(tables.length, name).toBeGreaterThan(0);
      for (const [, table, final] of tables) {
        expect(READABLE_TABLES.has(table as string), `${name} reads ${table}`).toBe(true);
        if (CATALOG_TABLES.has(table as string)) expect(final, `${name}: ${table} is a ReplacingMergeTree, read it with FINAL`).toBeDefined();
      }
      // Only the tenant list itself is not per tenant.
      const perTenant = tables.filter(([, table]) => table !== 'tenants').length;
      const scoped = [...sql.matchAll(/\b(?:\w+\.)?tenant_id = '\$\{tenant\}'/g)].length;
      expect(scoped, `${name}: one tenant_id = '\${tenant}' per table read`).toBe(perTenant);
    }
  });

  it('compares "All" with the allValue the variables send', () => {
    const allValues = new Map(CH_VARIABLES.map(({ variable }) => [variable.name, variable.includeAll ? variable.allValue : undefined]));
    for (const { panel, sql } of CH_PANELS) {
      for (const [, name, literal] of sql.matchAll(/'\$\{(\w+)\}' = '([^']*)'/g)) {
        expect(allValues.get(name as string), `${panel.title}: $${name}`).toBe(literal);
      }
    }
  });
});

const MINUTE = 60_000;
/** When the seeded plans and contracts take effect: well before any billing period the test runs in. */
const TERMS_FROM = '2026-01-01T00:00:00Z';

interface SeededEvent {
  readonly id: string;
  readonly subject: string;
  readonly time: string;
  readonly data: { readonly v: string | number; readonly region: string; readonly user: string };
}

describe('ClickHouse panels and variables on the real engine', () => {
  let svc: TestService;
  let key: string;
  let range: TimeRange;
  let seeded: SeededEvent[];
  /** The statement each customer's newest snapshot holds, as the rater computed it. */
  const lastRated = new Map<string, Charges>();
  const AGGREGATIONS = ['SUM', 'COUNT', 'MAX', 'MIN', 'UNIQUE_COUNT', 'LATEST', 'AVG'] as const;
  const meterKey = (aggregation: string) => aggregation.toLowerCase().replace('_', '-');

  beforeAll(async () => {
    // Without the rater role: the test runs the rater's cycles itself, so snapshots appear only when it says.
    svc = await startTestService({ env: { METERLINE_ROLES: 'api,aggregator' } });
    key = svc.operatorKey;
    // An empty tenant: every panel must show nothing of another tenant's data.
    await createTenant(svc, 'empty');
    for (const aggregation of AGGREGATIONS) {
      const valueProperty = aggregation === 'COUNT' ? undefined : aggregation === 'UNIQUE_COUNT' ? '$.user' : '$.v';
      await expectStatus(
        svc.request('POST', '/v1/meters', {
          key,
          body: {
            key: meterKey(aggregation),
            name: aggregation,
            eventType: 'usage',
            aggregation,
            ...(valueProperty ? { valueProperty } : {}),
            groupBy: { region: '$.region' },
          },
        }),
        201,
      );
    }
    for (const customer of [
      { id: 'acme', name: 'Acme', timezone: 'UTC', currency: 'USD', subjects: ['s1', 's2'] },
      { id: 'beta', name: 'Beta', timezone: 'Asia/Kathmandu', currency: 'NPR', subjects: ['s3'] },
    ]) {
      await expectStatus(svc.request('POST', '/v1/customers', { key, body: customer }), 201);
    }
    // Relative to the real clock: the service judges event times against it.
    const start = Math.floor(Date.now() / MINUTE) * MINUTE - 120 * MINUTE;
    const at = (ms: number) => new Date(start + ms).toISOString();
    seeded = [
      { id: 'd1', subject: 's1', time: at(10_000), data: { v: '5', region: 'eu', user: 'alice' } },
      { id: 'd2', subject: 's1', time: at(40_000), data: { v: 3, region: 'us', user: 'bob' } },
      { id: 'd3', subject: 's1', time: at(65_000), data: { v: '10', region: 'eu', user: 'alice' } },
      { id: 'd4', subject: 's2', time: at(90 * MINUTE), data: { v: '2.5', region: 'eu', user: 'carol' } },
      { id: 'd5', subject: 's3', time: at(120 * MINUTE - 1), data: { v: 7, region: 'us', user: 'bob' } },
      { id: 'd6', subject: 's4', time: at(30 * MINUTE), data: { v: '1', region: 'eu', user: 'dave' } },
    ];
    const events = seeded.map((event) => cloudEvent({ ...event, type: 'usage' }));
    const unmetered = cloudEvent({ id: 'd7', subject: 's4', type: 'other', time: at(31 * MINUTE), data: {} });
    const answer = await expectStatus(svc.request('POST', '/v1/events', { key, body: [...events, unmetered] }), 202);
    expect(answer.body).toEqual({ accepted: 7, duplicates: 0, rejected: [] });

    // Terms: Acme and Gamma on a USD plan (a platform fee, calls, compute passed through at a 20 %
    // markup), Beta on an NPR plan whose compute markup has a minimum. Gamma sends nothing.
    await expectStatus(svc.request('POST', '/v1/customers', { key, body: { id: 'gamma', name: 'Gamma', timezone: 'UTC', currency: 'USD', subjects: ['s5'] } }), 201);
    for (const plan of [
      {
        key: 'pro',
        name: 'Pro',
        currency: 'USD',
        charges: [
          { key: 'platform', price: { model: 'flat', amount: '49' }, category: 'Platform' },
          { key: 'calls', meter: 'count', price: { model: 'unit', unitAmount: '0.25' }, category: 'Usage' },
          { key: 'compute', meter: 'sum', price: { model: 'markup', markupPercent: '20' }, category: 'Pass-through' },
        ],
      },
      {
        key: 'starter',
        name: 'Starter',
        currency: 'NPR',
        charges: [
          { key: 'calls', meter: 'count', price: { model: 'unit', unitAmount: '15' }, category: 'Usage' },
          { key: 'compute', meter: 'sum', price: { model: 'markup', markupPercent: '35', minimumAmount: '100' }, category: 'Pass-through' },
        ],
      },
    ]) {
      await expectStatus(svc.request('POST', '/v1/plans', { key, body: { ...plan, effectiveFrom: TERMS_FROM } }), 201);
    }
    const contract = (customer: string, terms: Record<string, unknown>) =>
      expectStatus(svc.request('PUT', `/v1/customers/${customer}/contract`, { key, body: { startsAt: TERMS_FROM, ...terms } }), 200);
    for (const [customer, plan] of [['acme', 'pro'], ['beta', 'starter'], ['gamma', 'pro']] as const) await contract(customer, { plan });

    // The rater role's loop on the same store, one cycle at a time. A change of terms marks the
    // customer, as the service does when a contract is stored.
    const log = createLogger('silent');
    const store = svc.service.store;
    const catalog = buildCatalog({ store, log, cacheTtlMs: 0 });
    const plans = buildPlansContracts({ store, catalog });
    const charges = buildCharges({ store, catalog, plans });
    const rater = buildRatingLoop({
      store,
      log,
      metrics: svc.service.metrics,
      subjectOwners: (tenantId) => catalog.subjectOwners(tenantId),
      rate: async (tenantId, customerIds) => {
        const rated = await charges.forCustomers(tenantId, customerIds);
        for (const statement of rated) lastRated.set(statement.customerId, statement);
        return rated;
      },
      intervalMs: MINUTE,
    });
    for (const customer of ['acme', 'beta', 'gamma']) rater.markCustomer('default', customer);
    await rater.runOnce();
    // A second later Acme starts paying sales tax: its next snapshot is the one the panels show.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await contract('acme', { plan: 'pro', taxRates: [{ name: 'Sales tax', percent: '8.25' }], reason: 'registered for sales tax' });
    rater.markCustomer('default', 'acme');
    await rater.runOnce();

    // Whole minutes; the end comes after the last rating, as rated panels read the figures as of the end.
    range = { from: new Date(start - 60 * MINUTE), to: new Date(Math.floor(Date.now() / MINUTE) * MINUTE + MINUTE), intervalSeconds: 60 };
  });
  afterAll(async () => svc?.close());

  /** Panel SQL as the plugin would send it, against this service's database. */
  const render = (sql: string, values: Record<string, string>, timeRange: TimeRange = range) =>
    expandClickHouseMacros(interpolateVariables(sql, values), timeRange).replace(/\bmeterline\.(?=\w)/g, `${svc.service.store.database}.`);
  const run = (sql: string) => selectRows<Record<string, unknown>>(svc.service.store, sql, {});
  const ALL = { tenant: 'default', meter: '__all', customer: '__all' };

  it.each(CH_VARIABLES.map((entry) => [`${entry.dashboard} $${entry.variable.name}`, entry] as const))(
    'variable %s lists the seeded values',
    async (_name, { variable, sql }) => {
      const seeded: Record<string, string> = { tenant: 'default', meter: 'sum', customer: 'acme' };
      const rows = await run(render(sql, ALL));
      expect(rows.length).toBeGreaterThan(0);
      const values = rows.map((row) => String(Object.values(row)[0]));
      expect(values).toContain(seeded[variable.name]);
      if (variable.name === 'tenant') expect(values).toEqual(expect.arrayContaining(['default', 'empty']));
    },
  );

  const combinations: Array<[string, Record<string, string>, number]> = [
    ['all meters and customers, 20 s interval', ALL, 20],
    ['all meters and customers, 1 h interval', ALL, 3600],
    ['one meter and one customer, 1 min interval', { tenant: 'default', meter: 'sum', customer: 'acme' }, 60],
  ];
  const cases = CH_PANELS.flatMap((entry) => combinations.map(([label, values, interval]) => [`${entry.panel.title} (${label})`, entry, values, interval] as const));

  it.each(cases)('%s returns rows with the expected columns', async (_name, { panel, sql }, values, intervalSeconds) => {
    const timeRange = { ...range, intervalSeconds };
    const rows = await run(render(sql, values, timeRange));
    expect(rows.length).toBeGreaterThan(0);
    const expected = EXPECTED_COLUMNS[panel.title];
    for (const row of rows) expect(Object.keys(row)).toEqual(expected);
    if (panel.type === 'timeseries') {
      for (const row of rows) {
        const time = Date.parse(`${String(row.time).replace(' ', 'T')}Z`);
        expect(time).toBeGreaterThanOrEqual(timeRange.from.getTime() - intervalSeconds * 1000);
        expect(time).toBeLessThanOrEqual(timeRange.to.getTime());
      }
    }
  });

  it.each(CH_PANELS.map((entry) => [entry.panel.title, entry] as const))('%s shows nothing of another tenant', async (_name, { sql }) => {
    const rows = await run(render(sql, { tenant: 'empty', meter: '__all', customer: '__all' }));
    // A bare aggregate answers one row of zeros when nothing matches.
    for (const row of rows) for (const value of Object.values(row)) expect(Number(value)).toBe(0);
  });

  it('honours the meter and customer variables', async () => {
    const byTitle = (title: string) => CH_PANELS.find((entry) => entry.panel.title === title)?.sql ?? '';
    const oneMeter = await run(render(byTitle('Usage by meter'), { tenant: 'default', meter: 'sum', customer: '__all' }));
    expect(new Set(oneMeter.map((row) => row.meter))).toEqual(new Set(['sum']));
    const oneCustomer = await run(render(byTitle('Events per customer'), { tenant: 'default', meter: '__all', customer: 'acme' }));
    expect(new Set(oneCustomer.map((row) => row.customer))).toEqual(new Set(['acme']));
    const everyone = await run(render(byTitle('Events per customer'), ALL));
    expect(new Set(everyone.map((row) => row.customer))).toEqual(new Set(['acme', 'beta', '(no customer)']));
    const [totals] = await run(render(byTitle('Events and subjects in range'), ALL));
    expect(totals && Object.values(totals).map(String)).toEqual(['7', '4']);
    const [acme] = await run(render(byTitle('Events and subjects in range'), { ...ALL, customer: 'acme' }));
    expect(acme && Object.values(acme).map(String)).toEqual(['4', '2']);
  });

  it.each(ROLLUP_PANELS)('%s reads the usage_by_minute rollup, never raw rows', async (title) => {
    const entry = CH_PANELS.find((candidate) => candidate.panel.title === title);
    expect(entry).toBeDefined();
    const sql = render(entry?.sql ?? '', ALL);
    const plan = await selectRows<{ explain: string }>(svc.service.store, `EXPLAIN projections = 1 ${sql}`, {});
    expect(plan.map((line) => line.explain).join('\n')).toMatch(/usage_by_minute/);
    // With the projection required, the same statement still runs.
    await run(`${sql} SETTINGS force_optimize_projection = 1`);
  });

  it('shows the same per-group values as the usage API, for every aggregation', async () => {
    const sql = CH_PANELS.find((entry) => entry.panel.title === 'Usage by meter and group over the range')?.sql ?? '';
    const rows = await run(render(sql, ALL));
    const query = `from=${range.from.toISOString()}&to=${range.to.toISOString()}&groupBy=region`;
    for (const aggregation of AGGREGATIONS) {
      const meter = meterKey(aggregation);
      const api = await expectStatus(svc.request('GET', `/v1/meters/${meter}/query?${query}`, { key }), 200);
      const expected = Object.fromEntries(
        (api.body.data as Array<{ groupBy: { region: string }; value: string }>).map((row) => [row.groupBy.region, new Decimal(row.value).toFixed()]),
      );
      const shown = Object.fromEntries(
        rows
          .filter((row) => row.meter === meter)
          .map((row) => [(JSON.parse(String(row.dimensions)) as { region: string }).region, new Decimal(String(row.value)).toFixed()]),
      );
      expect(shown, aggregation).toEqual(expected);
      expect(Object.keys(shown).sort(), aggregation).toEqual(['eu', 'us']);
    }
  });

  it('adds up to the usage API total over time buckets, for additive meters', async () => {
    const sql = CH_PANELS.find((entry) => entry.panel.title === 'Usage by meter')?.sql ?? '';
    const rows = await run(render(sql, ALL, { ...range, intervalSeconds: 600 }));
    const query = `from=${range.from.toISOString()}&to=${range.to.toISOString()}`;
    for (const meter of ['sum', 'count', 'unique-count']) {
      const api = await expectStatus(svc.request('GET', `/v1/meters/${meter}/query?${query}`, { key }), 200);
      const total = rows.filter((row) => row.meter === meter).reduce((sum, row) => sum.plus(String(row.value)), new Decimal(0));
      if (meter === 'unique-count') {
        // Distinct counts do not add across buckets; each bucket is at most the range's count.
        for (const row of rows.filter((candidate) => candidate.meter === meter)) {
          expect(new Decimal(String(row.value)).lte(api.body.data[0].value as string)).toBe(true);
        }
      } else {
        expect(total.toFixed(), meter).toBe(new Decimal(api.body.data[0].value as string).toFixed());
      }
    }
  });

  describe('revenue panels, over the rater\'s snapshots', () => {
    const sqlOf = (title: string) => CH_PANELS.find((entry) => entry.panel.title === title)?.sql ?? '';
    const exact = (value: unknown) => new Decimal(String(value)).toFixed();
    /** A DateTime64 as the engine prints it, as an ISO instant. */
    const iso = (value: unknown) => new Date(`${String(value).replace(' ', 'T')}Z`).toISOString();
    /** Within the last of the nine decimals the engine keeps, which it truncates. */
    const close = (value: unknown, expected: Decimal) => new Decimal(String(value)).minus(expected).abs().lte('1e-8');
    const charges = async (customer: string) => (await expectStatus(svc.request('GET', `/v1/customers/${customer}/charges`, { key }), 200)).body as Charges;
    const history = async (customer: string) =>
      (await expectStatus(svc.request('GET', `/v1/customers/${customer}/charges/history`, { key }), 200)).body.data as Array<{ ratedAt: string; tax: string; total: string }>;
    const SUBJECTS: Record<string, readonly string[]> = { acme: ['s1', 's2'], beta: ['s3'], gamma: ['s5'] };
    /** The compute meter's cost for a customer from the seeded events, counting those inside its billing period. */
    const seededCost = (customer: string, periodStart: string) =>
      seeded
        .filter((event) => SUBJECTS[customer]?.includes(event.subject) && Date.parse(event.time) >= Date.parse(periodStart))
        .reduce((sum, event) => sum.plus(String(event.data.v)), new Decimal(0));

    it.each(RATED_PANELS)('%s has a query in the dashboard', (title) => {
      expect(sqlOf(title)).toMatch(/meterline\.rated_charges/);
    });

    it('shows each customer\'s latest rated figures of the current period, the same as the charges API', async () => {
      const rows = await run(render(sqlOf('Period-to-date revenue by customer'), ALL));
      expect(rows.map((row) => row.customer)).toEqual(['acme', 'beta', 'gamma']);
      for (const row of rows) {
        const customer = String(row.customer);
        const api = await charges(customer);
        const [newest] = await history(customer);
        expect(
          { currency: row.currency, periodStart: iso(row.period_start), periodEnd: iso(row.period_end), subtotal: exact(row.subtotal), tax: exact(row.tax), total: exact(row.total), ratedAt: iso(row.rated_at) },
          customer,
        ).toEqual({
          currency: api.currency,
          periodStart: api.periodStart,
          periodEnd: api.periodEnd,
          subtotal: exact(api.subtotal),
          tax: exact(api.tax),
          total: exact(api.total),
          ratedAt: newest?.ratedAt,
        });
      }
      // Acme was rated twice; the figure shown is the one after its sales tax came in.
      const [after, before] = await history('acme');
      expect(before?.tax).toBe('0.00');
      const acme = rows.find((row) => row.customer === 'acme');
      expect(exact(acme?.tax)).toBe(exact(after?.tax));
      expect(new Decimal(String(acme?.tax)).gt(0)).toBe(true);
      // Gamma sent nothing: its period-to-date revenue is the platform fee.
      expect(exact(rows.find((row) => row.customer === 'gamma')?.subtotal)).toBe('49');
    });

    it('reads the figures as of the end of the time range, and honours the customer variable', async () => {
      const [after, before] = await history('acme');
      // The first whole second after Acme's first rating: its second rating came more than a second later.
      const between = new Date(Math.ceil((Date.parse(before?.ratedAt ?? '') + 1) / 1000) * 1000);
      expect(between.getTime()).toBeLessThan(Date.parse(after?.ratedAt ?? ''));
      const then = await run(render(sqlOf('Period-to-date revenue by customer'), { ...ALL, customer: 'acme' }, { ...range, to: between }));
      expect(then.map((row) => [row.customer, iso(row.rated_at), exact(row.tax), exact(row.total)])).toEqual([['acme', before?.ratedAt, '0', exact(before?.total)]]);
      const beta = await run(render(sqlOf('Period-to-date revenue by customer'), { ...ALL, customer: 'beta' }));
      expect(beta.map((row) => row.customer)).toEqual(['beta']);
    });

    it('ranks customers by period-to-date revenue within each currency, with their share of it', async () => {
      // The ranking lists every customer, whichever one the customer variable selects.
      const rows = await run(render(sqlOf('Top customers by period-to-date revenue'), { ...ALL, customer: 'beta' }));
      expect(rows.map((row) => [row.currency, Number(row.rank), row.customer])).toEqual([
        ['NPR', 1, 'beta'],
        ['USD', 1, 'acme'],
        ['USD', 2, 'gamma'],
      ]);
      const subtotals = new Map<string, Decimal>();
      for (const customer of ['acme', 'beta', 'gamma']) subtotals.set(customer, new Decimal((await charges(customer)).subtotal));
      const usd = (subtotals.get('acme') ?? new Decimal(0)).plus(subtotals.get('gamma') ?? 0);
      for (const row of rows) {
        const subtotal = subtotals.get(String(row.customer)) ?? new Decimal(NaN);
        expect(exact(row.subtotal), String(row.customer)).toBe(subtotal.toFixed());
        const share = row.currency === 'USD' ? subtotal.times(100).div(usd) : new Decimal(100);
        expect(close(row.share_percent, share), `${String(row.customer)}: ${String(row.share_percent)} against ${share.toFixed()}`).toBe(true);
      }
    });

    it('shows the cost, billed amount and margin of every markup charge, as priced from the seeded usage', async () => {
      const rows = await run(render(sqlOf('Cost vs billed and margin (markup charges)'), ALL));
      expect(rows.map((row) => [row.customer, row.charge, row.category, row.currency])).toEqual([
        ['acme', 'compute', 'Pass-through', 'USD'],
        ['beta', 'compute', 'Pass-through', 'NPR'],
        ['gamma', 'compute', 'Pass-through', 'USD'],
      ]);
      // The plans: 20 % on cost for Acme and Gamma; 35 % on cost, at least 100, for Beta.
      const billedFor = (customer: string, cost: Decimal) =>
        (customer === 'beta' ? Decimal.max(cost.times('1.35'), 100) : cost.times('1.2')).toDecimalPlaces(2, Decimal.ROUND_HALF_UP);
      for (const row of rows) {
        const customer = String(row.customer);
        const api = await charges(customer);
        const line = api.lines.find((candidate) => candidate.charge === 'compute');
        const cost = seededCost(customer, api.periodStart);
        const billed = billedFor(customer, cost);
        expect({ cost: exact(row.cost), billed: exact(row.billed), margin: exact(row.margin) }, customer).toEqual({
          cost: cost.toFixed(),
          billed: billed.toFixed(),
          margin: billed.minus(cost).toFixed(),
        });
        // The same figures as the statement the charges API answers.
        expect(exact(row.cost), customer).toBe(new Decimal(line?.parts[0]?.cost ?? NaN).toFixed());
        expect(exact(row.billed), customer).toBe(new Decimal(line?.amount ?? NaN).toFixed());
        const percent = billed.isZero() ? new Decimal(0) : billed.minus(cost).times(100).div(billed);
        expect(close(row.margin_percent, percent), `${customer}: ${String(row.margin_percent)} against ${percent.toFixed()}`).toBe(true);
      }
      // Acme's usage falls in its period (unless the period began inside the seeded two hours).
      const acme = rows.find((row) => row.customer === 'acme');
      if (Date.parse((await charges('acme')).periodStart) <= Date.parse(seeded[0]?.time ?? '')) expect(exact(acme?.cost)).toBe('20.5');
    });

    it('puts the rater\'s forecast next to the period-to-date subtotal', async () => {
      const rows = await run(render(sqlOf('Forecast vs period-to-date'), ALL));
      expect(rows.map((row) => row.customer)).toEqual(['acme', 'beta', 'gamma']);
      for (const row of rows) {
        const customer = String(row.customer);
        const rated = lastRated.get(customer);
        expect(rated?.forecast, customer).toBeDefined();
        expect({ periodToDate: exact(row.period_to_date), forecast: exact(row.forecast), method: row.method }, customer).toEqual({
          periodToDate: exact((await charges(customer)).subtotal),
          forecast: exact(rated?.forecast?.subtotal),
          method: rated?.forecast?.method,
        });
        const elapsed = Number(row.elapsed_percent);
        expect(elapsed).toBeGreaterThanOrEqual(0);
        expect(elapsed).toBeLessThanOrEqual(100);
      }
      // Fixed fees are not scaled: Gamma, with only its platform fee, is forecast to end where it stands.
      const gamma = rows.find((row) => row.customer === 'gamma');
      expect([exact(gamma?.period_to_date), exact(gamma?.forecast)]).toEqual(['49', '49']);
    });
  });
});

describe('Prometheus panels and variables against a running service in Kafka mode', () => {
  let svc: TestService | undefined;
  let families: ScrapedService['families'];

  beforeAll(async () => {
    ({ svc, families } = await startScrapedService('dashboards'));
  });
  afterAll(async () => svc?.close());

  it('tells exported series from invented ones', () => {
    const sample = metricFamilies(
      ['# TYPE a_seconds histogram', '# TYPE b_total counter', '# TYPE c_count counter', '# TYPE d summary', ''].join('\n'),
    );
    expect(['a_seconds_bucket', 'a_seconds_sum', 'a_seconds_count', 'b_total', 'c_count', 'd_sum', 'd_count'].filter((name) => !isExported(name, sample))).toEqual([]);
    expect(['a_seconds', 'b', 'b_total_sum', 'c', 'd', 'd_bucket', 'e_total'].filter((name) => isExported(name, sample))).toEqual([]);
    expect(
      metricNamesInPromQL('histogram_quantile(0.99, sum by (le, route) (rate(a_seconds_bucket{route=~"$r", x="y"}[$__rate_interval]))) / on (job) group_left b_total offset 5m > 1e3'),
    ).toEqual(['a_seconds_bucket', 'b_total']);
  });

  it('exports the metric families the README lists', () => {
    for (const name of [
      'meterline_ingest_events_total',
      'meterline_http_request_duration_seconds',
      'meterline_aggregator_consumer_lag_messages',
      'meterline_aggregator_dead_letters_total',
    ]) {
      expect(families.has(name), name).toBe(true);
    }
  });

  it.each(PROM_TARGETS.map((entry) => [`${entry.panel.title} ${entry.refId}`, entry] as const))(
    '%s selects only exported metrics',
    (_name, { expr }) => {
      const names = metricNamesInPromQL(expr);
      expect(names.length, expr).toBeGreaterThan(0);
      for (const name of names) expect(isExported(name, families), `${name} in ${expr}`).toBe(true);
    },
  );

  it.each(PROM_VARIABLES.map((entry) => [`${entry.dashboard} $${entry.variable.name}`, entry] as const))(
    'variable %s reads an exported metric',
    (_name, { query }) => {
      const names = metricNamesInVariableQuery(query);
      expect(names.length).toBeGreaterThan(0);
      for (const name of names) expect(isExported(name, families), name).toBe(true);
    },
  );

  it('filters every Prometheus query by the dashboard job and instance variables', () => {
    for (const { panel, expr } of PROM_TARGETS) {
      const selectors = [...expr.matchAll(/(meterline_\w+)\{([^}]*)\}/g)];
      const bare = expr.replace(/\{[^}]*\}/g, '').match(/meterline_\w+/g) ?? [];
      expect(bare.length, `${panel.title}: every metric carries a selector`).toBe(selectors.length);
      for (const [, , labels] of selectors) expect(labels, panel.title).toMatch(/job=~"\$job", instance=~"\$instance"/);
    }
  });
});
