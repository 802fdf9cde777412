import { z } from 'zod';
import { backoffDelay } from '../platform/backoff.js';
import type { Logger } from '../platform/logger.js';
import type { Metrics } from '../platform/metrics.js';
import { defineQuery, insertRows, type Store } from '../platform/store.js';
import { fromClickHouseTime, toClickHouseTime } from '../platform/time.js';
import type { Charges, RatingOutcome } from './charges.js';
import { ratingFailureOf, type RatingFailure, type RatingFailureKind } from './rating-failure.js';
import { buildRatedCharges } from './rated-charges.js';

/** A rating_failures row: one failed attempt (failing = 1) or a recovery (failing = 0). */
const failureRow = z.object({
  tenant_id: z.string(),
  customer_id: z.string(),
  at: z.string(),
  failing: z.number(),
  kind: z.string(),
  reason: z.string(),
  attempts: z.number(),
  since: z.string(),
});

/**
 * Rows can become visible a little after the instant they were stamped with (an insert in
 * flight when the watermark moved); each cycle looks this far behind its watermark again.
 * Re-rating a customer twice is harmless; missing one is not.
 */
const WATERMARK_OVERLAP_MS = 10_000;

/**
 * How long after its ingestion stamp a stored event is surely visible to queries. A customer
 * whose last rating began this much later than its newest event already counts that event, so
 * the overlap above does not rate it again (which would also keep it out of the read cache).
 */
const VISIBILITY_MARGIN_MS = 5_000;

const changedSubjects = defineQuery({
  name: 'rater.changedSubjects',
  sql: (t) => `SELECT tenant_id, subject, toString(min(ingested_at)) AS first_ingested, toString(max(ingested_at)) AS last_ingested
    FROM ${t('events')}
    WHERE ingested_at > {since:DateTime64(3, 'UTC')} AND ingested_at <= {upTo:DateTime64(3, 'UTC')}
    GROUP BY tenant_id, subject`,
  params: z.object({ since: z.string(), upTo: z.string() }),
  row: z.object({ tenant_id: z.string(), subject: z.string(), first_ingested: z.string(), last_ingested: z.string() }),
});

const failingCustomers = defineQuery({
  name: 'rater.failingCustomers',
  // Aliases differ from the column names: ClickHouse would otherwise read an alias inside the aggregates.
  sql: (t) => `SELECT tenant_id, customer_id, argMax(kind, at) AS last_kind, argMax(reason, at) AS last_reason,
      toUInt32(argMax(attempts, at)) AS last_attempts, toString(argMax(since, at)) AS failing_since, toString(max(at)) AS last_at
    FROM ${t('rating_failures')}
    GROUP BY tenant_id, customer_id
    HAVING argMax(failing, at) = 1`,
  params: z.object({}),
  row: z.object({
    tenant_id: z.string(),
    customer_id: z.string(),
    last_kind: z.enum(['price', 'terms', 'other']),
    last_reason: z.string(),
    last_attempts: z.coerce.number().int(),
    failing_since: z.string(),
    last_at: z.string(),
  }),
});

/** A customer whose latest rating failed: why, since when, and when it is tried again. */
export interface CustomerFailure {
  readonly kind: RatingFailureKind;
  readonly reason: string;
  /** Failed attempts in a row. */
  readonly attempts: number;
  /** When the current run of failures began (epoch ms). */
  readonly since: number;
  /** The earliest moment of the next attempt (epoch ms). */
  readonly retryAt: number;
}

export interface RatingLoopDeps {
  readonly store: Store;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly subjectOwners: (tenantId: string) => Promise<ReadonlyMap<string, string>>;
  /**
   * Rates many customers of one tenant at once; customers without a contract are left out, and
   * those that cannot be priced are listed as failures while the others are rated.
   */
  readonly rate: (tenantId: string, customerIds: readonly string[]) => Promise<RatingOutcome>;
  readonly intervalMs: number;
  /** Cap of the backoff between attempts for a failing customer; the first waits about intervalMs. */
  readonly retryMaxMs?: number;
  /** After new figures were stored: alerts evaluate them at once. */
  readonly onRated?: () => void;
  readonly now?: () => number;
}

