import { z } from 'zod';
import type { BatchPlan, EventSink, MeteredEvent } from '../eventlog/index.js';
import { defineQuery, insertRows, type Store } from '../platform/store.js';
import { toClickHouseTime } from '../platform/time.js';

/** An events row: one reading of an event (the first carries the raw event), value a decimal string. */
export const eventRow = z.object({
  tenant_id: z.string(),
  meter_key: z.string(),
  subject: z.string(),
  time: z.string(),
  event_id: z.string(),
  is_raw: z.number(),
  type: z.string(),
  source: z.string(),
  data: z.string(),
  ingested_at: z.string(),
  value: z.string(),
  value_key: z.string(),
  group_by: z.string(),
});
type EventRow = z.input<typeof eventRow>;

const seenIds = defineQuery({
  name: 'aggregator.seenIds',
  sql: (t) => `SELECT DISTINCT event_id FROM ${t('events')}
    WHERE tenant_id = {tenantId:String} AND event_id IN {ids:Array(String)} AND time >= {since:DateTime64(3, 'UTC')}`,
  params: z.object({ tenantId: z.string(), ids: z.array(z.string()), since: z.string() }),
  row: z.object({ event_id: z.string() }),
});

const ID_LOOKUP_CHUNK = 5_000;

export interface EventSinkDeps {
  readonly store: Store;
  /** Ids stored within this window before an event's time count as duplicates. */
  readonly dedupeWindowMs: number;
  readonly now?: () => number;
}

/**
 * Where accepted events meet the store: the duplicate check and the insert. Both event logs
 * (embedded and Kafka) write through here, each with its own batching and retry policy.
 */
export function buildEventSink({ store, dedupeWindowMs, now = Date.now }: EventSinkDeps): EventSink {
  async function findStored(events: readonly MeteredEvent[]): Promise<Set<string>> {
    const byTenant = new Map<string, { ids: string[]; oldest: number }>();
    for (const event of events) {
      const entry = byTenant.get(event.tenantId) ?? { ids: [], oldest: Number.POSITIVE_INFINITY };
      entry.ids.push(event.id);
      entry.oldest = Math.min(entry.oldest, event.time.getTime());
      byTenant.set(event.tenantId, entry);
    }
    const stored = new Set<string>();
    for (const [tenantId, { ids, oldest }] of byTenant) {
      const since = toClickHouseTime(new Date(Math.min(oldest, now()) - dedupeWindowMs));
      for (let start = 0; start < ids.length; start += ID_LOOKUP_CHUNK) {
        const rows = await seenIds(store, { tenantId, ids: ids.slice(start, start + ID_LOOKUP_CHUNK), since });
        for (const row of rows) stored.add(`${tenantId}\u0000${row.event_id}`);
      }
    }
    return stored;
  }

  function toRows(events: readonly MeteredEvent[], ingestedAt: string): EventRow[] {
    const rows: EventRow[] = [];
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

  return {
    /** Splits a batch into duplicates and the events to insert; the first copy of an id wins. */
    async plan(events: readonly MeteredEvent[]): Promise<BatchPlan> {
      const seen = await findStored(events);
      const fresh: MeteredEvent[] = [];
      const duplicate = events.map((event) => {
        const key = `${event.tenantId}\u0000${event.id}`;
        if (seen.has(key)) return true;
        seen.add(key);
        fresh.push(event);
        return false;
      });
      return { duplicate, fresh };
    },

    /**
     * One insert attempt. Retrying with the same token is safe: an attempt that was written but
     * whose answer was lost makes the retry a no-op.
     */
    async insert(events: readonly MeteredEvent[], token: string): Promise<number> {
      const rows = toRows(events, toClickHouseTime(new Date(now())));
      await insertRows(store, 'events', eventRow, rows, { insert_deduplication_token: token, insert_deduplicate: 1 });
      return rows.length;
    },
  };
}
