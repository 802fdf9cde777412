import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import {
  EventLogUnavailableError,
  type AppendResult,
  type EventLog,
  type MeteredEvent,
} from '../platform/event-log.js';
import type { Logger } from '../platform/logger.js';
import { defineQuery, insertRows, type Store } from '../platform/store.js';
import { toClickHouseTime } from '../platform/time.js';

export interface FlushStats {
  readonly events: number;
  readonly duplicates: number;
  readonly rows: number;
  readonly seconds: number;
  readonly ok: boolean;
  readonly attempts: number;
}

export interface EventWriterDeps {
  readonly store: Store;
  readonly log: Logger;
  /** A flush takes whole submissions up to this many events (one larger submission goes alone). */
  readonly maxBatchEvents: number;
  /** How long the first submission of an idle writer waits for company. */
  readonly maxWaitMs: number;
  /** Ids seen within this window before an event's time count as duplicates. */
  readonly dedupeWindowMs: number;
  /** Insert attempts before the batch is refused (the same deduplication token each time). */
  readonly insertAttempts?: number;
  readonly retryBaseDelayMs?: number;
  readonly now?: () => number;
  readonly onFlush?: (stats: FlushStats) => void;
}

interface Submission {
  readonly events: readonly MeteredEvent[];
  readonly resolve: (result: AppendResult) => void;
  readonly reject: (error: Error) => void;
}

const seenIds = defineQuery({
  name: 'aggregator.seenIds',
  sql: (t) => `SELECT DISTINCT event_id FROM ${t('events')}
    WHERE tenant_id = {tenantId:String} AND event_id IN {ids:Array(String)} AND time >= {since:DateTime64(3, 'UTC')}`,
  params: z.object({ tenantId: z.string(), ids: z.array(z.string()), since: z.string() }),
  row: z.object({ event_id: z.string() }),
  settings: { optimize_use_projections: 1 },
});

const ID_LOOKUP_CHUNK = 5_000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * The embedded event log: group-commits concurrent submissions into one insert. Flushes run one
 * at a time, so the duplicate check and the insert that follows it cannot race another flush.
 */