export type RatingLoop = ReturnType<typeof buildRatingLoop>;

/**
 * The continuous rater: every cycle it finds the customers whose usage arrived since its
 * watermark (over ingestion time, so it works across processes) or whose terms changed, re-rates
 * their current period and appends the result to the rated-charges store.
 */
export function buildRatingLoop({
  store,
  log,
  metrics,
  subjectOwners,
  rate,
  intervalMs,
  retryMaxMs = 300_000,
  onRated,
  now = Date.now,
}: RatingLoopDeps) {
  const ratedCharges = buildRatedCharges({ store });
  /** tenant \0 customer → when its oldest unrated change was ingested. */
  const dirty = new Map<string, number>();
  /** tenant \0 subject → when events for it were stored in this process and not yet rated. */
  const dirtySubjects = new Map<string, number>();
  /** The latest rating of each customer made by this loop: answers reads while nothing changed. */
  const latest = new Map<string, Charges>();
  /** Customers being rated right now: their cached figure is about to be replaced. */
  const inFlight = new Set<string>();
  /**
   * tenant \0 customer → its failing rating. Persisted in rating_failures and read back at the
   * first cycle, so a restart retries these customers rather than waiting for their next event.
   */
  const failures = new Map<string, CustomerFailure>();
  let watermark: number | undefined;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;

  function mark(tenantId: string, customerId: string, since: number): void {
    const key = `${tenantId}\u0000${customerId}`;
    dirty.set(key, Math.min(dirty.get(key) ?? since, since));
  }

  async function collect(upTo: number): Promise<void> {
    const pendingSubjects = [...dirtySubjects.entries()];
    dirtySubjects.clear();
    for (const [key, since] of pendingSubjects) {
      const [tenantId, subject] = key.split('\u0000') as [string, string];
      const customerId = (await subjectOwners(tenantId)).get(subject);
      if (customerId !== undefined) mark(tenantId, customerId, since);
    }
    if (watermark === undefined) {
      for (const row of await failingCustomers(store, {})) {
        const attempts = Math.max(1, row.last_attempts);
        const failure = {
          kind: row.last_kind,
          reason: row.last_reason,
          attempts,
          since: fromClickHouseTime(row.failing_since).getTime(),
          retryAt: fromClickHouseTime(row.last_at).getTime() + backoffDelay(attempts, intervalMs, retryMaxMs),
        };
        failures.set(`${row.tenant_id}\u0000${row.customer_id}`, failure);
        mark(row.tenant_id, row.customer_id, failure.since);
      }
      metrics.customersFailing.set(failures.size);
      // First start on this store: rate everything ever ingested once.
      watermark = (await ratedCharges.lastRatedAt()) ?? 0;
    }
    const rows = await changedSubjects(store, {
      since: toClickHouseTime(new Date(Math.max(0, watermark - WATERMARK_OVERLAP_MS))),
      upTo: toClickHouseTime(new Date(upTo)),
    });
    const ownersByTenant = new Map<string, ReadonlyMap<string, string>>();
    for (const row of rows) {
      let owners = ownersByTenant.get(row.tenant_id);
      if (!owners) {
        owners = await subjectOwners(row.tenant_id);
        ownersByTenant.set(row.tenant_id, owners);
      }
      const customerId = owners.get(row.subject);
      if (customerId === undefined) continue;
      const rated = latest.get(`${row.tenant_id}\u0000${customerId}`);
      const newest = fromClickHouseTime(row.last_ingested).getTime();
      if (rated && Date.parse(rated.asOf) > newest + VISIBILITY_MARGIN_MS) continue;
      mark(row.tenant_id, customerId, fromClickHouseTime(row.first_ingested).getTime());
    }
  }

  async function cycle(): Promise<void> {
    const started = performance.now();
    const upTo = now();
    await collect(upTo);
    const byTenant = new Map<string, Map<string, number>>();
    for (const [key, since] of dirty) {
      const [tenantId, customerId] = key.split('\u0000') as [string, string];
      const customers = byTenant.get(tenantId) ?? new Map<string, number>();
      customers.set(customerId, since);
      byTenant.set(tenantId, customers);
    }
    dirty.clear();
    for (const [tenantId, pending] of byTenant) {
      // A failing customer waits out its backoff; the others of its tenant are rated on time.
      const customers = new Map<string, number>();
      for (const [customerId, since] of pending) {
        const failure = failures.get(`${tenantId}\u0000${customerId}`);
        if (failure && failure.retryAt > upTo) mark(tenantId, customerId, since);
        else customers.set(customerId, since);
      }
      if (customers.size === 0) continue;
      const keys = [...customers.keys()].map((customerId) => `${tenantId}\u0000${customerId}`);
      for (const key of keys) inFlight.add(key);
      try {
        let outcome: RatingOutcome;
        try {
          outcome = await rate(tenantId, [...customers.keys()]);
        } catch (error) {
          // Nothing of the tenant could be rated (its catalog or usage could not be read).
          outcome = { rated: [], failed: [...customers.keys()].map((customerId) => ratingFailureOf(customerId, error)) };
        }
        const rated = outcome.rated;
        await recordFailures(tenantId, outcome.failed, customers);
        const ratedAt = now();
        await ratedCharges.append(tenantId, ratedAt, rated);
        metrics.customersRated.inc(rated.length);
        await recordRecoveries(tenantId, rated.map((charges) => charges.customerId), ratedAt);
        for (const charges of rated) {
          const key = `${tenantId}\u0000${charges.customerId}`;
          // A change that arrived while this cycle ran keeps the customer dirty and uncached.
          if (!dirty.has(key)) latest.set(key, charges);
        }
        for (const charges of rated) {
          const since = customers.get(charges.customerId);
          if (since !== undefined && Number.isFinite(since)) metrics.eventToRatedLag.observe(Math.max(0, ratedAt - since) / 1000);
        }
      } catch (error) {
        // Storing the figures failed: the store's trouble, not the customers'; all are tried again.
        metrics.ratingFailures.inc(customers.size);
        log.warn({ err: error, tenantId, customers: customers.size }, 'storing rated figures failed; retrying next cycle');
        for (const [customerId, since] of customers) mark(tenantId, customerId, since);
      } finally {
        for (const key of keys) inFlight.delete(key);
      }
    }
    watermark = upTo;
    if (byTenant.size > 0) onRated?.();
    metrics.ratingCycleDuration.observe((performance.now() - started) / 1000);
  }

  /**
   * Each failed customer stays queued with a growing delay. It is logged when it starts failing
   * or its reason changes, not at every attempt, and its state is stored so a restart keeps it.
   */
  async function recordFailures(tenantId: string, failed: readonly RatingFailure[], customers: ReadonlyMap<string, number>): Promise<void> {
    if (failed.length === 0) return;
    const at = now();
    const rows: Array<z.input<typeof failureRow>> = [];
    for (const failure of failed) {
      const key = `${tenantId}\u0000${failure.customerId}`;
      const previous = failures.get(key);
      const attempts = (previous?.attempts ?? 0) + 1;
      const next: CustomerFailure = {
        kind: failure.kind,
        reason: failure.reason,
        attempts,
        since: previous?.since ?? at,
        retryAt: at + backoffDelay(attempts, intervalMs, retryMaxMs),
      };
      failures.set(key, next);
      latest.delete(key);
      mark(tenantId, failure.customerId, customers.get(failure.customerId) ?? at);
      metrics.ratingFailures.inc();
      metrics.customerRatingFailures.inc({ reason: failure.kind });
      const fields = { tenantId, customerId: failure.customerId, kind: failure.kind, reason: failure.reason, attempts, retryInMs: next.retryAt - at };
      if (previous?.reason !== failure.reason) log.warn(fields, 'rating a customer failed; retrying it with backoff');
      else log.debug(fields, 'rating a customer failed again');
      rows.push({
        tenant_id: tenantId,
        customer_id: failure.customerId,
        at: toClickHouseTime(new Date(at)),
        failing: 1,
        kind: failure.kind,
        reason: failure.reason,
        attempts,
        since: toClickHouseTime(new Date(next.since)),
      });
    }
    metrics.customersFailing.set(failures.size);
    try {
      await insertRows(store, 'rating_failures', failureRow, rows);
    } catch (error) {
      // The customers stay queued in this process either way; only a restart meanwhile would lose them.
      log.warn({ err: error, tenantId }, 'could not store the rating failures');
    }
  }

  async function recordRecoveries(tenantId: string, customerIds: readonly string[], at: number): Promise<void> {
    const rows: Array<z.input<typeof failureRow>> = [];
    for (const customerId of customerIds) {
      const key = `${tenantId}\u0000${customerId}`;
      const failure = failures.get(key);
      if (!failure) continue;
      failures.delete(key);
      log.info({ tenantId, customerId, failedAttempts: failure.attempts, failingSinceMs: at - failure.since }, 'rating a customer recovered');
      rows.push({
        tenant_id: tenantId,
        customer_id: customerId,
        at: toClickHouseTime(new Date(at)),
        failing: 0,
        kind: '',
        reason: '',
        attempts: 0,
        since: toClickHouseTime(new Date(failure.since)),
      });
    }
    if (rows.length === 0) return;
    metrics.customersFailing.set(failures.size);
    await insertRows(store, 'rating_failures', failureRow, rows);
  }

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(() => {
      running = cycle()
        .catch((error: unknown) => log.error({ err: error }, 'rating cycle failed'))
        .finally(() => {
          running = undefined;
          schedule();
        });
    }, intervalMs);
  }

  return {
    /** A change of terms (contract, plan) for one customer: re-rate at the next cycle. */
    markCustomer(tenantId: string, customerId: string): void {
      const key = `${tenantId}\u0000${customerId}`;
      latest.delete(key);
      // New terms may be the fix: a failing customer is tried at the next cycle, not after its backoff.
      const failure = failures.get(key);
      if (failure) failures.set(key, { ...failure, retryAt: 0 });
      mark(tenantId, customerId, Number.POSITIVE_INFINITY);
    },
    /** Events stored in this process: their customers are re-rated and not served from cache meanwhile. */
    markStored(events: ReadonlyArray<{ readonly tenantId: string; readonly subject: string }>): void {
      const at = now();
      for (const event of events) {
        const key = `${event.tenantId}\u0000${event.subject}`;
        if (!dirtySubjects.has(key)) dirtySubjects.set(key, at);
      }
    },
    /** Terms changed for a whole tenant (a new plan version): nothing of it is served from cache until re-rated. */
    invalidateTenant(tenantId: string): void {
      for (const key of latest.keys()) if (key.startsWith(`${tenantId}\u0000`)) latest.delete(key);
    },
    /**
     * The customer's current charges as last rated, when nothing has changed since: no pending
     * events for its subjects, no pending change of terms, and the period still current.
     */
    cached(tenantId: string, customerId: string, subjects: readonly string[], asOf: number): Charges | undefined {
      const key = `${tenantId}\u0000${customerId}`;
      const charges = latest.get(key);
      if (!charges || dirty.has(key) || inFlight.has(key)) return undefined;
      if (subjects.some((subject) => dirtySubjects.has(`${tenantId}\u0000${subject}`))) return undefined;
      if (asOf < Date.parse(charges.periodStart) || asOf >= Date.parse(charges.periodEnd)) return undefined;
      return charges;
    },
    /** The customer's failing rating, if its latest attempt failed. */
    failure(tenantId: string, customerId: string): CustomerFailure | undefined {
      return failures.get(`${tenantId}\u0000${customerId}`);
    },
    /** Runs one cycle now (tests and the shutdown path). */
    runOnce: cycle,
    start(): void {
      stopped = false;
      schedule();
    },
    async stop(): Promise<void> {
      stopped = true;
      if (timer) clearTimeout(timer);
      if (running) await running;
    },
  };
}
