/**
 * Limits that keep one request, or one tenant, from taking the service down with it:
 * how big an answer may be, how long a query may run, and how many heavy queries run at once.
 * The HTTP layer maps the errors below to 422, 429 and 504.
 */

/** The per-tenant answer limits; each has a default from config and may be overridden per tenant. */
export interface TenantLimits {
  /** Meters a tenant may define. */
  readonly maxMeters: number;
  /** Distinct groups (subject and group-by values) in one usage answer. */
  readonly maxGroups: number;
  /** Windows one meter query may span. */
  readonly maxWindows: number;
  /** Rows in one answer: a meter query's rows, a list page's items. */
  readonly maxRows: number;
  /** Heavy queries of one tenant running at once in one process. */
  readonly maxHeavyQueries: number;
  /** Bytes of one event as stored: its data plus its id, type, source and subject (UTF-8). */
  readonly maxEventBytes: number;
}

export type TenantLimitName = keyof TenantLimits;

/** The environment variable that sets each limit's default, for messages that say what to change. */
export const LIMIT_SETTINGS: Readonly<Record<TenantLimitName, string>> = {
  maxMeters: 'METERLINE_MAX_METERS',
  maxGroups: 'METERLINE_MAX_GROUPS',
  maxWindows: 'METERLINE_MAX_WINDOWS',
  maxRows: 'METERLINE_MAX_ROWS',
  maxHeavyQueries: 'METERLINE_MAX_HEAVY_QUERIES_PER_TENANT',
  maxEventBytes: 'METERLINE_MAX_EVENT_SIZE',
};

export interface LimitsConfig {
  readonly defaults: TenantLimits;
  /** Overrides by tenant id; a limit not named keeps its default. */
  readonly tenants: Readonly<Record<string, Partial<TenantLimits>>>;
  /** Heavy queries running at once in one process, all tenants together. */
  readonly maxHeavyQueries: number;
  /** Longest a heavy query may run; the engine stops it (max_execution_time) and the request answers 504. */
  readonly queryTimeoutMs: number;
}

/** The limits that apply to one tenant: its overrides over the defaults. */
export function limitsFor(config: LimitsConfig, tenantId: string): TenantLimits {
  const overrides = Object.hasOwn(config.tenants, tenantId) ? config.tenants[tenantId] : undefined;
  return { ...config.defaults, ...overrides };
}

/** A request that would go past one of the tenant's limits (422). */
export class LimitExceededError extends Error {
  constructor(
    readonly limit: TenantLimitName,
    readonly value: number,
    message: string,
    /** The request field to change to stay within the limit. */
    readonly path: string,
  ) {
    super(`${message} (limit ${limit} = ${value}, set by ${LIMIT_SETTINGS[limit]} or the tenant's override)`);
    this.name = 'LimitExceededError';
  }
}

/** Every heavy-query slot is taken (429 with Retry-After). */
export class TooManyQueriesError extends Error {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
    this.name = 'TooManyQueriesError';
  }
}

/** A query ran past the query timeout and was stopped (504). */
export class QueryTimeoutError extends Error {
  constructor(
    readonly timeoutMs: number,
    options?: { cause?: unknown },
  ) {
    super(
      `the query ran longer than ${timeoutMs} ms (METERLINE_QUERY_TIMEOUT) and was stopped; ask for a shorter from/to, a larger windowSize or fewer groupBy dimensions`,
      options,
    );
    this.name = 'QueryTimeoutError';
  }
}

export interface ConcurrencyGate {
  /**
   * Takes a slot for `key` or throws TooManyQueriesError when the process-wide cap or the key's
   * own cap is reached. Never waits: a queue would only move the pile-up into memory.
   */
  acquire(key: string, keyCap: number): () => void;
  /** Slots in use, all keys together. */
  inFlight(): number;
}

export function createConcurrencyGate(max: number, retryAfterSeconds = 1): ConcurrencyGate {
  let total = 0;
  const byKey = new Map<string, number>();
  return {
    acquire(key, keyCap) {
      const mine = byKey.get(key) ?? 0;
      if (mine >= keyCap) {
        throw new TooManyQueriesError(
          `${mine} heavy queries of this tenant are running, the most it may run at once (METERLINE_MAX_HEAVY_QUERIES_PER_TENANT); retry later`,
          retryAfterSeconds,
        );
      }
      if (total >= max) {
        throw new TooManyQueriesError(
          `${total} heavy queries are running, the most this process runs at once (METERLINE_MAX_HEAVY_QUERIES); retry later`,
          retryAfterSeconds,
        );
      }
      total += 1;
      byKey.set(key, mine + 1);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        total -= 1;
        const left = (byKey.get(key) ?? 1) - 1;
        if (left === 0) byKey.delete(key);
        else byKey.set(key, left);
      };
    },
    inFlight: () => total,
  };
}

/** How much longer than the engine's own timeout a heavy request may take before it answers anyway. */
export const HEAVY_GRACE_MS = 1_000;

/**
 * Runs `work` inside a slot of the gate with a wall-clock bound (the query timeout plus a grace,
 * so the engine's own timeout normally fires first). The slot is given back when the
 * work really ends, not when the bound fires, so the cap counts what the engine is doing; the
 * bound keeps the request from hanging when a read has no engine-side timeout of its own.
 */
export async function runHeavy<T>(
  gate: ConcurrencyGate,
  key: string,
  keyCap: number,
  timeoutMs: number,
  work: () => Promise<T>,
): Promise<T> {
  const release = gate.acquire(key, keyCap);
  const running = work().finally(release);
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new QueryTimeoutError(timeoutMs)), timeoutMs + HEAVY_GRACE_MS);
  });
  try {
    return await Promise.race([running, expired]);
  } finally {
    clearTimeout(timer);
    // A late failure after the bound fired has no one to answer; keep it from being unhandled.
    running.catch(() => undefined);
  }
}
