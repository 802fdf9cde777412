import { describe, expect, it } from 'vitest';
import { ConfigError, configSchema, loadConfig, type Config } from './config.js';

const DAY = 86_400_000;

/** The ConfigError loadConfig throws for `env`; fails the test when it accepts the environment. */
function configError(env: NodeJS.ProcessEnv): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error(`expected ${JSON.stringify(env)} to be rejected`);
}

const DEFAULTS: Config = {
  port: 8080,
  host: '0.0.0.0',
  store: { kind: 'embedded', dataDir: './data', database: 'meterline' },
  defaultTenant: 'default',
  maxBodyBytes: 10_000_000,
  backfillHorizonMs: 35 * DAY,
  futureToleranceMs: 5 * 60_000,
  dedupeWindowMs: 35 * DAY,
  batchMaxEvents: 20_000,
  batchMaxWaitMs: 5,
  catalogCacheTtlMs: 5_000,
  logLevel: 'info',
  shutdownGraceMs: 30_000,
  roles: new Set(['api', 'aggregator', 'rater', 'alerts']),
  raterIntervalMs: 1_000,
  raterRetryMaxMs: 300_000,
  alerts: {
    intervalMs: 1_000,
    publicUrl: 'http://localhost:8080',
    webhookTimeoutMs: 10_000,
    maxAttempts: 12,
    backoffBaseMs: 10_000,
    backoffMaxMs: 3_600_000,
    webhookAllowNetworks: [],
  },
  limits: {
    defaults: { maxMeters: 200, maxGroups: 1_000, maxWindows: 10_000, maxRows: 10_000, maxHeavyQueries: 2, maxEventBytes: 65_536 },
    tenants: {},
    maxHeavyQueries: 2,
    queryTimeoutMs: 10_000,
  },
  readyMaxAgeMs: 30_000,
};

const DURATION_VARIABLES = [
  ['METERLINE_BACKFILL_HORIZON', 'backfillHorizonMs'],
  ['METERLINE_FUTURE_TOLERANCE', 'futureToleranceMs'],
  ['METERLINE_DEDUPE_WINDOW', 'dedupeWindowMs'],
  ['METERLINE_BATCH_MAX_WAIT', 'batchMaxWaitMs'],
  ['METERLINE_CATALOG_CACHE_TTL', 'catalogCacheTtlMs'],
  ['METERLINE_SHUTDOWN_GRACE', 'shutdownGraceMs'],
  ['METERLINE_RATER_RETRY_MAX', 'raterRetryMaxMs'],
] as const;

const DURATION_RULE = 'a duration such as 250ms, 30s, 5m, 12h or 35d';
const SIZE_RULE = 'a size such as 10MB, 512KiB or 1048576';

describe('loadConfig defaults', () => {
  it('runs the embedded store with every documented default when nothing is set', () => {
    expect(loadConfig({})).toEqual(DEFAULTS);
  });

  it('has no admin key unless one is configured', () => {
    expect(loadConfig({})).not.toHaveProperty('adminKey');
  });

  it('chooses server mode when CLICKHOUSE_URL is set', () => {
    const config = loadConfig({ CLICKHOUSE_URL: 'http://clickhouse:8123' });
    expect(config.store).toEqual({ kind: 'server', url: 'http://clickhouse:8123', database: 'meterline' });
  });

  it('ignores variables it does not know', () => {
    expect(loadConfig({ PATH: '/usr/bin', HOME: '/root', METERLINE_UNKNOWN: 'x' })).toEqual(DEFAULTS);
  });

  it('treats every empty variable as unset', () => {
    const env = Object.fromEntries(Object.keys(configSchema.shape).map((name) => [name, '']));
    expect(loadConfig(env)).toEqual(DEFAULTS);
  });

  it('stays in embedded mode when CLICKHOUSE_URL is empty', () => {
    expect(loadConfig({ CLICKHOUSE_URL: '', METERLINE_DATA_DIR: '/var/lib/meterline' }).store).toEqual({
      kind: 'embedded',
      dataDir: '/var/lib/meterline',
      database: 'meterline',
    });
  });
});

