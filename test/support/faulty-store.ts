import type { ClickHouseClient } from '@clickhouse/client';
import type { Store } from '../../platform/store.js';

export type InsertFault = 'fail-before' | 'fail-after-write';

/**
 * Wraps a real store so that inserts into the events table fail on demand: before anything is
 * written, or after the engine wrote the batch (the answer lost on the way back). Everything
 * else goes to the real engine.
 */
export function faultyStore(store: Store) {
  const faults: InsertFault[] = [];
  let down = false;
  let eventInserts = 0;
  const client = new Proxy(store.client, {
    get(target, property, receiver) {
      if (property === 'query') {
        // While down, reads of the events table fail too (duplicate checks, usage).
        return async (params: Parameters<ClickHouseClient['query']>[0]) => {
          if (down && params.query.includes(store.table('events'))) throw new Error('injected: store unavailable');
          return target.query(params);
        };
      }
      if (property !== 'exec') return Reflect.get(target, property, receiver) as unknown;
      return async (params: Parameters<ClickHouseClient['exec']>[0]) => {
        const isEventInsert = params.query.startsWith(`INSERT INTO ${store.table('events')}`);
        if (isEventInsert) {
          eventInserts += 1;
          if (down) throw new Error('injected: store unavailable');
          const fault = faults.shift();
          if (fault === 'fail-before') throw new Error('injected: insert failed before writing');
          if (fault === 'fail-after-write') {
            const result = await target.exec(params);
            for await (const _chunk of result.stream) {
              // drain
            }
            throw new Error('injected: insert written but the answer was lost');
          }
        }
        return target.exec(params);
      };
    },
  });
  const wrapped: Store = { ...store, client, table: store.table, ping: store.ping, close: store.close };
  return {
    store: wrapped,
    /** Queues faults for the next event inserts, in order. */
    inject(...next: InsertFault[]) {
      faults.push(...next);
    },
    setDown(value: boolean) {
      down = value;
    },
    get eventInserts() {
      return eventInserts;
    },
  };
}
