import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { isExported, metricNamesInPromQL } from './support/prometheus.js';
import { startScrapedService, type ScrapedService } from './support/scrape.js';
import type { TestService } from './support/service.js';

/**
 * The operators' alerting rules: valid for Prometheus (promtool check), behaving as their unit
 * tests say (promtool test), and written only against metrics the running service exports.
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DIR = join(ROOT, 'deploy/prometheus');
const RULES = join(DIR, 'rules.yml');
const RULE_TESTS = join(DIR, 'rules.test.yml');
const CONFIG = join(DIR, 'prometheus.yml');

/** Series Prometheus makes up itself for every scrape target; no service exports them. */
const PROMETHEUS_SERIES = new Set(['up']);

const run = promisify(execFile);

async function promtool(...args: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await run('promtool', args, { cwd: ROOT });
    return stdout + stderr;
  } catch (error) {
    const failure = error as NodeJS.ErrnoException & { stdout?: string; stderr?: string };
    if (failure.code === 'ENOENT') {
      throw new Error(
        'promtool is not on PATH. Install the Debian package "prometheus" (apt-get install -y --no-install-recommends prometheus), which provides /usr/bin/promtool.',
      );
    }
    throw new Error(`promtool ${args.join(' ')} failed:\n${failure.stdout ?? ''}${failure.stderr ?? ''}`);
  }
}

interface Rule {
  readonly alert?: string;
  readonly record?: string;
  readonly expr: string;
  readonly for?: string;
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
}

interface RuleTest {
  readonly input_series?: Array<{ series: string }>;
  readonly alert_rule_test?: Array<{ alertname: string; exp_alerts?: unknown[] }>;
}

const rules = (parseYaml(readFileSync(RULES, 'utf8')) as { groups: Array<{ name: string; rules: Rule[] }> }).groups.flatMap(
  (group) => group.rules,
);
const alerts = rules.filter((rule): rule is Rule & { alert: string } => rule.alert !== undefined);
const ruleTests = (parseYaml(readFileSync(RULE_TESTS, 'utf8')) as { tests: RuleTest[] }).tests;

describe('alerting rules under promtool', () => {
  it('passes promtool check rules', async () => {
    expect(await promtool('check', 'rules', RULES)).toMatch(/SUCCESS: \d+ rules found/);
  });

  it('passes its unit tests (promtool test rules)', async () => {
    expect(await promtool('test', 'rules', RULE_TESTS)).toMatch(/SUCCESS/);
  });

  it('loads with the compose Prometheus configuration (promtool check config)', async () => {
    expect(await promtool('check', 'config', CONFIG)).toMatch(/is valid prometheus config file syntax/);
  });
});

describe('alerting rules as written', () => {
  it('cover the situations operators must hear about', () => {
    expect(alerts.map((alert) => alert.alert)).toEqual(
      expect.arrayContaining([
        'MeterlineConsumerLagGrowing',
        'MeterlineIngestRejectsSpiking',
        'MeterlineInsertFailures',
        'MeterlineDeadLetters',
        'MeterlineProduceErrors',
        'MeterlineIngestRefusing',
        'MeterlineStoreRetrying',
        'MeterlineRatingLag',
        'MeterlineCustomersFailingRating',
        'MeterlineWebhookDeliveriesFailing',
        'MeterlineAlertOutboxBacklog',
        'MeterlineAlertEvaluationFailing',
      ]),
    );
  });

  it('give every alert a severity, a summary, a description and a runbook that exists', () => {
    const deployReadme = readFileSync(join(ROOT, 'deploy/README.md'), 'utf8');
    const anchors = new Set(
      [...deployReadme.matchAll(/^#+\s+(.+)$/gm)].map(([, heading]) =>
        (heading as string).trim().toLowerCase().replace(/[^\w\s-]/g, '').replace(/\s+/g, '-'),
      ),
    );
    for (const alert of alerts) {
      expect(['page', 'ticket'], alert.alert).toContain(alert.labels?.severity);
      expect(alert.annotations?.summary, alert.alert).toBeTruthy();
      expect(alert.annotations?.description, alert.alert).toBeTruthy();
      const runbook = alert.annotations?.runbook ?? '';
      expect(runbook, alert.alert).toMatch(/^deploy\/README\.md#/);
      expect(anchors.has(runbook.split('#')[1] ?? ''), `${alert.alert}: ${runbook}`).toBe(true);
    }
  });

  it('has a unit test in which each alert fires', () => {
    const firing = new Set(
      ruleTests.flatMap((test) => (test.alert_rule_test ?? []).filter((check) => (check.exp_alerts ?? []).length > 0).map((check) => check.alertname)),
    );
    for (const alert of alerts) expect(firing.has(alert.alert), alert.alert).toBe(true);
  });

  it('has a unit test in which each alert stays quiet', () => {
    const quiet = new Set(
      ruleTests.flatMap((test) => (test.alert_rule_test ?? []).filter((check) => (check.exp_alerts ?? []).length === 0).map((check) => check.alertname)),
    );
    for (const alert of alerts) expect(quiet.has(alert.alert), alert.alert).toBe(true);
  });
});

describe('alerting rules against the metrics a running service exports', () => {
  let svc: TestService | undefined;
  let families: ScrapedService['families'];

  beforeAll(async () => {
    ({ svc, families } = await startScrapedService('rules'));
  });
  afterAll(async () => svc?.close());

  it.each(rules.map((rule) => [rule.alert ?? rule.record ?? '?', rule] as const))('%s selects only exported metrics', (_name, rule) => {
    const names = metricNamesInPromQL(rule.expr);
    expect(names.length).toBeGreaterThan(0);
    for (const name of names) expect(PROMETHEUS_SERIES.has(name) || isExported(name, families), `${name} in ${rule.expr}`).toBe(true);
  });

  it('feeds the unit tests only series the service exports', () => {
    const series = ruleTests.flatMap((test) => (test.input_series ?? []).map((input) => input.series));
    expect(series.length).toBeGreaterThan(0);
    for (const text of series) {
      const name = /^([A-Za-z_:][A-Za-z0-9_:]*)/.exec(text)?.[1] ?? '';
      expect(PROMETHEUS_SERIES.has(name) || isExported(name, families), text).toBe(true);
    }
  });
});
