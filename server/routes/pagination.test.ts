import { describe, expect, it } from 'vitest';
import { InvalidRequestError } from '../../platform/errors.js';
import { LimitExceededError } from '../../platform/limits.js';
import { decodeCursor, encodeCursor, pageSize, paginate } from './pagination.js';

const items = ['d', 'a', 'c', 'b', 'e'].map((key) => ({ key }));
const keyOf = (item: { key: string }) => item.key;

describe('paginate', () => {
  it('walks every item once, in key order, and ends with a null next', () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = paginate(items, keyOf, 2, cursor);
      seen.push(...page.data.map(keyOf));
      cursor = page.next ?? undefined;
      pages += 1;
    } while (cursor !== undefined);
    expect(seen).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(pages).toBe(3);
  });

  it('gives no next when the page holds exactly the rest', () => {
    expect(paginate(items, keyOf, 5, undefined).next).toBeNull();
    expect(paginate(items, keyOf, 4, undefined).next).toBe(encodeCursor('d'));
  });

  it('does not repeat or skip when an item is added between pages', () => {
    const first = paginate(items, keyOf, 2, undefined);
    const grown = [...items, { key: 'aa' }, { key: 'ca' }];
    expect(paginate(grown, keyOf, 10, first.next ?? undefined).data.map(keyOf)).toEqual(['c', 'ca', 'd', 'e']);
  });
});

describe('cursors', () => {
  it('round-trip and refuse anything else, naming the field', () => {
    expect(decodeCursor(encodeCursor('acme:1'))).toBe('acme:1');
    for (const bad of ['nope', encodeCursor('x').slice(2), Buffer.from('{"before":"x"}').toString('base64url')]) {
      expect(() => decodeCursor(bad)).toThrow(InvalidRequestError);
    }
    try {
      decodeCursor('nope');
    } catch (error) {
      expect((error as InvalidRequestError).path).toBe('querystring.cursor');
    }
  });
});

describe('pageSize', () => {
  it('defaults to 100 items, never past the rows limit, and refuses a limit past it naming the field', () => {
    expect(pageSize(undefined, 500)).toBe(100);
    expect(pageSize(undefined, 10)).toBe(10);
    expect(pageSize(500, 500)).toBe(500);
    expect(() => pageSize(501, 500)).toThrow(LimitExceededError);
    try {
      pageSize(501, 500);
    } catch (error) {
      expect((error as LimitExceededError).path).toBe('querystring.limit');
      expect((error as Error).message).toContain('maxRows = 500');
    }
  });
});