export function buildEventWriter(deps: EventWriterDeps): EventLog {
  const { store, log, maxBatchEvents, maxWaitMs, dedupeWindowMs, now = Date.now, onFlush } = deps;
  const insertAttempts = deps.insertAttempts ?? 4;
  const retryBaseDelayMs = deps.retryBaseDelayMs ?? 100;
  const queue: Submission[] = [];
  let queuedEvents = 0;
  let flushing: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let closing = false;

  function schedule(): void {
    if (flushing || queue.length === 0) return;
    if (queuedEvents >= maxBatchEvents || closing) {
      startFlush();
    } else if (!timer) {
      timer = setTimeout(startFlush, maxWaitMs);
    }
  }

  function startFlush(): void {
    if (timer) {
      clearTimeout(timer);
      timer = undefined;
    }
    if (flushing || queue.length === 0) return;
    const batch: Submission[] = [];
    let size = 0;
    while (queue.length > 0) {
      const next = queue[0] as Submission;
      if (batch.length > 0 && size + next.events.length > maxBatchEvents) break;
      queue.shift();
      batch.push(next);
      size += next.events.length;
    }
    queuedEvents -= size;
    flushing = flush(batch).finally(() => {
      flushing = undefined;
      // Whatever queued during this flush goes next, without waiting: that is the group commit.
      if (queue.length > 0) startFlush();
    });
  }

  async function findSeen(events: readonly MeteredEvent[]): Promise<Set<string>> {
    const byTenant = new Map<string, { ids: string[]; oldest: number }>();
    for (const event of events) {
      const entry = byTenant.get(event.tenantId) ?? { ids: [], oldest: Number.POSITIVE_INFINITY };
      entry.ids.push(event.id);
      entry.oldest = Math.min(entry.oldest, event.time.getTime());
      byTenant.set(event.tenantId, entry);
    }
    const seen = new Set<string>();
    for (const [tenantId, { ids, oldest }] of byTenant) {
      const since = toClickHouseTime(new Date(Math.min(oldest, now()) - dedupeWindowMs));
      for (let start = 0; start < ids.length; start += ID_LOOKUP_CHUNK) {
        const rows = await seenIds(store, { tenantId, ids: ids.slice(start, start + ID_LOOKUP_CHUNK), since });
        for (const row of rows) seen.add(`${tenantId}\u0000${row.event_id}`);
      }
    }
    return seen;
  }

  function toRows(events: readonly MeteredEvent[], ingestedAt: string): object[] {
    const rows: object[] = [];
    for (const event of events) {
      const time = toClickHouseTime(event.time);
      const readings = event.readings.length > 0 ? event.readings : [{ meterKey: '', value: '0', valueKey: '', groupBy: '{}' }];
      readings.forEach((reading, position) => {
        const raw = position === 0;
        rows.push({
          tenant_id: event.tenantId,
          meter_key: reading.meterKey,
          subject: event.subject,
          time,
          event_id: event.id,
          is_raw: raw ? 1 : 0,
          type: raw ? event.type : '',
          source: raw ? event.source : '',
          data: raw ? event.data : '',
          ingested_at: ingestedAt,
          value: reading.value,
          value_key: reading.valueKey,
          group_by: reading.groupBy,
        });
      });
    }
    return rows;
  }

  async function insertWithRetry(rows: object[]): Promise<number> {
    // One token for every attempt: an attempt that failed after writing makes the retry a no-op.
    const token = randomUUID();
    for (let attempt = 1; ; attempt++) {
      try {
        await insertRows(store, 'events', rows, { insert_deduplication_token: token, insert_deduplicate: 1 });
        return attempt;
      } catch (error) {
        if (attempt >= insertAttempts) throw error;
        const delay = retryBaseDelayMs * 2 ** (attempt - 1);
        log.warn({ err: error, attempt, delayMs: delay }, 'event insert failed; retrying with the same deduplication token');
        await sleep(delay);
      }
    }
  }

  async function flush(batch: Submission[]): Promise<void> {
    const started = performance.now();
    const all = batch.flatMap((submission) => submission.events);
    let attempts = 0;
    try {
      const seen = await findSeen(all);
      const fresh: MeteredEvent[] = [];
      const duplicatesBySubmission = batch.map((submission) => {
        const duplicates = new Set<number>();
        submission.events.forEach((event, index) => {
          const key = `${event.tenantId}\u0000${event.id}`;
          if (seen.has(key)) {
            duplicates.add(index);
          } else {
            seen.add(key);
            fresh.push(event);
          }
        });
        return duplicates;
      });
      const rows = toRows(fresh, toClickHouseTime(new Date(now())));
      attempts = rows.length > 0 ? await insertWithRetry(rows) : 0;
      batch.forEach((submission, index) => submission.resolve({ duplicates: duplicatesBySubmission[index] as Set<number> }));
      onFlush?.({
        events: all.length,
        duplicates: all.length - fresh.length,
        rows: rows.length,
        seconds: (performance.now() - started) / 1000,
        ok: true,
        attempts,
      });
    } catch (cause) {
      log.error({ err: cause, events: all.length }, 'event batch refused: the store did not take it');
      const error = new EventLogUnavailableError('the event store is unavailable; retry later', { cause });
      for (const submission of batch) submission.reject(error);
      onFlush?.({ events: all.length, duplicates: 0, rows: 0, seconds: (performance.now() - started) / 1000, ok: false, attempts });
    }
  }

  return {
    append(events) {
      if (closing) return Promise.reject(new EventLogUnavailableError('shutting down; retry later'));
      if (events.length === 0) return Promise.resolve({ duplicates: new Set<number>() });
      return new Promise<AppendResult>((resolve, reject) => {
        queue.push({ events, resolve, reject });
        queuedEvents += events.length;
        schedule();
      });
    },
    async close() {
      closing = true;
      startFlush();
      while (flushing) await flushing;
    },
  };
}
