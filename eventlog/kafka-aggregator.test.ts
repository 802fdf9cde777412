import { describe, expect, it } from 'vitest';
import { nextOffset } from './kafka-aggregator.js';

describe('nextOffset', () => {
  it('names the offset after the last one processed, beyond the range of doubles', () => {
    expect(nextOffset('0')).toBe('1');
    expect(nextOffset('41')).toBe('42');
    expect(nextOffset('9007199254740993')).toBe('9007199254740994');
  });
});