describe('loadConfig store settings', () => {
  it('passes user, password and database to server mode', () => {
    const config = loadConfig({
      CLICKHOUSE_URL: 'https://ch.example.com:8443',
      CLICKHOUSE_USER: 'meter',
      CLICKHOUSE_PASSWORD: 'pa55word',
      CLICKHOUSE_DATABASE: 'usage_2',
    });
    expect(config.store).toEqual({
      kind: 'server',
      url: 'https://ch.example.com:8443',
      username: 'meter',
      password: 'pa55word',
      database: 'usage_2',
    });
  });

  it('leaves out an empty user and password in server mode', () => {
    const config = loadConfig({ CLICKHOUSE_URL: 'http://ch:8123', CLICKHOUSE_USER: '', CLICKHOUSE_PASSWORD: '' });
    expect(config.store).toEqual({ kind: 'server', url: 'http://ch:8123', database: 'meterline' });
  });

  it('gives the embedded store the data directory and database', () => {
    const config = loadConfig({ METERLINE_DATA_DIR: '/srv/data', CLICKHOUSE_DATABASE: '_metering' });
    expect(config.store).toEqual({ kind: 'embedded', dataDir: '/srv/data', database: '_metering' });
  });

  it('keeps server credentials out of the embedded store', () => {
    const config = loadConfig({ CLICKHOUSE_USER: 'meter', CLICKHOUSE_PASSWORD: 'pa55word' });
    expect(config.store).toEqual({ kind: 'embedded', dataDir: './data', database: 'meterline' });
  });

  it.each(['http://localhost:8123', 'https://ch.example.com', 'http://10.0.0.5:8123/'])('accepts CLICKHOUSE_URL %s', (url) => {
    expect(loadConfig({ CLICKHOUSE_URL: url }).store).toMatchObject({ kind: 'server', url });
  });

  it.each(['ftp://ch.example.com', 'clickhouse:8123', 'not a url', 'tcp://ch:9000'])('rejects CLICKHOUSE_URL %s', (url) => {
    const error = configError({ CLICKHOUSE_URL: url });
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toMatch(/^CLICKHOUSE_URL=/);
    expect(error.problems[0]).toContain(JSON.stringify(url));
  });

  it.each(['meterline', 'Usage_2', '_x', 'a'])('accepts CLICKHOUSE_DATABASE %s', (database) => {
    expect(loadConfig({ CLICKHOUSE_DATABASE: database }).store.database).toBe(database);
  });

  it.each(['1usage', 'usage-db', 'usage db', 'db`; DROP', 'db.table'])('rejects CLICKHOUSE_DATABASE %s', (database) => {
    expect(configError({ CLICKHOUSE_DATABASE: database }).problems).toEqual([
      `CLICKHOUSE_DATABASE=${JSON.stringify(database)}: letters, digits and underscores, not starting with a digit`,
    ]);
  });
});

