import { describe, expect, it } from 'vitest';
import { InvalidRequestError } from '../platform/errors.js';
import type { EventSink, MeteredEvent } from './event-log.js';
import { createLogger } from '../platform/logger.js';
import { buildEventWriter } from './event-writer.js';

function event(tenantId: string, id: string, subject = 's'): MeteredEvent {
  return { tenantId, id, type: 't', source: '', subject, time: new Date('2026-11-26T10:00:00Z'), data: '{}', readings: [] };
}

/** A sink that refuses, like the store, any insert holding a lone surrogate. */
function storeLikeSink(inserted: MeteredEvent[][]): EventSink {
  return {
    async plan(events) {
      return { duplicate: events.map(() => false), fresh: events };
    },
    async insert(events) {
      if (events.some((item) => /[\uD800-\uDFFF]/u.test(item.id + item.subject))) throw new Error('Cannot parse input');
      inserted.push([...events]);
      return events.length;
    },
  };
}

describe('the embedded event writer', () => {
  it("refuses a submission with unstorable text alone, so other tenants' submissions in the same flush are stored", async () => {
    const inserted: MeteredEvent[][] = [];
    const writer = buildEventWriter({ sink: storeLikeSink(inserted), log: createLogger('silent'), maxBatchEvents: 100, maxWaitMs: 20, insertAttempts: 1 });
    const results = await Promise.allSettled([
      writer.append([event('tenant-a', 'a-1')]),
      writer.append([event('tenant-b', 'b-1'), event('tenant-b', 'b-2', 'x\ud800')]),
      writer.append([event('tenant-c', 'c-1')]),
    ]);
    expect(results.map((result) => result.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const refused = (results[1] as PromiseRejectedResult).reason as InvalidRequestError;
    expect(refused).toBeInstanceOf(InvalidRequestError);
    expect(refused.path).toBe('1.subject');
    expect(inserted.flat().map((item) => item.id)).toEqual(['a-1', 'c-1']);
    await writer.close();
  });
});
