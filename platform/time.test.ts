import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromClickHouseTime, parseRfc3339, toClickHouseTime, durationMs, rowVersionClock } from './time.js';

const MIN = new Date('1970-01-01T00:00:00.000Z');
const MAX = new Date('2100-12-31T23:59:59.999Z');
const dates = fc.date({ min: MIN, max: MAX, noInvalidDate: true });

function iso(text: string): string | undefined {
  return parseRfc3339(text)?.toISOString();
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** Writes `instant` as RFC 3339 local time at `offsetMinutes` east of UTC. */
function withOffset(instant: Date, offsetMinutes: number): string {
  const local = new Date(instant.getTime() + offsetMinutes * 60_000);
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  return (
    `${pad(local.getUTCFullYear(), 4)}-${pad(local.getUTCMonth() + 1)}-${pad(local.getUTCDate())}` +
    `T${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())}` +
    `.${pad(local.getUTCMilliseconds(), 3)}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`
  );
}

describe('parseRfc3339 accepts', () => {
  it.each([
    ['2026-11-01T10:00:00Z', '2026-11-01T10:00:00.000Z'],
    ['2026-11-01T10:00:00+00:00', '2026-11-01T10:00:00.000Z'],
    ['2026-11-01T10:00:00-00:00', '2026-11-01T10:00:00.000Z'],
    ['2026-11-01T10:00:00+01:00', '2026-11-01T09:00:00.000Z'],
    ['2026-11-01T10:00:00-05:30', '2026-11-01T15:30:00.000Z'],
    ['2026-11-01T00:30:00+14:00', '2026-10-31T10:30:00.000Z'],
    ['2026-12-31T23:00:00-12:00', '2027-01-01T11:00:00.000Z'],
  ])('%s', (text, expected) => {
    expect(iso(text)).toBe(expected);
  });

  it.each([
    ['2026-11-01T10:00:00.5Z', '2026-11-01T10:00:00.500Z'],
    ['2026-11-01T10:00:00.12Z', '2026-11-01T10:00:00.120Z'],
    ['2026-11-01T10:00:00.123Z', '2026-11-01T10:00:00.123Z'],
    ['2026-11-01T10:00:00.123+02:00', '2026-11-01T08:00:00.123Z'],
    ['2026-11-01T10:00:00.000Z', '2026-11-01T10:00:00.000Z'],
  ])('fractional seconds in %s', (text, expected) => {
    expect(iso(text)).toBe(expected);
  });

  it('fractions finer than a millisecond, within that millisecond', () => {
    const instant = parseRfc3339('2026-11-01T10:00:00.123456789Z');
    expect(instant).toBeDefined();
    const ms = instant?.getTime() ?? Number.NaN;
    const base = Date.UTC(2026, 10, 1, 10, 0, 0, 123);
    expect(ms).toBeGreaterThanOrEqual(base);
    expect(ms).toBeLessThan(base + 1);
  });

  it.each([
    ['2026-11-01t10:00:00Z', '2026-11-01T10:00:00.000Z'],
    ['2026-11-01T10:00:00z', '2026-11-01T10:00:00.000Z'],
    ['2026-11-01t10:00:00.250z', '2026-11-01T10:00:00.250Z'],
    ['2026-11-01t10:00:00+01:00', '2026-11-01T09:00:00.000Z'],
  ])('lower-case t and z in %s', (text, expected) => {
    expect(iso(text)).toBe(expected);
  });

  it('a space between date and time, which RFC 3339 allows', () => {
    expect(iso('2026-11-01 10:00:00Z')).toBe('2026-11-01T10:00:00.000Z');
  });

  it.each(['2024-02-29T00:00:00Z', '2000-02-29T12:00:00Z', '2026-01-31T00:00:00Z', '2026-04-30T23:59:59Z', '2026-12-31T23:59:59.999Z'])(
    'the last day of a month: %s',
    (text) => {
      expect(iso(text)).toBe(new Date(text).toISOString());
    },
  );

  it('29 February of year 0000, a leap year in the proleptic Gregorian calendar', () => {
    expect(iso('0000-02-29T00:00:00Z')).toBe(new Date('0000-02-29T00:00:00Z').toISOString());
  });

  it('every instant written by toISOString', () => {
    fc.assert(
      fc.property(dates, (instant) => {
        expect(parseRfc3339(instant.toISOString())?.getTime()).toBe(instant.getTime());
      }),
    );
  });

  it('every instant written with any offset', () => {
    const offsets = fc.integer({ min: -(23 * 60 + 59), max: 23 * 60 + 59 });
    fc.assert(
      fc.property(dates, offsets, (instant, offset) => {
        expect(parseRfc3339(withOffset(instant, offset))?.getTime()).toBe(instant.getTime());
      }),
    );
  });
});

describe('parseRfc3339 rejects', () => {
  it.each([
    ['an empty string', ''],
    ['a date without a time', '2026-11-01'],
    ['a date-time without an offset', '2026-11-01T10:00:00'],
    ['a date-time with fractional seconds but no offset', '2026-11-01T10:00:00.123'],
    ['a time without seconds', '2026-11-01T10:00Z'],
    ['an offset without a colon', '2026-11-01T10:00:00+0100'],
    ['an offset of hours only', '2026-11-01T10:00:00+01'],
    ['a named zone', '2026-11-01T10:00:00 UTC'],
    ['a dot with no fraction digits', '2026-11-01T10:00:00.Z'],
    ['a two-digit year', '26-11-01T10:00:00Z'],
    ['single-digit month and day', '2026-1-1T10:00:00Z'],
    ['leading whitespace', ' 2026-11-01T10:00:00Z'],
    ['trailing whitespace', '2026-11-01T10:00:00Z '],
    ['a trailing newline', '2026-11-01T10:00:00Z\n'],
    ['another separator', '2026-11-01_10:00:00Z'],
  ])('%s (%j)', (_label, text) => {
    expect(parseRfc3339(text)).toBeUndefined();
  });

  it.each([
    ['30 February', '2026-02-30T00:00:00Z'],
    ['29 February in a common year', '2026-02-29T00:00:00Z'],
    ['29 February 2100', '2100-02-29T00:00:00Z'],
    ['29 February 1900', '1900-02-29T00:00:00Z'],
    ['31 April', '2026-04-31T00:00:00Z'],
    ['31 June', '2026-06-31T00:00:00+02:00'],
    ['day 32', '2026-01-32T00:00:00Z'],
    ['day 0', '2026-11-00T00:00:00Z'],
    ['month 13', '2026-13-01T00:00:00Z'],
    ['month 0', '2026-00-10T00:00:00Z'],
    ['hour 24', '2026-11-01T24:00:00Z'],
    ['hour 25', '2026-11-01T25:00:00Z'],
    ['minute 60', '2026-11-01T10:60:00Z'],
    ['second 61', '2026-11-01T10:00:61Z'],
    ['an offset of 24 hours', '2026-11-01T10:00:00+24:00'],
    ['an offset of 99 hours', '2026-11-01T10:00:00-99:00'],
  ])('an impossible date or time: %s', (_label, text) => {
    expect(parseRfc3339(text)).toBeUndefined();
  });

  it.each(['2026/11/01', 'Nov 1 2026', '2026/11/01 10:00:00Z', 'Sun, 01 Nov 2026 10:00:00 GMT', '2026-11-01T10:00:00.000+0100', '11/01/2026', '2026'])(
    'a shape Date.parse accepts: %j',
    (text) => {
      // The point of the strict parser: these all mean something to Date.parse.
      expect(Number.isNaN(Date.parse(text))).toBe(false);
      expect(parseRfc3339(text)).toBeUndefined();
    },
  );
});

describe('toClickHouseTime and fromClickHouseTime', () => {
  it('writes UTC with a space and milliseconds, without a zone', () => {
    expect(toClickHouseTime(new Date('2026-11-01T09:05:03.007Z'))).toBe('2026-11-01 09:05:03.007');
    expect(toClickHouseTime(new Date(0))).toBe('1970-01-01 00:00:00.000');
  });

  it('writes the UTC wall time whatever offset the instant was parsed from', () => {
    const instant = parseRfc3339('2026-11-01T10:00:00+01:00');
    expect(instant).toBeDefined();
    if (instant) expect(toClickHouseTime(instant)).toBe('2026-11-01 09:00:00.000');
  });

  it('reads the text as UTC', () => {
    expect(fromClickHouseTime('2026-11-01 09:05:03.007').toISOString()).toBe('2026-11-01T09:05:03.007Z');
    expect(fromClickHouseTime('2026-11-01 09:05:03').toISOString()).toBe('2026-11-01T09:05:03.000Z');
  });

  it('round-trips every instant from 1970 to 2100', () => {
    fc.assert(
      fc.property(dates, (instant) => {
        const text = toClickHouseTime(instant);
        expect(text).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}$/);
        expect(fromClickHouseTime(text).getTime()).toBe(instant.getTime());
      }),
    );
  });

  it('round-trips the text too', () => {
    fc.assert(
      fc.property(dates, (instant) => {
        const text = toClickHouseTime(instant);
        expect(toClickHouseTime(fromClickHouseTime(text))).toBe(text);
      }),
    );
  });

  it('keeps the order of instants in the order of the texts', () => {
    fc.assert(
      fc.property(dates, dates, (a, b) => {
        const byTime = Math.sign(a.getTime() - b.getTime());
        const ta = toClickHouseTime(a);
        const tb = toClickHouseTime(b);
        const byText = ta < tb ? -1 : ta > tb ? 1 : 0;
        expect(byText).toBe(byTime);
      }),
    );
  });
});

describe('durationMs', () => {
  it.each<[string, number]>([
    ['250ms', 250],
    ['30s', 30_000],
    ['5 m', 300_000],
    ['12h', 43_200_000],
    ['35d', 3_024_000_000],
  ])('reads %s as %i ms', (text, ms) => {
    expect(durationMs(text)).toBe(ms);
  });

  it('refuses text that is not a duration', () => {
    expect(() => durationMs('5 minutes')).toThrow(RangeError);
    expect(() => durationMs('-5m')).toThrow(RangeError);
  });
});

describe('rowVersionClock', () => {
  it('follows the clock and still increases within one millisecond or when the clock steps back', () => {
    let clock = 1_000;
    const next = rowVersionClock(() => clock);
    expect([next(), next(), next()]).toEqual([1_000_000, 1_000_001, 1_000_002]);
    clock = 2_000;
    expect(next()).toBe(2_000_000);
    clock = 1_500;
    expect(next()).toBe(2_000_001);
  });
});