describe('loadConfig scalar variables', () => {
  it.each([
    ['9090', 9090],
    ['0', 0],
    ['65535', 65535],
  ])('reads PORT=%s', (text, port) => {
    expect(loadConfig({ PORT: text }).port).toBe(port);
  });

  it.each(['65536', '-1', '80.5', 'http', 'eighty'])('rejects PORT=%s', (text) => {
    const error = configError({ PORT: text });
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]?.startsWith(`PORT=${JSON.stringify(text)}: `)).toBe(true);
  });

  it('does not turn a blank PORT into port 0', () => {
    // A blank value is either "not set" (the default port) or an error, never port 0, which
    // would make the server listen on a random port.
    let port: number;
    try {
      port = loadConfig({ PORT: ' ' }).port;
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return;
    }
    expect(port).toBe(8080);
  });

  it('reads HOST and METERLINE_DATA_DIR as given', () => {
    const config = loadConfig({ HOST: '127.0.0.1', METERLINE_DATA_DIR: 'relative/dir' });
    expect(config.host).toBe('127.0.0.1');
    expect(config.store).toMatchObject({ kind: 'embedded', dataDir: 'relative/dir' });
  });

  it('reads an admin key of at least 24 characters', () => {
    const key = 'k'.repeat(24);
    expect(loadConfig({ METERLINE_ADMIN_KEY: key }).adminKey).toBe(key);
  });

  it('rejects an admin key shorter than 24 characters', () => {
    expect(configError({ METERLINE_ADMIN_KEY: 'k'.repeat(23) }).problems).toEqual([
      'METERLINE_ADMIN_KEY=(hidden): at least 24 characters',
    ]);
  });

  it.each(['acme', 'acme-1', 'a_b', '0tenant', 'a'.repeat(63)])('accepts METERLINE_DEFAULT_TENANT %s', (tenant) => {
    expect(loadConfig({ METERLINE_DEFAULT_TENANT: tenant }).defaultTenant).toBe(tenant);
  });

  it.each(['Acme', '-acme', '_acme', 'a'.repeat(64), 'ac me', 'acmé'])('rejects METERLINE_DEFAULT_TENANT %s', (tenant) => {
    const [problem] = configError({ METERLINE_DEFAULT_TENANT: tenant }).problems;
    expect(problem).toBe(
      `METERLINE_DEFAULT_TENANT=${JSON.stringify(tenant)}: lowercase letters, digits, "-" and "_", at most 63 characters`,
    );
  });

  it.each([
    ['1', 1],
    ['500', 500],
    ['1000000', 1_000_000],
  ])('reads METERLINE_BATCH_MAX_EVENTS=%s', (text, count) => {
    expect(loadConfig({ METERLINE_BATCH_MAX_EVENTS: text }).batchMaxEvents).toBe(count);
  });

  it.each(['0', '-5', '1000001', '2.5', 'many'])('rejects METERLINE_BATCH_MAX_EVENTS=%s', (text) => {
    const error = configError({ METERLINE_BATCH_MAX_EVENTS: text });
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]?.startsWith(`METERLINE_BATCH_MAX_EVENTS=${JSON.stringify(text)}: `)).toBe(true);
  });

  it.each(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const)('reads LOG_LEVEL=%s', (level) => {
    expect(loadConfig({ LOG_LEVEL: level }).logLevel).toBe(level);
  });

  it.each(['INFO', 'verbose', 'warning'])('rejects LOG_LEVEL=%s and lists the allowed levels', (level) => {
    const [problem] = configError({ LOG_LEVEL: level }).problems;
    expect(problem?.startsWith(`LOG_LEVEL=${JSON.stringify(level)}: `)).toBe(true);
    for (const allowed of ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']) expect(problem).toContain(allowed);
  });
});

describe('loadConfig sizes (METERLINE_MAX_BODY)', () => {
  it.each([
    ['1048576', 1_048_576],
    ['10MB', 10_000_000],
    ['512KiB', 524_288],
    ['100B', 100],
    ['1KB', 1_000],
    ['2MiB', 2 * 1024 ** 2],
    ['1GB', 1_000_000_000],
    ['1GiB', 1024 ** 3],
    ['10mb', 10_000_000],
    ['512kib', 524_288],
    ['10 MB', 10_000_000],
    ['1.5KiB', 1_536],
    ['0.5MB', 500_000],
    ['0', 0],
  ])('reads %s as %d bytes', (text, bytes) => {
    expect(loadConfig({ METERLINE_MAX_BODY: text }).maxBodyBytes).toBe(bytes);
  });

  it.each(['10 parsecs', 'MB', '-1MB', '10TB', '1,000', '1e6', '.5MB', '10MB ', ' 10MB', '10 M B'])('rejects %s', (text) => {
    expect(configError({ METERLINE_MAX_BODY: text }).problems).toEqual([
      `METERLINE_MAX_BODY=${JSON.stringify(text)}: ${SIZE_RULE}`,
    ]);
  });
});

describe('loadConfig durations', () => {
  it.each([
    ['250ms', 250],
    ['30s', 30_000],
    ['5m', 300_000],
    ['12h', 43_200_000],
    ['35d', 35 * DAY],
    ['0ms', 0],
    ['1 s', 1_000],
    ['1000ms', 1_000],
  ])('reads %s as %d ms for every duration variable', (text, ms) => {
    for (const [name, field] of DURATION_VARIABLES) {
      expect(loadConfig({ [name]: text })[field]).toBe(ms);
    }
  });

  it.each(['5', '5M', '5S', '1.5s', '-1d', '30 sec', 'soon', '1w', 'ms', '5m ', ' 5m', '1h30m'])(
    'rejects %s for every duration variable',
    (text) => {
      for (const [name] of DURATION_VARIABLES) {
        expect(configError({ [name]: text }).problems).toEqual([`${name}=${JSON.stringify(text)}: ${DURATION_RULE}`]);
      }
    },
  );
});

