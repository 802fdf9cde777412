import { describe, expect, it } from 'vitest';
import { assertWellFormed } from './migrate.js';
import { MIGRATIONS, type Migration } from './migrations/index.js';

const step = (version: number): Migration => ({ version, name: `m${version}`, statements: () => [] });

describe('migration numbering', () => {
  it('accepts the registered migrations', () => {
    expect(() => assertWellFormed(MIGRATIONS)).not.toThrow();
  });

  it('accepts a gap: numbers are reserved per change and may land out of order', () => {
    expect(() => assertWellFormed([1, 2, 3, 4, 5, 9].map(step))).not.toThrow();
  });

  it('refuses a repeated, decreasing or fractional number', () => {
    expect(() => assertWellFormed([1, 2, 2].map(step))).toThrow('migration m2 has version 2; expected a whole number above 2 (numbers are unique and increasing)');
    expect(() => assertWellFormed([1, 9, 6].map(step))).toThrow(/m6 has version 6; expected a whole number above 9/);
    expect(() => assertWellFormed([1, 1.5].map(step))).toThrow(/m1.5/);
    expect(() => assertWellFormed([0].map(step))).toThrow(/above 0/);
  });
});
