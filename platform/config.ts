import { z } from 'zod';
import { parseNetwork } from './network-policy.js';
import type { LimitsConfig } from './limits.js';
import { durationMs } from './time.js';

/**
 * Every setting comes from the environment and is validated once at start.
 * Defaults select the embedded mode explicitly; the startup log states which mode runs.
 */

const byteSize = z
  .string()
  .regex(/^\d+(\.\d+)?\s*(B|KB|MB|GB|KiB|MiB|GiB)?$/i, 'a size such as 10MB, 512KiB or 1048576')
  .transform((text) => {
    const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text);
    const amount = match?.[1] ?? '0';
    const unit = (match?.[2] ?? '').toUpperCase();
    const factor: Record<string, number> = {
      '': 1, B: 1, KB: 1e3, MB: 1e6, GB: 1e9, KIB: 1024, MIB: 1024 ** 2, GIB: 1024 ** 3,
    };
    // Byte counts are sizes, not money: a JS number is exact far beyond any body limit.
    return Math.round(Number(amount) * (factor[unit] ?? 1));
  });

const duration = z
  .string()
  .regex(/^\d+\s*(ms|s|m|h|d)$/, 'a duration such as 250ms, 30s, 5m, 12h or 35d')
  .transform(durationMs);

/** A whole number written in plain decimal digits (no blanks, signs, hex or exponents). */
function wholeNumber(min: number, max: number) {
  return z
    .string()
    .regex(/^\d+$/, `a whole number from ${min} to ${max}`)
    .transform(Number)
    .refine((value) => value >= min && value <= max, `a whole number from ${min} to ${max}`);
}

const port = wholeNumber(0, 65535);

const limitValue = z.number().int().min(1).max(1_000_000);
/** Per-tenant overrides of the answer limits, as JSON: {"tenant-id": {"maxRows": 50000}}. */
const tenantLimits = z
  .string()
  .transform((text, ctx) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'JSON such as {"acme":{"maxRows":50000}}' });
      return z.NEVER;
    }
  })
  .pipe(
    z.record(
      z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'tenant ids as keys'),
      z
        .object({
          maxMeters: limitValue,
          maxGroups: limitValue,
          maxWindows: limitValue,
          maxRows: limitValue,
          maxHeavyQueries: limitValue,
          maxEventBytes: limitValue,
        })
        .partial()
        .strict(),
    ),
  );