describe('ConfigError', () => {
  const BAD_ENV = {
    PORT: 'x',
    CLICKHOUSE_URL: 'ftp://ch.example.com',
    CLICKHOUSE_DATABASE: '1a',
    METERLINE_ADMIN_KEY: 'short-secret',
    METERLINE_DEFAULT_TENANT: 'Bad',
    METERLINE_MAX_BODY: '10 parsecs',
    METERLINE_BACKFILL_HORIZON: '5M',
    METERLINE_FUTURE_TOLERANCE: '5',
    METERLINE_DEDUPE_WINDOW: '-1d',
    METERLINE_BATCH_MAX_EVENTS: '0',
    METERLINE_BATCH_MAX_WAIT: 'soon',
    METERLINE_CATALOG_CACHE_TTL: '1.5s',
    LOG_LEVEL: 'loud',
    METERLINE_SHUTDOWN_GRACE: '30 sec',
  };

  it('is an Error named ConfigError', () => {
    const error = configError({ PORT: 'x' });
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('ConfigError');
  });

  it('lists every bad variable with its value and its rule', () => {
    const error = configError(BAD_ENV);
    expect(error.problems).toHaveLength(Object.keys(BAD_ENV).length);
    for (const [name, value] of Object.entries(BAD_ENV)) {
      const shown = name === 'METERLINE_ADMIN_KEY' ? '(hidden)' : JSON.stringify(value);
      const problem = error.problems.find((line) => line.startsWith(`${name}=`));
      expect(problem, name).toBeDefined();
      expect(problem?.startsWith(`${name}=${shown}: `), problem).toBe(true);
      // The rule follows the value and is not empty.
      expect(problem?.slice(`${name}=${shown}: `.length).length).toBeGreaterThan(0);
    }
    expect(error.problems).toContain(`METERLINE_MAX_BODY="10 parsecs": ${SIZE_RULE}`);
    expect(error.problems).toContain(`METERLINE_SHUTDOWN_GRACE="30 sec": ${DURATION_RULE}`);
    expect(error.problems).toContain('METERLINE_ADMIN_KEY=(hidden): at least 24 characters');
  });

  it('puts every problem on its own line of the message', () => {
    const error = configError(BAD_ENV);
    expect(error.message).toBe(`invalid configuration:\n  ${error.problems.join('\n  ')}`);
    expect(error.message.split('\n')).toHaveLength(error.problems.length + 1);
  });

  it('reports only the bad variables, not the good ones beside them', () => {
    const error = configError({ PORT: '9090', HOST: 'localhost', METERLINE_MAX_BODY: 'lots', LOG_LEVEL: 'debug' });
    expect(error.problems).toEqual([`METERLINE_MAX_BODY="lots": ${SIZE_RULE}`]);
  });

  it('never shows the admin key, only (hidden)', () => {
    const secret = 'hunter2-admin';
    const error = configError({ METERLINE_ADMIN_KEY: secret });
    expect(error.problems).toEqual(['METERLINE_ADMIN_KEY=(hidden): at least 24 characters']);
    expect(error.message).not.toContain(secret);
    expect(JSON.stringify(error.problems)).not.toContain(secret);
  });

  it('never shows the ClickHouse password when other variables are bad', () => {
    const secret = 'pa55word-that-must-not-leak';
    const error = configError({
      CLICKHOUSE_URL: 'http://ch:8123',
      CLICKHOUSE_PASSWORD: secret,
      METERLINE_ADMIN_KEY: 'too-short',
      PORT: 'x',
    });
    expect(error.message).not.toContain(secret);
    expect(error.message).toContain('METERLINE_ADMIN_KEY=(hidden)');
  });

  it('never shows a password carried inside a rejected CLICKHOUSE_URL', () => {
    const secret = 's3cret-in-url';
    const error = configError({ CLICKHOUSE_URL: `ftp://meter:${secret}@ch.example.com` });
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toMatch(/^CLICKHOUSE_URL=/);
    expect(error.message).not.toContain(secret);
  });
});

