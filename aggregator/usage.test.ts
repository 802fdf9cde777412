import { describe, expect, it } from 'vitest';
import { windowCount } from './usage.js';

const at = (text: string) => new Date(text);

describe('windowCount', () => {
  it('counts whole minutes, hours and days of a half-open range', () => {
    expect(windowCount(at('2026-11-01T00:00:00Z'), at('2026-11-01T01:00:00Z'), 'MINUTE', 'UTC')).toBe(60);
    expect(windowCount(at('2026-11-01T00:00:00Z'), at('2026-11-02T00:00:00Z'), 'HOUR', 'UTC')).toBe(24);
    expect(windowCount(at('2026-11-01T00:00:00Z'), at('2026-12-01T00:00:00Z'), 'DAY', 'UTC')).toBe(30);
    expect(windowCount(at('2026-01-01T00:00:00Z'), at('2027-01-01T00:00:00Z'), 'MONTH', 'UTC')).toBe(12);
  });

  it('counts the window that starts before from', () => {
    expect(windowCount(at('2026-11-01T00:30:00Z'), at('2026-11-01T01:30:00Z'), 'HOUR', 'UTC')).toBe(2);
    expect(windowCount(at('2026-11-01T00:59:00Z'), at('2026-11-01T01:00:00Z'), 'HOUR', 'UTC')).toBe(1);
  });

  it("follows the window time zone's hours and days, DST and :45 offsets included", () => {
    // Kathmandu is UTC+5:45: a UTC hour straddles two local hours.
    expect(windowCount(at('2026-11-01T00:00:00Z'), at('2026-11-01T01:00:00Z'), 'HOUR', 'Asia/Kathmandu')).toBe(2);
    // New York's 1 November 2026 has 25 hours; its local days still count as one each.
    expect(windowCount(at('2026-11-01T04:00:00Z'), at('2026-11-02T05:00:00Z'), 'HOUR', 'America/New_York')).toBe(25);
    expect(windowCount(at('2026-11-01T04:00:00Z'), at('2026-11-03T05:00:00Z'), 'DAY', 'America/New_York')).toBe(2);
  });

  it('is zero for an empty range', () => {
    expect(windowCount(at('2026-11-01T00:00:00Z'), at('2026-11-01T00:00:00Z'), 'MINUTE', 'UTC')).toBe(0);
  });
});