export const configSchema = z.object({
  PORT: port.default(8080),
  HOST: z.string().min(1).default('0.0.0.0'),
  METERLINE_DATA_DIR: z.string().min(1).default('./data'),
  CLICKHOUSE_URL: z.url({ protocol: /^https?$/ }).optional(),
  CLICKHOUSE_USER: z.string().optional(),
  CLICKHOUSE_PASSWORD: z.string().optional(),
  CLICKHOUSE_DATABASE: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'letters, digits and underscores, not starting with a digit')
    .default('meterline'),
  METERLINE_ADMIN_KEY: z.string().min(24, 'at least 24 characters').optional(),
  METERLINE_DEFAULT_TENANT: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'lowercase letters, digits, "-" and "_", at most 63 characters')
    .default('default'),
  METERLINE_MAX_BODY: byteSize.default(10_000_000),
  METERLINE_BACKFILL_HORIZON: duration.default(35 * 86400e3),
  METERLINE_FUTURE_TOLERANCE: duration.default(5 * 60e3),
  METERLINE_DEDUPE_WINDOW: duration.default(35 * 86400e3),
  METERLINE_BATCH_MAX_EVENTS: wholeNumber(1, 1_000_000).default(20_000),
  METERLINE_BATCH_MAX_WAIT: duration.default(5),
  METERLINE_CATALOG_CACHE_TTL: duration.default(5_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  METERLINE_SHUTDOWN_GRACE: duration.default(30_000),
  METERLINE_EVENT_LOG: z.enum(['embedded', 'kafka']).optional(),
  METERLINE_ROLES: z
    .string()
    .regex(
      /^(api|aggregator|rater|alerts|all)(,(api|aggregator|rater|alerts|all))*$/,
      'a comma-separated list of api, aggregator, rater, alerts, all',
    )
    .default('all'),
  KAFKA_BROKERS: z
    .string()
    .regex(/^[^,\s]+:\d+(,[^,\s]+:\d+)*$/, 'a comma-separated list of host:port')
    .optional(),
  KAFKA_CLIENT_ID: z.string().min(1).default('meterline'),
  KAFKA_TOPIC: z.string().regex(/^[A-Za-z0-9._-]{1,249}$/, 'a Kafka topic name').default('meterline.events'),
  KAFKA_DLQ_TOPIC: z.string().regex(/^[A-Za-z0-9._-]{1,249}$/, 'a Kafka topic name').default('meterline.events.dlq'),
  KAFKA_PARTITIONS: wholeNumber(1, 10_000).default(12),
  KAFKA_REPLICATION_FACTOR: wholeNumber(1, 16).default(1),
  KAFKA_GROUP_ID: z.string().min(1).default('meterline-aggregator'),
  METERLINE_PRODUCE_TIMEOUT: duration.default(5_000),
  METERLINE_AGGREGATOR_MAX_BATCH: wholeNumber(1, 1_000_000).default(20_000),
  METERLINE_AGGREGATOR_MAX_WAIT: duration.default(200),
  METERLINE_AGGREGATOR_CONCURRENCY: wholeNumber(1, 64).default(2),
  METERLINE_STORE_RETRY_MAX: duration.default(30_000),
  METERLINE_RATER_INTERVAL: duration.default(1_000),
  METERLINE_RATER_RETRY_MAX: duration.default(300_000),
  METERLINE_ALERTS_INTERVAL: duration.default(1_000),
  METERLINE_PUBLIC_URL: z.url({ protocol: /^https?$/ }).optional(),
  SMTP_HOST: z.string().min(1).optional(),
  SMTP_PORT: port.default(587),
  SMTP_SECURE: z.enum(['true', 'false']).default('false'),
  SMTP_USER: z.string().min(1).optional(),
  SMTP_PASSWORD: z.string().min(1).optional(),
  SMTP_FROM: z.string().min(3).default('Meterline <alerts@localhost>'),
  METERLINE_WEBHOOK_TIMEOUT: duration.default(10_000),
  METERLINE_DELIVERY_MAX_ATTEMPTS: wholeNumber(1, 100).default(12),
  METERLINE_DELIVERY_BACKOFF_BASE: duration.default(10_000),
  METERLINE_DELIVERY_BACKOFF_MAX: duration.default(3_600_000),
  METERLINE_WEBHOOK_ALLOW_NETWORKS: z
    .string()
    .transform((text) => text.split(',').map((entry) => entry.trim()).filter((entry) => entry !== ''))
    .refine((networks) => networks.every((network) => parseNetwork(network) !== undefined), 'comma-separated CIDRs such as 10.0.0.0/8,fd00::/8')
    .default([]),
  METERLINE_QUERY_TIMEOUT: duration.default(10_000),
  METERLINE_MAX_HEAVY_QUERIES: wholeNumber(1, 1000).default(2),
  METERLINE_MAX_HEAVY_QUERIES_PER_TENANT: wholeNumber(1, 1000).default(2),
  METERLINE_MAX_METERS: wholeNumber(1, 1_000_000).default(200),
  METERLINE_MAX_GROUPS: wholeNumber(1, 1_000_000).default(1_000),
  METERLINE_MAX_WINDOWS: wholeNumber(1, 1_000_000).default(10_000),
  METERLINE_MAX_ROWS: wholeNumber(1, 1_000_000).default(10_000),
  METERLINE_MAX_EVENT_SIZE: byteSize.pipe(z.number().max(1_000_000, 'at most 1MB')).default(65_536),
  METERLINE_TENANT_LIMITS: tenantLimits.optional(),
  METERLINE_READY_MAX_AGE: duration.default(30_000),
});

type RawConfig = z.output<typeof configSchema>;

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly store:
    | { readonly kind: 'embedded'; readonly dataDir: string; readonly database: string }
    | {
        readonly kind: 'server';
        readonly url: string;
        readonly username?: string;
        readonly password?: string;
        readonly database: string;
      };
  readonly adminKey?: string;
  readonly defaultTenant: string;
  readonly maxBodyBytes: number;
  readonly backfillHorizonMs: number;
  readonly futureToleranceMs: number;
  readonly dedupeWindowMs: number;
  readonly batchMaxEvents: number;
  readonly batchMaxWaitMs: number;
  readonly catalogCacheTtlMs: number;
  readonly logLevel: RawConfig['LOG_LEVEL'];
  readonly shutdownGraceMs: number;
  readonly roles: ReadonlySet<Role>;
  /** How often the rater looks for customers to re-rate. */
  readonly raterIntervalMs: number;
  /** Cap of the backoff between rating attempts of a customer whose rating fails. */
  readonly raterRetryMaxMs: number;
  /** Absent in embedded mode: ingest hands events straight to the aggregator's writer. */
  readonly kafka?: KafkaConfig;
  readonly alerts: AlertsConfig;
  readonly limits: LimitsConfig;
  /** How old the last successful store check may be for /readyz to answer ready without waiting. */
  readonly readyMaxAgeMs: number;
}

