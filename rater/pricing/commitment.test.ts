import { describe, expect, it } from 'vitest';
import { commitmentTrueUp } from './commitment.js';

describe('commitmentTrueUp', () => {
  it.each([
    ['1000', '750.25', '1', '249.75'],
    ['1000', '1000', '1', '0'],
    ['1000', '1200', '1', '0'],
    ['1000', '0', '1', '1000'],
    ['1000', '100', '0.5', '400'],
    ['1000', '600', '0.5', '0'],
    ['900', '0', '0', '0'],
    ['0', '10', '1', '0'],
  ])('commitment %s, charges %s, fraction %s: true-up %s', (commitment, charges, fraction, trueUp) => {
    expect(commitmentTrueUp(commitment, charges, fraction)).toBe(trueUp);
  });

  it('covers the whole period by default', () => {
    expect(commitmentTrueUp('500', '120.5')).toBe('379.5');
  });

  it('prorates by a share with no finite decimal expansion, rounding the product to 60 digits', () => {
    // 10 of 30 days passed to 60 digits: 900 × 0.333… is 299.9…97 with 61 digits, so 300.
    expect(commitmentTrueUp('900', '100', `0.${'3'.repeat(60)}`)).toBe('200');
  });

  it('rejects negative, malformed and out-of-range inputs', () => {
    expect(() => commitmentTrueUp('-1', '0')).toThrow('commitment must not be negative');
    expect(() => commitmentTrueUp('1', '-1')).toThrow('chargesSum must not be negative');
    expect(() => commitmentTrueUp('1', '0', '1.01')).toThrow('fraction must be between 0 and 1');
    expect(() => commitmentTrueUp('1e3', '0')).toThrow(RangeError);
  });
});
