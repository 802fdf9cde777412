import { describe, expect, it } from 'vitest';
import { assertWellFormed } from './migrate.js';
import { MIGRATIONS, type Migration } from './migrations/index.js';

const step = (version: number): Migration => ({ version, name: `m${version}`, statements: () => [] });

describe('assertWellFormed', () => {
  it('accepts the shipped migrations', () => {
    expect(() => assertWellFormed(MIGRATIONS)).not.toThrow();
  });

  it('allows a gap: a number reserved for schema work that lands separately', () => {
    expect(() => assertWellFormed([step(1), step(2), step(7)])).not.toThrow();
  });

  it('refuses a repeated, a descending or a zero version', () => {
    expect(() => assertWellFormed([step(1), step(2), step(2)])).toThrow('migration m2 has version 2; versions must be unique and increasing (after 2)');
    expect(() => assertWellFormed([step(1), step(3), step(2)])).toThrow(/m2 has version 2/);
    expect(() => assertWellFormed([step(0)])).toThrow(/m0 has version 0/);
  });
});
