import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../platform/logger.js';
import { z } from 'zod';
import { insertRows, openStore, selectRows, selectTyped, settingsClause, type Store } from '../platform/store.js';
import { testDataDir, uniqueDatabase } from './support/service.js';

const tRow = z.object({ a: z.string() });

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
    await insertRows(store, 't', tRow, [{ a: 'first' }], { insert_deduplication_token: 'token-1' });
    await insertRows(store, 't', tRow, [{ a: 'first' }], { insert_deduplication_token: 'token-1' });
    await insertRows(store, 't', tRow, [{ a: 'second' }]);
    await insertRows(store, 't', tRow, [{ a: 'third' }]);
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

  it('inserts the columns its row schema names, and refuses a row that lacks one', async () => {
    await store.client.command({ query: `CREATE TABLE ${store.table('pairs')} (a String, b String DEFAULT 'unset') ENGINE = MergeTree ORDER BY a` });
    const pairRow = z.object({ a: z.string(), b: z.string() });
    // Key order differs from the schema's: the schema, not the first row, names the columns.
    await insertRows(store, 'pairs', pairRow, [{ b: '1', a: 'x' }, { a: 'y', b: '2' }]);
    const rows = await selectRows<{ a: string; b: string }>(store, `SELECT a, b FROM ${store.table('pairs')} ORDER BY a`, {});
    expect(rows).toEqual([{ a: 'x', b: '1' }, { a: 'y', b: '2' }]);
    const lacking = [{ a: 'z', b: '3' }, { a: 'w' }] as unknown as Array<z.input<typeof pairRow>>;
    await expect(insertRows(store, 'pairs', pairRow, lacking)).rejects.toThrow(/insert into pairs: row 1 has no b/);
    const after = await selectRows<{ n: string }>(store, `SELECT toString(count()) AS n FROM ${store.table('pairs')}`, {});
    expect(after[0]?.n).toBe('2');
  });

  it('throws on a row that does not match its schema instead of reading a guess', async () => {
    const statement = { name: 'test.numbers', sql: 'SELECT toString(number) AS n FROM numbers(2)', params: {} };
    await expect(selectTyped(store, { ...statement, row: z.object({ n: z.string() }) })).resolves.toEqual([{ n: '0' }, { n: '1' }]);
    await expect(selectTyped(store, { ...statement, row: z.object({ n: z.number() }) })).rejects.toThrow(/query test.numbers: row 0 does not match its schema/);
  });

  it('passes values only as query parameters', async () => {
    const hostile = "x'); DROP TABLE t; --";
    await insertRows(store, 't', tRow, [{ a: hostile }]);
    const rows = await selectRows<{ a: string }>(store, `SELECT a FROM ${store.table('t')} WHERE a = {a:String}`, { a: hostile });
    expect(rows).toEqual([{ a: hostile }]);
  });

  it('refuses setting values that could escape the clause', () => {
    expect(() => settingsClause({ insert_deduplication_token: "a' , readonly = '0" })).toThrow(/outside/);
    expect(() => settingsClause({ 'max_threads; DROP': 1 })).toThrow(/setting name/);
  });
});
