import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
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
import { waitFor } from './support/process.js';
import { isExported, metricFamilies, metricNamesInPromQL, metricNamesInVariableQuery } from './support/prometheus.js';
import { startWebhookReceiver, type WebhookReceiver } from './support/receivers.js';
import { startScrapedService, type ScrapedService } from './support/scrape.js';
import { LOOPBACK_RECEIVERS, startTestService, type TestService } from './support/service.js';

/**
 * The provisioned Grafana dashboards, checked against the real service: every ClickHouse
 * query runs on the real engine against seeded data after the plugin's macros are expanded,
 * and every Prometheus query names only metrics the running service exports.
 */

// An oracle apart from the service's own decimals, wide enough that no expected total is rounded
// (the global Decimal's 20 digits would round big ones).
const Exact = Decimal.clone({ precision: 80, toExpNeg: -100, toExpPos: 100 });
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
  'Forecast vs budget': ['customer', 'currency', 'period_start', 'period_end', 'elapsed_percent', 'period_to_date', 'forecast', 'budget', 'over_budget', 'method'],
  'Alerts fired over time by kind': ['time', 'kind', 'alerts'],
  'Currently firing alerts': ['customer', 'kind', 'created_at', 'measure', 'value', 'threshold', 'currency', 'acknowledged_at'],
  'Delivery failures': ['customer', 'status', 'channel', 'target', 'attempts', 'last_error', 'updated_at'],
};

/** Panels that read the rater's snapshots: the latest one per customer in the period containing the end of the range. */
const RATED_PANELS = [
  'Period-to-date revenue by customer',
  'Top customers by period-to-date revenue',
  'Cost vs billed and margin (markup charges)',
  'Forecast vs budget',
];

/** Panels that must be answered by the usage_by_minute projection, as the usage API is. */
const ROLLUP_PANELS = ['Usage by meter', 'Usage by meter and group over the range'];

/**
 * Tables a dashboard may read. api_keys holds key hashes and scopes, webhook_endpoints signing
 * secrets: no dashboard has any business there.
 */
