import { z } from 'zod';
import { InvalidRequestError } from '../../platform/errors.js';
import { LimitExceededError } from '../../platform/limits.js';

/**
 * Cursor pagination for list routes. A cursor is opaque to clients: the base64url of the last
 * key of the previous page, so a page holds the items after it in key order and an item
 * created meanwhile neither repeats nor shifts the pages after it.
 */

export const DEFAULT_PAGE_SIZE = 100;

/** The limit and cursor query fields of a list route. */
export const pageQuery = z.object({
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .optional()
    .describe(`items per page: default ${DEFAULT_PAGE_SIZE}, at most the tenant's rows limit (maxRows)`),
  cursor: z.string().min(1).max(2048).optional().describe('the next value of the previous page'),
});

/** The page size asked for, within the tenant's rows limit: past it answers 422 naming limit. */
export function pageSize(requested: number | undefined, maxRows: number): number {
  if (requested === undefined) return Math.min(DEFAULT_PAGE_SIZE, maxRows);
  if (requested > maxRows) {
    throw new LimitExceededError('maxRows', maxRows, `limit ${requested} asks for more items than one page may hold`, 'querystring.limit');
  }
  return requested;
}

/** The answer's next field: present and null on the last page. */
export const nextCursor = z.string().nullable().describe('cursor of the next page; null on the last page');

export function encodeCursor(after: string): string {
  return Buffer.from(JSON.stringify({ after }), 'utf8').toString('base64url');
}

const cursorBody = z.object({ after: z.string() });

/** The key a cursor points after; a cursor this service did not write answers 400 naming the field. */
export function decodeCursor(cursor: string): string {
  try {
    return cursorBody.parse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))).after;
  } catch {
    throw new InvalidRequestError('cursor is not a cursor this API gave out (use the next value of the previous page)', 'querystring.cursor');
  }
}

export interface Page<T> {
  readonly data: T[];
  readonly next: string | null;
}

/** One page of items already in memory, ordered by their key (the list is sorted here). */
export function paginate<T>(items: readonly T[], keyOf: (item: T) => string, limit: number, cursor: string | undefined): Page<T> {
  const after = cursor === undefined ? undefined : decodeCursor(cursor);
  const sorted = [...items].sort((a, b) => compareKeys(keyOf(a), keyOf(b)));
  const rest = after === undefined ? sorted : sorted.filter((item) => compareKeys(keyOf(item), after) > 0);
  const data = rest.slice(0, limit);
  const last = data.at(-1);
  return { data, next: rest.length > limit && last !== undefined ? encodeCursor(keyOf(last)) : null };
}

/** Code-unit order, the same as the store's ORDER BY on String columns for these ASCII keys. */
function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