describe('loadConfig event log and roles', () => {
  it('selects Kafka when brokers are set, with its defaults', () => {
    const config = loadConfig({ KAFKA_BROKERS: '127.0.0.1:9092,kafka-2:9093' });
    expect(config.kafka).toEqual({
      brokers: ['127.0.0.1:9092', 'kafka-2:9093'],
      clientId: 'meterline',
      topic: 'meterline.events',
      deadLetterTopic: 'meterline.events.dlq',
      partitions: 12,
      replicationFactor: 1,
      groupId: 'meterline-aggregator',
      produceTimeoutMs: 5_000,
      maxBatchEvents: 20_000,
      maxWaitMs: 200,
      concurrency: 2,
      storeRetryMaxMs: 30_000,
    });
    expect([...config.roles].sort()).toEqual(['aggregator', 'alerts', 'api', 'rater']);
  });

  it('runs single roles only with an event log between them', () => {
    expect([...loadConfig({ KAFKA_BROKERS: 'k:9092', METERLINE_ROLES: 'aggregator' }).roles]).toEqual(['aggregator']);
    expect(configError({ METERLINE_ROLES: 'api' }).message).toMatch(/METERLINE_ROLES="api": the embedded event log/);
    expect(configError({ METERLINE_ROLES: 'rater,web' }).message).toMatch(/METERLINE_ROLES="rater,web"/);
    expect([...loadConfig({ KAFKA_BROKERS: 'k:9092', METERLINE_ROLES: 'rater' }).roles]).toEqual(['rater']);
    expect([...loadConfig({ METERLINE_ROLES: 'api,aggregator' }).roles].sort()).toEqual(['aggregator', 'api']);
  });

  it('refuses a Kafka event log without brokers, and brokers with an embedded one', () => {
    expect(configError({ METERLINE_EVENT_LOG: 'kafka' }).message).toMatch(/KAFKA_BROKERS: required/);
    expect(configError({ METERLINE_EVENT_LOG: 'embedded', KAFKA_BROKERS: 'k:9092' }).message).toMatch(/choose one/);
    expect(configError({ KAFKA_BROKERS: 'no-port' }).message).toMatch(/KAFKA_BROKERS="no-port": a comma-separated list of host:port/);
  });
});

