import type { Producer } from 'kafkajs';
import {
  EventLogUnavailableError,
  type AppendResult,
  type EventLog,
  type MeteredEvent,
} from './event-log.js';
import type { Logger } from '../platform/logger.js';
import { encodeEventMessage } from './event-message.js';

export interface KafkaEventLogDeps {
  /** An idempotent producer (acks=all is set per send). */
  readonly producer: Producer;
  readonly topic: string;
  readonly log: Logger;
  /** How long the broker may take to acknowledge before the request is answered 503. */
  readonly timeoutMs: number;
  readonly subjectOwners: (tenantId: string) => Promise<ReadonlyMap<string, string>>;
  /**
   * Best effort: which events are already stored. Lets a client's re-send of a stored event be
   * answered as a duplicate; the aggregator deduplicates again whatever this says.
   */
  readonly findStored?: (events: readonly MeteredEvent[]) => Promise<readonly boolean[]>;
  readonly onProduced?: (seconds: number, ok: boolean) => void;
}

const STORED_CHECK_BUDGET_MS = 250;

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * The scale-out event log: a request's events are produced to the events topic and the request
 * is answered only after every broker in the in-sync set has them (acks=all). Anything less is
 * a 503 for the whole request, never a 202.
 */
export function buildKafkaEventLog(deps: KafkaEventLogDeps): EventLog {
  const { producer, topic, log, timeoutMs, subjectOwners, findStored, onProduced } = deps;
  let closing = false;
  let inFlight = 0;
  let drained: (() => void) | undefined;

  async function storedAlready(events: readonly MeteredEvent[]): Promise<readonly boolean[]> {
    if (!findStored) return events.map(() => false);
    try {
      return await within(findStored(events), STORED_CHECK_BUDGET_MS, 'duplicate check');
    } catch (error) {
      // The store being slow or down must not stop ingest; the aggregator deduplicates anyway.
      log.debug({ err: error }, 'duplicate pre-check skipped');
      return events.map(() => false);
    }
  }

  return {
    async append(events) {
      if (closing) throw new EventLogUnavailableError('shutting down; retry later');
      inFlight += 1;
      try {
        const stored = await storedAlready(events);
        const duplicates = new Set<number>();
        const seen = new Set<string>();
        const toSend: MeteredEvent[] = [];
        events.forEach((event, index) => {
          const key = `${event.tenantId}\u0000${event.id}`;
          if (stored[index] || seen.has(key)) duplicates.add(index);
          else toSend.push(event);
          seen.add(key);
        });
        if (toSend.length === 0) return { duplicates } satisfies AppendResult;
        const owners = await subjectOwners(toSend[0]?.tenantId ?? '');
        const messages = toSend.map((event) => encodeEventMessage(event, owners.get(event.subject)));
        const started = performance.now();
        try {
          await within(producer.send({ topic, acks: -1, timeout: timeoutMs, messages }), timeoutMs, 'produce');
          onProduced?.((performance.now() - started) / 1000, true);
        } catch (cause) {
          onProduced?.((performance.now() - started) / 1000, false);
          log.warn({ err: cause, events: toSend.length }, 'events not acknowledged by the broker; answering 503');
          throw new EventLogUnavailableError('the event log did not acknowledge the events; retry later', { cause });
        }
        return { duplicates } satisfies AppendResult;
      } finally {
        inFlight -= 1;
        if (closing && inFlight === 0) drained?.();
      }
    },
    async close() {
      closing = true;
      if (inFlight > 0) await new Promise<void>((resolve) => (drained = resolve));
    },
  };
}
