import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../platform/logger.js';
import { insertRows, openStore, selectRows, settingsClause, type Store } from '../platform/store.js';
import { testDataDir, uniqueDatabase } from './support/service.js';

/** The store adapter on the real in-process engine. */
describe('store', () => {
  let store: Store;

  beforeAll(async () => {
    store = await openStore({ kind: 'embedded', dataDir: await testDataDir(), database: uniqueDatabase() }, createLogger('silent'));
    await store.client.command({
      query: `CREATE TABLE ${store.table('t')} (a String) ENGINE = MergeTree ORDER BY a SETTINGS non_replicated_deduplication_window = 100`,
    });
  });
  afterAll(async () => store.close());

  it("keeps one statement's settings out of the next (a leaked deduplication token would drop rows)", async () => {
    await insertRows(store, 't', [{ a: 'first' }], { insert_deduplication_token: 'token-1' });
    await insertRows(store, 't', [{ a: 'first' }], { insert_deduplication_token: 'token-1' });
    await insertRows(store, 't', [{ a: 'second' }]);
    await insertRows(store, 't', [{ a: 'third' }]);
    const rows = await selectRows<{ a: string }>(store, `SELECT a FROM ${store.table('t')} ORDER BY a`, {});
    expect(rows.map((row) => row.a)).toEqual(['first', 'second', 'third']);
    const after = await selectRows<{ token: string; forced: unknown }>(
      store,
      "SELECT getSetting('insert_deduplication_token') AS token, getSetting('force_optimize_projection') AS forced",
      {},
    );
    expect(after[0]?.token).toBe('');
    await selectRows(store, `SELECT 1 ${settingsClause({ force_optimize_projection: 1 })}`, {}).catch(() => undefined);
    const later = await selectRows<{ forced: unknown }>(store, "SELECT getSetting('force_optimize_projection') AS forced", {});
    expect([false, 0, '0']).toContain(later[0]?.forced);
  });

  it('passes values only as query parameters', async () => {
    const hostile = "x'); DROP TABLE t; --";
    await insertRows(store, 't', [{ a: hostile }]);
    const rows = await selectRows<{ a: string }>(store, `SELECT a FROM ${store.table('t')} WHERE a = {a:String}`, { a: hostile });
    expect(rows).toEqual([{ a: hostile }]);
  });

  it('refuses setting values that could escape the clause', () => {
    expect(() => settingsClause({ insert_deduplication_token: "a' , readonly = '0" })).toThrow(/outside/);
    expect(() => settingsClause({ 'max_threads; DROP': 1 })).toThrow(/setting name/);
  });
});