describe('alert delivery settings', () => {
  it('configures SMTP only when a host is given, and hides its password in errors', () => {
    expect(loadConfig({}).alerts.smtp).toBeUndefined();
    const config = loadConfig({ SMTP_HOST: 'mail.example.com', SMTP_PORT: '2525', SMTP_SECURE: 'true', SMTP_USER: 'u', SMTP_PASSWORD: 'p' });
    expect(config.alerts.smtp).toEqual({ host: 'mail.example.com', port: 2525, secure: true, user: 'u', password: 'p', from: 'Meterline <alerts@localhost>' });
    expect(() => loadConfig({ SMTP_PASSWORD: 'hunter2' })).toThrow(/SMTP_USER/);
    try {
      loadConfig({ SMTP_PASSWORD: 'x', SMTP_PORT: 'nope' });
      expect.unreachable();
    } catch (error) {
      expect(String(error)).toContain('SMTP_PORT="nope"');
      expect(String(error)).not.toContain('hunter2');
    }
  });

  it('links notifications to the public URL without a trailing slash', () => {
    expect(loadConfig({ PORT: '9000' }).alerts.publicUrl).toBe('http://localhost:9000');
    expect(loadConfig({ METERLINE_PUBLIC_URL: 'https://billing.example.com/' }).alerts.publicUrl).toBe('https://billing.example.com');
    expect(() => loadConfig({ METERLINE_PUBLIC_URL: 'ftp://x' })).toThrow(/METERLINE_PUBLIC_URL/);
  });

  it('bounds delivery attempts and reads backoff durations', () => {
    const config = loadConfig({ METERLINE_DELIVERY_MAX_ATTEMPTS: '3', METERLINE_DELIVERY_BACKOFF_BASE: '50ms', METERLINE_DELIVERY_BACKOFF_MAX: '2s' });
    expect(config.alerts).toMatchObject({ maxAttempts: 3, backoffBaseMs: 50, backoffMaxMs: 2000 });
    expect(() => loadConfig({ METERLINE_DELIVERY_MAX_ATTEMPTS: '0' })).toThrow(/METERLINE_DELIVERY_MAX_ATTEMPTS="0"/);
    expect(loadConfig({ METERLINE_ROLES: 'alerts', KAFKA_BROKERS: 'k:9092' }).roles).toEqual(new Set(['alerts']));
  });

  it('lets webhooks reach no internal network unless the operator lists CIDRs', () => {
    expect(loadConfig({}).alerts.webhookAllowNetworks).toEqual([]);
    expect(loadConfig({ METERLINE_WEBHOOK_ALLOW_NETWORKS: '127.0.0.0/8, fd00::/8,10.1.2.3' }).alerts.webhookAllowNetworks).toEqual([
      '127.0.0.0/8',
      'fd00::/8',
      '10.1.2.3',
    ]);
    expect(configError({ METERLINE_WEBHOOK_ALLOW_NETWORKS: '127.0.0.0/8,localhost' }).problems).toEqual([
      'METERLINE_WEBHOOK_ALLOW_NETWORKS="127.0.0.0/8,localhost": comma-separated CIDRs such as 10.0.0.0/8,fd00::/8',
    ]);
    expect(() => loadConfig({ METERLINE_WEBHOOK_ALLOW_NETWORKS: '10.0.0.0/40' })).toThrow(/METERLINE_WEBHOOK_ALLOW_NETWORKS/);
  });
});

describe('query limits', () => {
  it('reads the limit defaults, the heavy-query caps and the query timeout', () => {
    const config = loadConfig({
      METERLINE_MAX_METERS: '5',
      METERLINE_MAX_GROUPS: '6',
      METERLINE_MAX_WINDOWS: '7',
      METERLINE_MAX_ROWS: '8',
      METERLINE_MAX_HEAVY_QUERIES: '3',
      METERLINE_MAX_HEAVY_QUERIES_PER_TENANT: '1',
      METERLINE_QUERY_TIMEOUT: '250ms',
      METERLINE_READY_MAX_AGE: '1m',
      METERLINE_MAX_EVENT_SIZE: '16KiB',
    });
    expect(config.limits).toEqual({
      defaults: { maxMeters: 5, maxGroups: 6, maxWindows: 7, maxRows: 8, maxHeavyQueries: 1, maxEventBytes: 16_384 },
      tenants: {},
      maxHeavyQueries: 3,
      queryTimeoutMs: 250,
    });
    expect(config.readyMaxAgeMs).toBe(60_000);
    expect(() => loadConfig({ METERLINE_MAX_ROWS: '0' })).toThrow(/METERLINE_MAX_ROWS="0"/);
    expect(loadConfig({}).limits.defaults.maxEventBytes).toBe(65_536);
    expect(() => loadConfig({ METERLINE_MAX_EVENT_SIZE: '2MB' })).toThrow(/METERLINE_MAX_EVENT_SIZE="2MB".*at most 1MB/);
  });

  it('reads per-tenant overrides as JSON and names a bad one', () => {
    const config = loadConfig({ METERLINE_TENANT_LIMITS: '{"acme":{"maxRows":50000,"maxHeavyQueries":4}}' });
    expect(config.limits.tenants).toEqual({ acme: { maxRows: 50_000, maxHeavyQueries: 4 } });
    expect(() => loadConfig({ METERLINE_TENANT_LIMITS: '{acme' })).toThrow(/METERLINE_TENANT_LIMITS=.*JSON such as/);
    expect(() => loadConfig({ METERLINE_TENANT_LIMITS: '{"acme":{"maxRowz":5}}' })).toThrow(/METERLINE_TENANT_LIMITS/);
    expect(() => loadConfig({ METERLINE_TENANT_LIMITS: '{"acme":{"maxRows":0}}' })).toThrow(/METERLINE_TENANT_LIMITS/);
  });
});