const READABLE_TABLES = new Set(['events', 'meters', 'customers', 'tenants', 'rated_charges', 'alerts', 'alert_deliveries', 'alert_rules']);
/** ReplacingMergeTree tables: without FINAL a query may see a row's older versions next to its latest. */
const FINAL_TABLES = new Set(['meters', 'customers', 'tenants', 'alerts', 'alert_deliveries']);

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

  it('finds every dashboard, with unique uids and titles', () => {
    expect(DASHBOARDS.map((d) => d.file)).toEqual(expect.arrayContaining(['alerts.json', 'pipeline-health.json', 'usage.json']));
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
        if (FINAL_TABLES.has(table as string)) expect(final, `${name}: ${table} is a ReplacingMergeTree, read it with FINAL`).toBeDefined();
      }
      // Only the tenant list itself is not per tenant.
      const perTenant = tables.filter(([, table]) => table !== 'tenants').length;
      const scoped = [...sql.matchAll(/\b(?:\w+\.)?tenant_id = '\$\{tenant\}'/g)].length;
      expect(scoped, `${name}: one tenant_id = '\${tenant}' per table read`).toBe(perTenant);
    }
  });

  it('grants Grafana\'s ClickHouse user SELECT on exactly the tables the dashboards read', () => {
    const users = readFileSync(join(ROOT, 'deploy/clickhouse/users.d/grafana.xml'), 'utf8');
    const granted = [...users.matchAll(/GRANT SELECT ON meterline\.(\w+)/g)].map(([, table]) => table as string);
    const read = [...CH_PANELS.map(({ sql }) => sql), ...CH_VARIABLES.map(({ sql }) => sql)].flatMap((sql) =>
      [...sql.matchAll(/\bmeterline\.(\w+)/g)].map(([, table]) => table as string),
    );
    expect(new Set(granted)).toEqual(new Set(read));
    expect(new Set(read)).toEqual(READABLE_TABLES);
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

interface DeliveryView {
  readonly channel: string;
  readonly target: string;
  readonly status: string;
  readonly attempts: number;
  readonly lastError?: string;
  readonly updatedAt: string;
}

interface AlertView {
  readonly id: string;
  readonly customerId: string;
  readonly kind: string;
  readonly state: string;
  readonly details: Record<string, unknown>;
  readonly createdAt: string;
  readonly acknowledgedAt?: string;
  readonly deliveries: DeliveryView[];
}

/** What a refusing endpoint answers; the outbox keeps it as the delivery's last error. */
const REFUSAL = 'endpoint says no';

interface RefusingEndpoint {
  readonly url: string;
  /** Requests received so far, including one held open. */
  readonly requests: () => number;
  close(): Promise<void>;
}

/**
 * A webhook endpoint that refuses its first `refusals` requests with a 500 and then answers nothing
 * until it is closed: its delivery stays pending with the refused attempts counted, as one does
 * between retries.
 */
async function startRefusingEndpoint(refusals: number): Promise<RefusingEndpoint> {
  let requests = 0;
  const server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      requests += 1;
      if (requests <= refusals) response.writeHead(500).end(REFUSAL);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks`,
    requests: () => requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

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
  /** The alerts the service raised on the seeded figures, as GET /v1/alerts answers them. */
  let seededAlerts: AlertView[];
  /** Webhook endpoint ids: Acme's accepting and refusing ones, Gamma's stalling one. */
  const endpoint = { ok: '', refusing: '', stalling: '' };
  const secrets: string[] = [];
  let accepting: WebhookReceiver | undefined;
  let refusing: RefusingEndpoint | undefined;
  let stalling: RefusingEndpoint | undefined;

  beforeAll(async () => {
    accepting = await startWebhookReceiver(() => 204);
    refusing = await startRefusingEndpoint(Infinity);
    stalling = await startRefusingEndpoint(2);
    // Without the rater role: the test runs the rater's cycles itself, so snapshots appear only when it
    // says. The alerts role evaluates each snapshot as it is stored and delivers what fires; three
    // quick attempts per delivery, so a refusing endpoint is given up on within the setup.
    svc = await startTestService({
      env: {
        ...LOOPBACK_RECEIVERS,
        METERLINE_ROLES: 'api,aggregator,alerts',
        METERLINE_ALERTS_INTERVAL: '100ms',
        METERLINE_DELIVERY_MAX_ATTEMPTS: '3',
        METERLINE_DELIVERY_BACKOFF_BASE: '20ms',
        METERLINE_DELIVERY_BACKOFF_MAX: '50ms',
        // The stalling endpoint's third attempt must outlast the tests.
        METERLINE_WEBHOOK_TIMEOUT: '10m',
      },
    });
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

    // Alerting, before anything is rated: every customer's spend crosses 10 in its currency, and
    // Beta's 50 % of a 200 budget. Acme has an accepting and a refusing endpoint, Gamma one that
    // refuses twice and then stalls, Beta none.
    const register = async (url: string, customerId: string) => {
      const created = await expectStatus(svc.request('POST', '/v1/webhook-endpoints', { key, body: { url, customerId } }), 201);
      secrets.push(created.body.secret as string);
      return created.body.id as string;
    };
    endpoint.ok = await register(accepting.url, 'acme');
    endpoint.refusing = await register(refusing.url, 'acme');
    endpoint.stalling = await register(stalling.url, 'gamma');
    await expectStatus(svc.request('POST', '/v1/alert-rules', { key, body: { kind: 'spend_threshold', thresholds: ['10'], channels: ['webhook'] } }), 201);
    await expectStatus(
      svc.request('POST', '/v1/alert-rules', { key, body: { kind: 'budget', customerId: 'beta', budget: '200', percentages: [50], channels: ['webhook'] } }),
      201,
    );

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
        return { rated, failed: [] };
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

    const listAlerts = async () => (await expectStatus(svc.request('GET', '/v1/alerts?limit=1000', { key }), 200)).body.data as AlertView[];
    const settled = (alerts: AlertView[]) => {
      const deliveries = alerts.flatMap((alert) => alert.deliveries);
      const has = (target: string, status: string, attempts: number) =>
        deliveries.some((delivery) => delivery.target === target && delivery.status === status && delivery.attempts === attempts);
      return (
        alerts.length === 4 &&
        has(endpoint.ok, 'succeeded', 1) &&
        has(endpoint.refusing, 'failed', 3) &&
        has(endpoint.stalling, 'pending', 2) &&
        // The third attempt is held open, so the pending row stays as it is.
        (stalling?.requests() ?? 0) >= 3
      );
    };
    const raised = await waitFor(async () => {
      const alerts = await listAlerts();
      return settled(alerts) ? alerts : undefined;
    }, 'the alerts on the rated figures and their deliveries', 30_000);
    const budgetAlert = raised.find((alert) => alert.kind === 'budget');
    await expectStatus(svc.request('POST', `/v1/alerts/${budgetAlert?.id ?? 'none'}/ack`, { key }), 200);
    seededAlerts = await listAlerts();

    // Whole minutes; the end comes after the last rating, as rated panels read the figures as of the end.
    range = { from: new Date(start - 60 * MINUTE), to: new Date(Math.floor(Date.now() / MINUTE) * MINUTE + MINUTE), intervalSeconds: 60 };
  });
  afterAll(async () => {
    // The stalling endpoint first: closing it ends the attempt the outbox waits for when it stops.
    await stalling?.close();
    await svc?.close();
    await accepting?.close();
    await refusing?.close();
  });

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
        (api.body.data as Array<{ groupBy: { region: string }; value: string }>).map((row) => [row.groupBy.region, new Exact(row.value).toFixed()]),
      );
      const shown = Object.fromEntries(
        rows
          .filter((row) => row.meter === meter)
          .map((row) => [(JSON.parse(String(row.dimensions)) as { region: string }).region, new Exact(String(row.value)).toFixed()]),
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
      const total = rows.filter((row) => row.meter === meter).reduce((sum, row) => sum.plus(String(row.value)), new Exact(0));
      if (meter === 'unique-count') {
        // Distinct counts do not add across buckets; each bucket is at most the range's count.
        for (const row of rows.filter((candidate) => candidate.meter === meter)) {
          expect(new Exact(String(row.value)).lte(api.body.data[0].value as string)).toBe(true);
        }
      } else {
        expect(total.toFixed(), meter).toBe(new Exact(api.body.data[0].value as string).toFixed());
      }
    }
  });

  describe('revenue panels, over the rater\'s snapshots', () => {
    const sqlOf = (title: string) => CH_PANELS.find((entry) => entry.panel.title === title)?.sql ?? '';
    const exact = (value: unknown) => new Exact(String(value)).toFixed();
    /** A DateTime64 as the engine prints it, as an ISO instant. */
    const iso = (value: unknown) => new Date(`${String(value).replace(' ', 'T')}Z`).toISOString();
    /** Within the last of the nine decimals the engine keeps, which it truncates. */
    const close = (value: unknown, expected: Decimal) => new Exact(String(value)).minus(expected).abs().lte('1e-8');
    const charges = async (customer: string) => (await expectStatus(svc.request('GET', `/v1/customers/${customer}/charges`, { key }), 200)).body as Charges;
    const history = async (customer: string) =>
      (await expectStatus(svc.request('GET', `/v1/customers/${customer}/charges/history`, { key }), 200)).body.data as Array<{ ratedAt: string; tax: string; total: string }>;
    const SUBJECTS: Record<string, readonly string[]> = { acme: ['s1', 's2'], beta: ['s3'], gamma: ['s5'] };
    /** The compute meter's cost for a customer from the seeded events, counting those inside its billing period. */
    const seededCost = (customer: string, periodStart: string) =>
      seeded
        .filter((event) => SUBJECTS[customer]?.includes(event.subject) && Date.parse(event.time) >= Date.parse(periodStart))
        .reduce((sum, event) => sum.plus(String(event.data.v)), new Exact(0));

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
      expect(new Exact(String(acme?.tax)).gt(0)).toBe(true);
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
      for (const customer of ['acme', 'beta', 'gamma']) subtotals.set(customer, new Exact((await charges(customer)).subtotal));
      const usd = (subtotals.get('acme') ?? new Exact(0)).plus(subtotals.get('gamma') ?? 0);
      for (const row of rows) {
        const subtotal = subtotals.get(String(row.customer)) ?? new Exact(NaN);
        expect(exact(row.subtotal), String(row.customer)).toBe(subtotal.toFixed());
        const share = row.currency === 'USD' ? subtotal.times(100).div(usd) : new Exact(100);
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
        (customer === 'beta' ? Exact.max(cost.times('1.35'), 100) : cost.times('1.2')).toDecimalPlaces(2, Decimal.ROUND_HALF_UP);
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
        expect(exact(row.cost), customer).toBe(new Exact(line?.parts[0]?.cost ?? NaN).toFixed());
        expect(exact(row.billed), customer).toBe(new Exact(line?.amount ?? NaN).toFixed());
        const percent = billed.isZero() ? new Exact(0) : billed.minus(cost).times(100).div(billed);
        expect(close(row.margin_percent, percent), `${customer}: ${String(row.margin_percent)} against ${percent.toFixed()}`).toBe(true);
      }
      // Acme's usage falls in its period (unless the period began inside the seeded two hours).
      const acme = rows.find((row) => row.customer === 'acme');
      if (Date.parse((await charges('acme')).periodStart) <= Date.parse(seeded[0]?.time ?? '')) expect(exact(acme?.cost)).toBe('20.5');
    });

    it('puts the rater\'s forecast next to the period-to-date subtotal and the budget of the alert rules', async () => {
      const rows = await run(render(sqlOf('Forecast vs budget'), ALL));
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
      // Only Beta has a budget (its own budget rule of 200); the tenant-wide rule is a spend threshold, not a budget.
      const beta = rows.find((row) => row.customer === 'beta');
      expect(exact(beta?.budget)).toBe('200');
      expect(exact(beta?.over_budget)).toBe(new Exact(exact(beta?.forecast)).minus(200).toFixed());
      for (const row of rows.filter((candidate) => candidate.customer !== 'beta')) {
        expect([row.budget, row.over_budget], String(row.customer)).toEqual([null, null]);
      }
    });
  });

  describe('alert panels, over the alerts the service raised on the rated figures', () => {
    const sqlOf = (title: string) => CH_PANELS.find((entry) => entry.panel.title === title)?.sql ?? '';
    const exact = (value: unknown) => new Exact(String(value)).toFixed();
    /** A DateTime64 as the engine prints it, as an ISO instant; null stays null. */
    const iso = (value: unknown) => (value === null ? null : new Date(`${String(value).replace(' ', 'T')}Z`).toISOString());
    const byCustomerAndKind = (a: AlertView, b: AlertView) => a.customerId.localeCompare(b.customerId) || a.kind.localeCompare(b.kind);

    it('seeds what the panels are checked against', () => {
      expect(seededAlerts.map((alert) => [alert.customerId, alert.kind, alert.state]).sort()).toEqual([
        ['acme', 'spend_threshold', 'firing'],
        ['beta', 'budget', 'acknowledged'],
        ['beta', 'spend_threshold', 'firing'],
        ['gamma', 'spend_threshold', 'firing'],
      ]);
    });

    it('counts the alerts fired in the range by kind, per customer', async () => {
      const totals = async (values: Record<string, string>) => {
        const counts: Record<string, number> = {};
        for (const row of await run(render(sqlOf('Alerts fired over time by kind'), values))) {
          counts[String(row.kind)] = (counts[String(row.kind)] ?? 0) + Number(row.alerts);
        }
        return counts;
      };
      expect(await totals(ALL)).toEqual({ spend_threshold: 3, budget: 1 });
      expect(await totals({ ...ALL, customer: 'acme' })).toEqual({ spend_threshold: 1 });
      expect(await totals({ ...ALL, customer: 'beta' })).toEqual({ spend_threshold: 1, budget: 1 });
      // Each alert falls in the interval of its creation time.
      const rows = await run(render(sqlOf('Alerts fired over time by kind'), { ...ALL, customer: 'acme' }, { ...range, intervalSeconds: 60 }));
      const acme = seededAlerts.find((alert) => alert.customerId === 'acme');
      expect(rows.map((row) => iso(row.time))).toEqual([new Date(Math.floor(Date.parse(acme?.createdAt ?? '') / MINUTE) * MINUTE).toISOString()]);
    });

    it('lists the firing alerts with the figures they recorded and whether they are acknowledged', async () => {
      const rows = await run(render(sqlOf('Currently firing alerts'), ALL));
      const shown: Array<Record<string, unknown>> = rows.map((row) => ({ ...row, created_at: iso(row.created_at), acknowledged_at: iso(row.acknowledged_at) }));
      const expected = [...seededAlerts].sort(byCustomerAndKind).map((alert) => ({
        customer: alert.customerId,
        kind: alert.kind,
        created_at: alert.createdAt,
        measure: alert.details.measure,
        value: alert.details.value,
        threshold: alert.details.threshold,
        currency: alert.details.currency,
        acknowledged_at: alert.acknowledgedAt ?? null,
      }));
      expect([...shown].sort((a, b) => String(a.customer).localeCompare(String(b.customer)) || String(a.kind).localeCompare(String(b.kind)))).toEqual(expected);
      // Against the seed: Acme crossed 10 USD with the subtotal the charges API shows; Beta crossed half its 200 NPR budget.
      const acme = shown.find((row) => row.customer === 'acme');
      const subtotal = (await expectStatus(svc.request('GET', '/v1/customers/acme/charges', { key }), 200)).body.subtotal as string;
      expect([acme?.kind, acme?.threshold, acme?.currency, exact(acme?.value)]).toEqual(['spend_threshold', '10', 'USD', exact(subtotal)]);
      const budget = shown.find((row) => row.customer === 'beta' && row.kind === 'budget');
      expect([exact(budget?.threshold), budget?.currency, budget?.acknowledged_at === null]).toEqual(['100', 'NPR', false]);
      expect(shown.filter((row) => row.acknowledged_at !== null).map((row) => [row.customer, row.kind])).toEqual([['beta', 'budget']]);
      // Newest first.
      const times = rows.map((row) => String(row.created_at));
      expect([...times].sort().reverse()).toEqual(times);
    });

    it('lists failed deliveries and those retrying after more than one failure, never a succeeded one', async () => {
      const rows = await run(render(sqlOf('Delivery failures'), ALL));
      const shown = rows.map((row) => [row.customer, row.status, row.channel, row.target, Number(row.attempts), row.last_error]);
      expect(shown.sort()).toEqual(
        [
          ['acme', 'failed', 'webhook', endpoint.refusing, 3, 'HTTP 500 Internal Server Error'],
          // Beta has no endpoint: nowhere to send, given up at once.
          ['beta', 'failed', 'webhook', '', 0, 'no enabled webhook endpoint for this customer'],
          ['beta', 'failed', 'webhook', '', 0, 'no enabled webhook endpoint for this customer'],
          ['gamma', 'pending', 'webhook', endpoint.stalling, 2, 'HTTP 500 Internal Server Error'],
        ].sort(),
      );
      expect(shown.map((row) => row[3])).not.toContain(endpoint.ok);
      // The same rows and times as the alerts API's deliveries.
      const api = seededAlerts.flatMap((alert) =>
        alert.deliveries
          .filter((delivery) => delivery.status === 'failed' || (delivery.status === 'pending' && delivery.attempts > 1))
          .map((delivery) => [alert.customerId, delivery.target, delivery.updatedAt]),
      );
      expect(rows.map((row) => [row.customer, row.target, iso(row.updated_at)]).sort()).toEqual(api.sort());
      const acme = await run(render(sqlOf('Delivery failures'), { ...ALL, customer: 'acme' }));
      expect(acme.map((row) => [row.customer, row.target])).toEqual([['acme', endpoint.refusing]]);
    });

    it('shows failures of the range only, but a delivery still retrying whatever the range', async () => {
      const earliest = Math.min(...seededAlerts.map((alert) => Date.parse(alert.createdAt)));
      const before = { from: range.from, to: new Date(earliest - 1_000), intervalSeconds: 60 };
      const rows = await run(render(sqlOf('Delivery failures'), ALL, before));
      expect(rows.map((row) => [row.customer, row.status, row.target])).toEqual([['gamma', 'pending', endpoint.stalling]]);
    });

    it('never shows a webhook secret or URL', async () => {
      for (const title of ['Currently firing alerts', 'Delivery failures']) {
        const text = JSON.stringify(await run(render(sqlOf(title), ALL)));
        expect(secrets.length).toBe(3);
        for (const secret of secrets) expect(text, title).not.toContain(secret.slice('whsec_'.length, 30));
        expect(text, title).not.toMatch(/whsec_|127\.0\.0\.1/);
      }
    });
  });
});

/** promtool parses the expressions with Prometheus's own parser; the test suite needs it (see README). */
function requirePromtool(): void {
  try {
    execFileSync('promtool', ['--version'], { stdio: 'ignore' });
  } catch {
    throw new Error('promtool is not on PATH. Install the Debian package "prometheus", which provides /usr/bin/promtool.');
  }
}

/** A Prometheus expression as Grafana sends it: its own interval variables and the dashboard's selections filled in. */
function grafanaExpanded(expr: string): string {
  return expr.replace(/\$\{?__(?:rate_interval|interval|range)\}?/g, '5m').replace(/\$\{?\w+\}?/g, '.*');
}

describe('Prometheus expressions under promtool', () => {
  it('parses every panel and variable expression (promtool check rules)', async () => {
    requirePromtool();
    const exprs = [
      ...PROM_TARGETS.map(({ dashboard, panel, refId, expr }) => ({ name: `${dashboard} / ${panel.title} ${refId}`, expr })),
      ...PROM_VARIABLES.map(({ dashboard, variable, query }) => ({
        name: `${dashboard} $${variable.name}`,
        expr: /^\s*(?:label_values|query_result)\((.*?)(?:,\s*\w+)?\)\s*$/.exec(query)?.[1] ?? query,
      })),
    ];
    // Recording rules are the one way this promtool takes expressions on their own; their names say which panel each is.
    const rules = exprs.map(({ expr }, index) => ({ record: `dashboard:expr_${index}`, expr: grafanaExpanded(expr) }));
    const dir = await mkdtemp(join(tmpdir(), 'meterline-dashboard-exprs-'));
    try {
      const file = join(dir, 'exprs.yml');
      await writeFile(file, JSON.stringify({ groups: [{ name: 'dashboards', rules }] }));
      const output = await promisify(execFile)('promtool', ['check', 'rules', file]).then(
        ({ stdout }) => stdout,
        (error: { stdout?: string; stderr?: string }) => {
          const text = `${error.stdout ?? ''}${error.stderr ?? ''}`;
          const named = text.replace(/dashboard:expr_(\d+)/g, (whole, index: string) => `${whole} (${exprs[Number(index)]?.name ?? '?'})`);
          throw new Error(`promtool refused a dashboard expression:\n${named}`);
        },
      );
      expect(output).toMatch(new RegExp(`SUCCESS: ${rules.length} rules found`));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
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
