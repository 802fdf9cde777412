import { z } from 'zod';

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
  .transform((text) => {
    const match = /^(\d+)\s*(ms|s|m|h|d)$/.exec(text);
    const unitMs: Record<string, number> = { ms: 1, s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 };
    return Number(match?.[1] ?? 0) * (unitMs[match?.[2] ?? 'ms'] ?? 1);
  });

const port = z.coerce.number().int().min(0).max(65535);

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
  METERLINE_BATCH_MAX_EVENTS: z.coerce.number().int().min(1).max(1_000_000).default(20_000),
  METERLINE_BATCH_MAX_WAIT: duration.default(5),
  METERLINE_CATALOG_CACHE_TTL: duration.default(5_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  METERLINE_SHUTDOWN_GRACE: duration.default(30_000),
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
}

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

const SECRET_NAMES = new Set(['METERLINE_ADMIN_KEY', 'CLICKHOUSE_PASSWORD']);

/** Parses the environment; throws ConfigError naming each bad variable, its value and what is allowed. */
export function loadConfig(env: NodeJS.ProcessEnv): Config {
  const relevant: Record<string, string> = {};
  for (const key of Object.keys(configSchema.shape)) {
    const value = env[key];
    // An empty variable means "not set": shells and compose files produce them easily.
    if (value !== undefined && value !== '') relevant[key] = value;
  }
  const parsed = configSchema.safeParse(relevant);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0] ?? '?');
      const shown = SECRET_NAMES.has(name) ? '(hidden)' : JSON.stringify(relevant[name]);
      return `${name}=${shown}: ${issue.message}`;
    });
    throw new ConfigError(problems);
  }
  const c = parsed.data;
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
  };
}
