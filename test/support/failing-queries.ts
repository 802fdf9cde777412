import type { ClickHouseClient } from '@clickhouse/client';
import type { Store } from '../../platform/store.js';

export type QueryMatch = (sql: string, params: Readonly<Record<string, unknown>>) => boolean;

/**
 * Wraps a real store so that chosen reads fail on demand: `failNext(match, n)` makes the next
 * n queries that match throw (all of them until stopped, without n), as an outage would. Everything else goes to the
 * real engine.
 */
export function failingQueries(store: Store) {
  const armed: Array<{ match: QueryMatch; left: number }> = [];
  let failed = 0;
  let lastFailedAt = 0;
  const client = new Proxy(store.client, {
    get(target, property, receiver) {
      if (property !== 'query') return Reflect.get(target, property, receiver) as unknown;
      return async (params: Parameters<ClickHouseClient['query']>[0]) => {
        const values = (params.query_params ?? {}) as Record<string, unknown>;
        const fault = armed.find((entry) => entry.left > 0 && entry.match(params.query, values));
        if (fault) {
          fault.left -= 1;
          failed += 1;
          lastFailedAt = Date.now();
          throw new Error('injected: query failed');
        }
        return target.query(params);
      };
    },
  });
  const wrapped: Store = { ...store, client, table: store.table, ping: store.ping, close: store.close };
  return {
    store: wrapped,
    /** The next `times` matching queries fail (all of them until stopped, by default). */
    failNext(match: QueryMatch, times = Number.POSITIVE_INFINITY): { stop(): void } {
      const entry = { match, left: times };
      armed.push(entry);
      return {
        stop() {
          entry.left = 0;
        },
      };
    },
    /** How many queries were made to fail so far. */
    get failed(): number {
      return failed;
    },
    /** When the last one failed (epoch ms; 0 before any). */
    get lastFailedAt(): number {
      return lastFailedAt;
    },
  };
}