export type Role = 'api' | 'aggregator' | 'rater' | 'alerts';

export interface AlertsConfig {
  /** How often a process without the rater looks for new rated figures to evaluate. */
  readonly intervalMs: number;
  /** Base of links in notifications (the charges of the customer). */
  readonly publicUrl: string;
  /** Absent: the email channel is not configured and email deliveries fail with that reason. */
  readonly smtp?: {
    readonly host: string;
    readonly port: number;
    readonly secure: boolean;
    readonly user?: string;
    readonly password?: string;
    readonly from: string;
  };
  readonly webhookTimeoutMs: number;
  readonly maxAttempts: number;
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  /** Internal networks webhooks may reach all the same (on-premises receivers); empty: none. */
  readonly webhookAllowNetworks: readonly string[];
}

export interface KafkaConfig {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly topic: string;
  readonly deadLetterTopic: string;
  readonly partitions: number;
  readonly replicationFactor: number;
  readonly groupId: string;
  readonly produceTimeoutMs: number;
  readonly maxBatchEvents: number;
  readonly maxWaitMs: number;
  /** Partitions one aggregator process works on at once. */
  readonly concurrency: number;
  /** Cap of the backoff between insert attempts while the store is failing. */
  readonly storeRetryMaxMs: number;
}

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

const SECRET_NAMES = new Set(['METERLINE_ADMIN_KEY', 'CLICKHOUSE_PASSWORD', 'SMTP_PASSWORD']);

/** How a value appears in an error: secrets hidden, credentials inside URLs masked. */
function shownValue(name: string, value: string | undefined): string {
  if (SECRET_NAMES.has(name)) return '(hidden)';
  if (value === undefined) return 'unset';
  return JSON.stringify(value.replace(/\/\/[^/@\s]*@/, '//***@'));
}

