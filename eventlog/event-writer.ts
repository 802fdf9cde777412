import { randomUUID } from 'node:crypto';
import {
  EventLogUnavailableError,
  type AppendResult,
  type EventLog,
  type MeteredEvent,
  type EventSink,
} from './event-log.js';
import { InvalidRequestError } from '../platform/errors.js';
import type { Logger } from '../platform/logger.js';
import { hasLoneSurrogate } from '../platform/text.js';

export interface FlushStats {
  readonly events: number;
  readonly duplicates: number;
  readonly rows: number;
  readonly seconds: number;
  readonly ok: boolean;
  readonly attempts: number;
}

export interface EventWriterDeps {
  /** The duplicate check and insert this writer batches for. */
  readonly sink: EventSink;
  readonly log: Logger;
  /** A flush takes whole submissions up to this many events (one larger submission goes alone). */
  readonly maxBatchEvents: number;
  /** How long the first submission of an idle writer waits for company. */
  readonly maxWaitMs: number;
  /** Insert attempts before the batch is refused (the same deduplication token each time). */
  readonly insertAttempts?: number;
  readonly retryBaseDelayMs?: number;
  readonly onFlush?: (stats: FlushStats) => void;
  /** Told of the events a flush stored, before their requests are answered. */
  readonly onStored?: (events: readonly MeteredEvent[]) => void;
}

interface Submission {
  readonly events: readonly MeteredEvent[];
  readonly resolve: (result: AppendResult) => void;
  readonly reject: (error: Error) => void;
}

/**
 * The first text of a submission the store would refuse. The store refuses such text for the
 * whole insert, and an insert here carries other requests (other tenants') too: a submission
 * holding it is refused alone, before it can join a group. Ingest rejects these events first;
 * this keeps the writer safe whoever calls it.
 */
function unstorableField(events: readonly MeteredEvent[]): string | undefined {
  for (const [index, event] of events.entries()) {
    for (const field of ['tenantId', 'id', 'type', 'source', 'subject', 'data'] as const) {
      if (hasLoneSurrogate(event[field])) return `${index}.${field}`;
    }
    for (const reading of event.readings) {
      if ([reading.meterKey, reading.value, reading.valueKey, reading.groupBy].some(hasLoneSurrogate)) return `${index}.readings`;
    }
  }
  return undefined;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * The embedded event log: group-commits concurrent submissions into one insert. Flushes run one
 * at a time, so the duplicate check and the insert that follows it cannot race another flush.
 */
export function buildEventWriter(deps: EventWriterDeps): EventLog {
  const { sink, log, maxBatchEvents, maxWaitMs, onFlush, onStored } = deps;
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

  async function insertWithRetry(events: readonly MeteredEvent[]): Promise<{ attempts: number; rows: number }> {
    // One token for every attempt: an attempt that failed after writing makes the retry a no-op.
    const token = randomUUID();
    for (let attempt = 1; ; attempt++) {
      try {
        const rows = await sink.insert(events, token);
        return { attempts: attempt, rows };
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
      const { duplicate, fresh } = await sink.plan(all);
      let offset = 0;
      const duplicatesBySubmission = batch.map((submission) => {
        const duplicates = new Set<number>();
        submission.events.forEach((_event, index) => {
          if (duplicate[offset + index]) duplicates.add(index);
        });
        offset += submission.events.length;
        return duplicates;
      });
      const written = fresh.length > 0 ? await insertWithRetry(fresh) : { attempts: 0, rows: 0 };
      attempts = written.attempts;
      if (fresh.length > 0) onStored?.(fresh);
      batch.forEach((submission, index) => submission.resolve({ duplicates: duplicatesBySubmission[index] as Set<number> }));
      onFlush?.({
        events: all.length,
        duplicates: all.length - fresh.length,
        rows: written.rows,
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
      const unstorable = unstorableField(events);
      if (unstorable !== undefined) {
        return Promise.reject(new InvalidRequestError('holds a lone UTF-16 surrogate, which cannot be stored', unstorable));
      }
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
