import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backoffDelay } from './backoff.js';

describe('backoffDelay', () => {
  it('grows exponentially from the base and never passes the cap', () => {
    const top = () => 1;
    expect([1, 2, 3, 4, 5, 6, 10].map((attempt) => backoffDelay(attempt, 100, 1_000, top))).toEqual([100, 200, 400, 800, 1_000, 1_000, 1_000]);
  });

  it('keeps at least half of each step as jitter floor', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), (attempt, random) => {
        const ceiling = Math.min(30_000, 100 * 2 ** (attempt - 1));
        const delay = backoffDelay(attempt, 100, 30_000, () => random);
        return delay >= Math.floor(ceiling / 2) && delay <= ceiling;
      }),
    );
  });
});