/** Parses the environment; throws ConfigError naming each bad variable, its value and what is allowed. */
export function loadConfig(env: NodeJS.ProcessEnv): Config {
  const relevant: Record<string, string> = {};
  for (const key of Object.keys(configSchema.shape)) {
    const value = env[key];
    // An empty or blank variable means "not set": shells and compose files produce them easily.
    if (value !== undefined && value.trim() !== '') relevant[key] = value;
  }
  const parsed = configSchema.safeParse(relevant);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0] ?? '?');
      return `${name}=${shownValue(name, relevant[name])}: ${issue.message}`;
    });
    throw new ConfigError(problems);
  }
  const c = parsed.data;
  const useKafka = c.METERLINE_EVENT_LOG === 'kafka' || (c.METERLINE_EVENT_LOG === undefined && c.KAFKA_BROKERS !== undefined);
  if (useKafka && c.KAFKA_BROKERS === undefined) {
    throw new ConfigError(['KAFKA_BROKERS: required when METERLINE_EVENT_LOG=kafka (a comma-separated list of host:port)']);
  }
  if (c.METERLINE_EVENT_LOG === 'embedded' && c.KAFKA_BROKERS !== undefined) {
    throw new ConfigError(['METERLINE_EVENT_LOG="embedded": KAFKA_BROKERS is set too; choose one event log']);
  }
  const roleNames = new Set(c.METERLINE_ROLES.split(','));
  const roles = new Set<Role>(roleNames.has('all') ? ['api', 'aggregator', 'rater', 'alerts'] : ([...roleNames] as Role[]));
  if (c.SMTP_PASSWORD !== undefined && c.SMTP_USER === undefined) {
    throw new ConfigError(['SMTP_PASSWORD: set SMTP_USER as well (the password is only sent with a user name)']);
  }
  if (!useKafka && !(roles.has('api') && roles.has('aggregator'))) {
    throw new ConfigError([
      `METERLINE_ROLES=${JSON.stringify(c.METERLINE_ROLES)}: the embedded event log runs api and aggregator in one process; set KAFKA_BROKERS to run roles apart`,
    ]);
  }
  return {
    port: c.PORT,
    host: c.HOST,
    store: c.CLICKHOUSE_URL
      ? {
          kind: 'server',
          url: c.CLICKHOUSE_URL,
          ...(c.CLICKHOUSE_USER ? { username: c.CLICKHOUSE_USER } : {}),
          ...(c.CLICKHOUSE_PASSWORD ? { password: c.CLICKHOUSE_PASSWORD } : {}),
          database: c.CLICKHOUSE_DATABASE,
        }
      : { kind: 'embedded', dataDir: c.METERLINE_DATA_DIR, database: c.CLICKHOUSE_DATABASE },
    ...(c.METERLINE_ADMIN_KEY ? { adminKey: c.METERLINE_ADMIN_KEY } : {}),
    defaultTenant: c.METERLINE_DEFAULT_TENANT,
    maxBodyBytes: c.METERLINE_MAX_BODY,
    backfillHorizonMs: c.METERLINE_BACKFILL_HORIZON,
    futureToleranceMs: c.METERLINE_FUTURE_TOLERANCE,
    dedupeWindowMs: c.METERLINE_DEDUPE_WINDOW,
    batchMaxEvents: c.METERLINE_BATCH_MAX_EVENTS,
    batchMaxWaitMs: c.METERLINE_BATCH_MAX_WAIT,
    catalogCacheTtlMs: c.METERLINE_CATALOG_CACHE_TTL,
    logLevel: c.LOG_LEVEL,
    shutdownGraceMs: c.METERLINE_SHUTDOWN_GRACE,
    roles,
    raterIntervalMs: c.METERLINE_RATER_INTERVAL,
    raterRetryMaxMs: c.METERLINE_RATER_RETRY_MAX,
    alerts: {
      intervalMs: c.METERLINE_ALERTS_INTERVAL,
      publicUrl: (c.METERLINE_PUBLIC_URL ?? `http://localhost:${c.PORT}`).replace(/\/+$/, ''),
      ...(c.SMTP_HOST !== undefined
        ? {
            smtp: {
              host: c.SMTP_HOST,
              port: c.SMTP_PORT,
              secure: c.SMTP_SECURE === 'true',
              ...(c.SMTP_USER !== undefined ? { user: c.SMTP_USER } : {}),
              ...(c.SMTP_PASSWORD !== undefined ? { password: c.SMTP_PASSWORD } : {}),
              from: c.SMTP_FROM,
            },
          }
        : {}),
      webhookTimeoutMs: c.METERLINE_WEBHOOK_TIMEOUT,
      maxAttempts: c.METERLINE_DELIVERY_MAX_ATTEMPTS,
      backoffBaseMs: c.METERLINE_DELIVERY_BACKOFF_BASE,
      backoffMaxMs: c.METERLINE_DELIVERY_BACKOFF_MAX,
      webhookAllowNetworks: c.METERLINE_WEBHOOK_ALLOW_NETWORKS,
    },
    limits: {
      defaults: {
        maxMeters: c.METERLINE_MAX_METERS,
        maxGroups: c.METERLINE_MAX_GROUPS,
        maxWindows: c.METERLINE_MAX_WINDOWS,
        maxRows: c.METERLINE_MAX_ROWS,
        maxHeavyQueries: c.METERLINE_MAX_HEAVY_QUERIES_PER_TENANT,
        maxEventBytes: c.METERLINE_MAX_EVENT_SIZE,
      },
      tenants: c.METERLINE_TENANT_LIMITS ?? {},
      maxHeavyQueries: c.METERLINE_MAX_HEAVY_QUERIES,
      queryTimeoutMs: c.METERLINE_QUERY_TIMEOUT,
    },
    readyMaxAgeMs: c.METERLINE_READY_MAX_AGE,
    ...(useKafka && c.KAFKA_BROKERS !== undefined
      ? {
          kafka: {
            brokers: c.KAFKA_BROKERS.split(','),
            clientId: c.KAFKA_CLIENT_ID,
            topic: c.KAFKA_TOPIC,
            deadLetterTopic: c.KAFKA_DLQ_TOPIC,
            partitions: c.KAFKA_PARTITIONS,
            replicationFactor: c.KAFKA_REPLICATION_FACTOR,
            groupId: c.KAFKA_GROUP_ID,
            produceTimeoutMs: c.METERLINE_PRODUCE_TIMEOUT,
            maxBatchEvents: c.METERLINE_AGGREGATOR_MAX_BATCH,
            maxWaitMs: c.METERLINE_AGGREGATOR_MAX_WAIT,
            concurrency: c.METERLINE_AGGREGATOR_CONCURRENCY,
            storeRetryMaxMs: c.METERLINE_STORE_RETRY_MAX,
          },
        }
      : {}),
  };
}
