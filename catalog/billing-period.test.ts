import fc from 'fast-check';
import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import {
  billingPeriodContaining,
  billingPeriodForDate,
  isValidTimeZone,
  nextPeriod,
  previousPeriod,
  type BillingPeriod,
} from './billing-period.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

function iso(period: BillingPeriod): [string, string] {
  return [period.start.toISOString(), period.end.toISOString()];
}

function at(text: string): Date {
  return new Date(text);
}

function wallClock(instant: Date | number, zone: string): string {
  return DateTime.fromMillis(typeof instant === 'number' ? instant : instant.getTime(), { zone }).toFormat(
    "yyyy-MM-dd'T'HH:mm:ss.SSS",
  );
}

function dateOf(clock: DateTime): string {
  const date = clock.toISODate();
  if (date === null) throw new Error(`invalid DateTime: ${clock.invalidExplanation ?? 'unknown reason'}`);
  return date;
}

describe('isValidTimeZone', () => {
  it.each(['UTC', 'Etc/UTC', 'America/New_York', 'Asia/Kathmandu', 'Australia/Eucla', 'America/Argentina/Buenos_Aires', 'Etc/GMT+5'])(
    'accepts %s',
    (tz) => {
      expect(isValidTimeZone(tz)).toBe(true);
    },
  );

  it.each(['', 'UTC+5', 'UTC+05:00', 'GMT+5', '+05:00', '-0800', 'Z', 'local', 'system', 'Mars/Olympus_Mons', 'America/New York', ' UTC', 'Europe/Berlin/'])(
    'rejects %j',
    (tz) => {
      expect(isValidTimeZone(tz)).toBe(false);
    },
  );
});

describe('billingPeriodContaining worked examples', () => {
  it('UTC, anchor 1 and anchor 15', () => {
    expect(iso(billingPeriodContaining(at('2026-03-15T12:00:00Z'), 'UTC', 1))).toEqual([
      '2026-03-01T00:00:00.000Z',
      '2026-04-01T00:00:00.000Z',
    ]);
    expect(iso(billingPeriodContaining(at('2026-03-14T23:59:59.999Z'), 'UTC', 15))).toEqual([
      '2026-02-15T00:00:00.000Z',
      '2026-03-15T00:00:00.000Z',
    ]);
    expect(iso(billingPeriodContaining(at('2026-12-31T23:59:59.999Z'), 'Etc/UTC', 1))).toEqual([
      '2026-12-01T00:00:00.000Z',
      '2027-01-01T00:00:00.000Z',
    ]);
    expect(iso(billingPeriodContaining(at('2027-01-09T00:00:00Z'), 'UTC', 10))).toEqual([
      '2026-12-10T00:00:00.000Z',
      '2027-01-10T00:00:00.000Z',
    ]);
  });

  it('Asia/Kolkata (+05:30)', () => {
    const period = ['2026-03-31T18:30:00.000Z', '2026-04-30T18:30:00.000Z'];
    expect(iso(billingPeriodContaining(at('2026-04-30T18:29:59.999Z'), 'Asia/Kolkata', 1))).toEqual(period);
    expect(iso(billingPeriodContaining(at('2026-03-31T18:30:00.000Z'), 'Asia/Kolkata', 1))).toEqual(period);
    expect(iso(billingPeriodContaining(at('2026-04-30T18:30:00.000Z'), 'Asia/Kolkata', 1))).toEqual([
      '2026-04-30T18:30:00.000Z',
      '2026-05-31T18:30:00.000Z',
    ]);
  });

  it('Asia/Kathmandu (+05:45)', () => {
    expect(iso(billingPeriodContaining(at('2026-06-20T00:00:00Z'), 'Asia/Kathmandu', 10))).toEqual([
      '2026-06-09T18:15:00.000Z',
      '2026-07-09T18:15:00.000Z',
    ]);
  });

  it('Australia/Eucla (+08:45)', () => {
    expect(iso(billingPeriodContaining(at('2026-01-04T15:15:00Z'), 'Australia/Eucla', 5))).toEqual([
      '2026-01-04T15:15:00.000Z',
      '2026-02-04T15:15:00.000Z',
    ]);
    expect(iso(billingPeriodContaining(at('2026-01-04T15:14:59.999Z'), 'Australia/Eucla', 5))).toEqual([
      '2025-12-04T15:15:00.000Z',
      '2026-01-04T15:15:00.000Z',
    ]);
  });

  it('America/New_York across the November DST change is 30 days and 1 hour long', () => {
    const period = billingPeriodContaining(at('2026-11-15T12:00:00Z'), 'America/New_York', 1);
    expect(iso(period)).toEqual(['2026-11-01T04:00:00.000Z', '2026-12-01T05:00:00.000Z']);
    expect(period.end.getTime() - period.start.getTime()).toBe(30 * DAY + HOUR);
  });

  it('America/New_York across the March DST change is 31 days less 1 hour long', () => {
    const period = billingPeriodContaining(at('2026-03-20T12:00:00Z'), 'America/New_York', 1);
    expect(iso(period)).toEqual(['2026-03-01T05:00:00.000Z', '2026-04-01T04:00:00.000Z']);
    expect(period.end.getTime() - period.start.getTime()).toBe(31 * DAY - HOUR);
  });

  it('Europe/Berlin in March', () => {
    const period = billingPeriodContaining(at('2026-03-29T01:30:00Z'), 'Europe/Berlin', 1);
    expect(iso(period)).toEqual(['2026-02-28T23:00:00.000Z', '2026-03-31T22:00:00.000Z']);
    expect(period.end.getTime() - period.start.getTime()).toBe(31 * DAY - HOUR);
  });

  it('anchor 28 across February, in a common and a leap year', () => {
    const common = billingPeriodContaining(at('2026-03-01T12:00:00Z'), 'UTC', 28);
    expect(iso(common)).toEqual(['2026-02-28T00:00:00.000Z', '2026-03-28T00:00:00.000Z']);
    expect(common.end.getTime() - common.start.getTime()).toBe(28 * DAY);
    const leap = billingPeriodContaining(at('2028-02-29T12:00:00Z'), 'UTC', 28);
    expect(iso(leap)).toEqual(['2028-02-28T00:00:00.000Z', '2028-03-28T00:00:00.000Z']);
    expect(leap.end.getTime() - leap.start.getTime()).toBe(29 * DAY);
    expect(iso(billingPeriodContaining(at('2026-03-01T00:00:00Z'), 'Europe/Berlin', 28))).toEqual([
      '2026-02-27T23:00:00.000Z',
      '2026-03-27T23:00:00.000Z',
    ]);
  });

  it('puts an instant exactly on a boundary in the later period', () => {
    const boundary = at('2026-11-01T04:00:00.000Z');
    const period = billingPeriodContaining(boundary, 'America/New_York', 1);
    expect(period.start.getTime()).toBe(boundary.getTime());
    const before = billingPeriodContaining(new Date(boundary.getTime() - 1), 'America/New_York', 1);
    expect(before.end.getTime()).toBe(boundary.getTime());
    expect(iso(before)).toEqual(['2026-10-01T04:00:00.000Z', '2026-11-01T04:00:00.000Z']);
  });

  describe('when the clocks skip local midnight, the period starts when they jump', () => {
    it.each<[string, string, number, string, string, string]>([
      // zone, instant in the period, anchor, start, end, wall clock at the start
      ['America/Santiago', '2026-09-10T00:00:00Z', 6, '2026-09-06T04:00:00.000Z', '2026-10-06T03:00:00.000Z', '2026-09-06T01:00:00.000'],
      ['America/Havana', '2026-03-10T00:00:00Z', 8, '2026-03-08T05:00:00.000Z', '2026-04-08T04:00:00.000Z', '2026-03-08T01:00:00.000'],
      ['Asia/Beirut', '2021-04-01T00:00:00Z', 28, '2021-03-27T22:00:00.000Z', '2021-04-27T21:00:00.000Z', '2021-03-28T01:00:00.000'],
    ])('%s', (zone, instant, anchor, start, end, startWallClock) => {
      const period = billingPeriodContaining(at(instant), zone, anchor);
      expect(iso(period)).toEqual([start, end]);
      expect(wallClock(period.start, zone)).toBe(startWallClock);
      // The instant before is still the previous local day: no part of the anchor day is lost.
      expect(wallClock(period.start.getTime() - 1, zone).slice(0, 10) < startWallClock.slice(0, 10)).toBe(true);
      // The same answer as luxon's startOf('day') for that day.
      expect(DateTime.fromJSDate(period.start, { zone }).startOf('day').toMillis()).toBe(period.start.getTime());
    });
  });

  it('when local midnight happens twice (America/Havana, 2026-11-01), starts at the first one from either side', () => {
    const first = billingPeriodContaining(at('2026-11-01T04:30:00Z'), 'America/Havana', 1); // 00:30 CDT
    const second = billingPeriodContaining(at('2026-11-01T05:30:00Z'), 'America/Havana', 1); // 00:30 CST
    expect(iso(first)).toEqual(['2026-11-01T04:00:00.000Z', '2026-12-01T05:00:00.000Z']);
    expect(iso(second)).toEqual(iso(first));
    expect(iso(billingPeriodContaining(at('2026-11-01T03:59:59.999Z'), 'America/Havana', 1))).toEqual([
      '2026-10-01T04:00:00.000Z',
      '2026-11-01T04:00:00.000Z',
    ]);
  });

  it('when a whole local day is skipped (Pacific/Kwajalein, 1993-08-21), starts at the first instant after it', () => {
    const period = billingPeriodForDate('1993-08-25', 'Pacific/Kwajalein', 21);
    expect(iso(period)).toEqual(['1993-08-21T12:00:00.000Z', '1993-09-20T12:00:00.000Z']);
    expect(wallClock(period.start, 'Pacific/Kwajalein')).toBe('1993-08-22T00:00:00.000');
    expect(wallClock(period.start.getTime() - 1, 'Pacific/Kwajalein')).toBe('1993-08-20T23:59:59.999');
  });
});

describe('billingPeriodForDate', () => {
  it('finds the period of a local date', () => {
    expect(iso(billingPeriodForDate('2026-03-15', 'Europe/Berlin', 1))).toEqual([
      '2026-02-28T23:00:00.000Z',
      '2026-03-31T22:00:00.000Z',
    ]);
    expect(iso(billingPeriodForDate('2026-03-14', 'UTC', 15))).toEqual(['2026-02-15T00:00:00.000Z', '2026-03-15T00:00:00.000Z']);
    expect(iso(billingPeriodForDate('2026-03-15', 'UTC', 15))).toEqual(['2026-03-15T00:00:00.000Z', '2026-04-15T00:00:00.000Z']);
    expect(iso(billingPeriodForDate('2026-01-03', 'Asia/Kolkata', 5))).toEqual([
      '2025-12-04T18:30:00.000Z',
      '2026-01-04T18:30:00.000Z',
    ]);
    expect(iso(billingPeriodForDate('2028-02-29', 'UTC', 28))).toEqual(['2028-02-28T00:00:00.000Z', '2028-03-28T00:00:00.000Z']);
    expect(iso(billingPeriodForDate('2026-03-01', 'UTC', 28))).toEqual(['2026-02-28T00:00:00.000Z', '2026-03-28T00:00:00.000Z']);
  });

  it.each<[string, string]>([
    ['2026-02-30', 'invalid local date "2026-02-30": February 2026 has 28 days'],
    ['2026-02-29', 'invalid local date "2026-02-29": February 2026 has 28 days'],
    ['2100-02-29', 'invalid local date "2100-02-29": February 2100 has 28 days'],
    ['2026-04-31', 'invalid local date "2026-04-31": April 2026 has 30 days'],
    ['2026-01-00', 'invalid local date "2026-01-00": January 2026 has 31 days'],
    ['2026-13-01', 'invalid local date "2026-13-01": there is no month 13'],
    ['2026-00-10', 'invalid local date "2026-00-10": there is no month 0'],
    ['2026-1-01', 'invalid local date "2026-1-01": expected YYYY-MM-DD'],
    ['2026-01-01T00:00', 'invalid local date "2026-01-01T00:00": expected YYYY-MM-DD'],
    [' 2026-01-01', 'invalid local date " 2026-01-01": expected YYYY-MM-DD'],
    ['', 'invalid local date "": expected YYYY-MM-DD'],
  ])('rejects %j', (date, message) => {
    expect(() => billingPeriodForDate(date, 'UTC', 1)).toThrow(new RangeError(message));
  });

  it('accepts 29 February in leap years', () => {
    expect(() => billingPeriodForDate('2000-02-29', 'UTC', 1)).not.toThrow();
    expect(() => billingPeriodForDate('2024-02-29', 'UTC', 1)).not.toThrow();
  });
});

describe('nextPeriod and previousPeriod', () => {
  it('step across a year end and a DST change', () => {
    const december = billingPeriodForDate('2026-12-20', 'America/New_York', 15);
    expect(iso(december)).toEqual(['2026-12-15T05:00:00.000Z', '2027-01-15T05:00:00.000Z']);
    expect(iso(nextPeriod(december, 'America/New_York', 15))).toEqual(['2027-01-15T05:00:00.000Z', '2027-02-15T05:00:00.000Z']);
    const march = billingPeriodForDate('2027-03-20', 'America/New_York', 15);
    expect(iso(previousPeriod(march, 'America/New_York', 15))).toEqual(['2027-02-15T05:00:00.000Z', '2027-03-15T04:00:00.000Z']);
  });

  it('refuse a period that does not belong to the zone and anchor day', () => {
    const utc = billingPeriodForDate('2026-05-10', 'UTC', 1);
    expect(() => nextPeriod(utc, 'Europe/Berlin', 1)).toThrow(RangeError);
    expect(() => previousPeriod(utc, 'UTC', 2)).toThrow(
      '[2026-05-01T00:00:00.000Z, 2026-06-01T00:00:00.000Z) is not a billing period in UTC anchored on day 2',
    );
    const cut = { start: utc.start, end: new Date(utc.end.getTime() - 1) };
    expect(() => nextPeriod(cut, 'UTC', 1)).toThrow(RangeError);
  });
});

describe('argument checks', () => {
  it.each([0, 29, 31, -1, 1.5, NaN, Infinity])('rejects anchor day %s', (anchor) => {
    expect(() => billingPeriodContaining(new Date(), 'UTC', anchor)).toThrow(RangeError);
    expect(() => billingPeriodForDate('2026-01-01', 'UTC', anchor)).toThrow(
      `anchorDay must be an integer from 1 to 28, got ${String(anchor)}`,
    );
  });

  it('rejects unknown time zones and invalid instants', () => {
    expect(() => billingPeriodContaining(new Date(), 'UTC+5', 1)).toThrow(
      'unknown time zone "UTC+5": expected an IANA name such as "Europe/Berlin"',
    );
    expect(() => billingPeriodForDate('2026-01-01', 'Nowhere/Special', 1)).toThrow(RangeError);
    expect(() => billingPeriodContaining(new Date(NaN), 'UTC', 1)).toThrow('instant must be a valid Date');
  });

  it('reports periods that reach past the Date range as a RangeError', () => {
    expect(() => billingPeriodContaining(new Date(8.64e15), 'UTC', 1)).toThrow(
      'year 275760 is outside the supported date range',
    );
    expect(() => billingPeriodContaining(new Date(-8.64e15), 'Europe/Berlin', 1)).toThrow(RangeError);
  });
});

// Zones chosen for awkward offsets (+05:30, +05:45, +08:45, +12:45, -03:30), DST at midnight
// (Santiago, Havana, Beirut, Tehran, Cairo, Asuncion, Gaza), 30-minute DST (Lord_Howe), negative
// DST (Dublin), a 2-hour DST (Troll), a skipped calendar day (Apia, Kwajalein) and offset changes.
const ZONES = [
  'UTC',
  'Asia/Kolkata',
  'Asia/Kathmandu',
  'Australia/Eucla',
  'America/New_York',
  'Europe/Berlin',
  'America/Santiago',
  'America/Havana',
  'Asia/Beirut',
  'Asia/Tehran',
  'Africa/Cairo',
  'America/Asuncion',
  'Asia/Gaza',
  'Australia/Lord_Howe',
  'Pacific/Chatham',
  'America/St_Johns',
  'Europe/Dublin',
  'Antarctica/Troll',
  'Pacific/Apia',
  'Pacific/Kwajalein',
  'Pacific/Kiritimati',
  'America/Sao_Paulo',
  'Africa/Casablanca',
  'Europe/Moscow',
  'America/Nuuk',
] as const;

// Where the whole anchor day was skipped, the period starts on the next local day instead.
const SKIPPED_WHOLE_DAYS = new Set<string>(['Pacific/Kwajalein']);

const zone = fc.constantFrom(...ZONES);
const anchorDay = fc.integer({ min: 1, max: 28 });
const instant = fc.date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true });

// Hundreds of runs over luxon's zone rules: seconds of CPU each, more on a busy machine than the 5 s default allows.
describe('billing period properties', { timeout: 60_000 }, () => {
  it('contains the instant, and neighbours tile time', () => {
    fc.assert(
      fc.property(instant, zone, anchorDay, (when, tz, anchor) => {
        const p = billingPeriodContaining(when, tz, anchor);
        expect(p.start.getTime()).toBeLessThanOrEqual(when.getTime());
        expect(when.getTime()).toBeLessThan(p.end.getTime());
        const length = p.end.getTime() - p.start.getTime();
        expect(length).toBeGreaterThanOrEqual(27 * DAY);
        expect(length).toBeLessThanOrEqual(32 * DAY);

        const next = nextPeriod(p, tz, anchor);
        const previous = previousPeriod(p, tz, anchor);
        expect(next.start.getTime()).toBe(p.end.getTime());
        expect(previous.end.getTime()).toBe(p.start.getTime());
        expect(iso(previousPeriod(next, tz, anchor))).toEqual(iso(p));
        expect(iso(nextPeriod(previous, tz, anchor))).toEqual(iso(p));
        // Every instant of the period maps back to it, including both ends' neighbours.
        expect(iso(billingPeriodContaining(p.start, tz, anchor))).toEqual(iso(p));
        expect(iso(billingPeriodContaining(new Date(p.end.getTime() - 1), tz, anchor))).toEqual(iso(p));
        expect(iso(billingPeriodContaining(p.end, tz, anchor))).toEqual(iso(next));
      }),
      { numRuns: 400 },
    );
  });

  it('starts at the first instant of local day anchorDay', () => {
    fc.assert(
      fc.property(instant, zone, anchorDay, (when, tz, anchor) => {
        const { start } = billingPeriodContaining(when, tz, anchor);
        const startClock = DateTime.fromJSDate(start, { zone: tz });
        const before = DateTime.fromMillis(start.getTime() - 1, { zone: tz });
        // Nothing earlier belongs to the anchor day or later.
        const anchorDate = `${startClock.toFormat('yyyy-MM')}-${String(anchor).padStart(2, '0')}`;
        expect(dateOf(before) < anchorDate).toBe(true);
        if (SKIPPED_WHOLE_DAYS.has(tz)) {
          expect(dateOf(startClock) >= anchorDate).toBe(true);
        } else {
          expect(startClock.day).toBe(anchor);
        }
        if (startClock.hour !== 0 || startClock.minute !== 0 || startClock.second !== 0 || startClock.millisecond !== 0) {
          // The documented DST-gap case: local midnight did not exist, the clocks jumped at `start`.
          expect(before.offset).not.toBe(startClock.offset);
        }
        // luxon agrees that this is where the local day begins.
        expect(startClock.startOf('day').toMillis()).toBe(start.getTime());
      }),
      { numRuns: 400 },
    );
  });

  it('gives the same period for an instant and for its local date', () => {
    fc.assert(
      fc.property(instant, zone, anchorDay, (when, tz, anchor) => {
        const localDate = dateOf(DateTime.fromJSDate(when, { zone: tz }));
        expect(iso(billingPeriodForDate(localDate, tz, anchor))).toEqual(iso(billingPeriodContaining(when, tz, anchor)));
      }),
      { numRuns: 400 },
    );
  });

  it('walks a run of consecutive periods without gaps or overlaps', () => {
    fc.assert(
      fc.property(instant, zone, anchorDay, fc.integer({ min: 1, max: 30 }), (when, tz, anchor, count) => {
        let period = billingPeriodContaining(when, tz, anchor);
        for (let i = 0; i < count; i += 1) {
          const next = nextPeriod(period, tz, anchor);
          expect(next.start.getTime()).toBe(period.end.getTime());
          expect(next.end.getTime()).toBeGreaterThan(next.start.getTime());
          // Some instant inside the next period, chosen by the random instant's milliseconds, maps to it.
          const length = next.end.getTime() - next.start.getTime();
          const inside = new Date(next.start.getTime() + Math.floor(((when.getTime() % 1000) / 1000) * length));
          expect(iso(billingPeriodContaining(inside, tz, anchor))).toEqual(iso(next));
          period = next;
        }
      }),
      { numRuns: 100 },
    );
  });

  it('starts at the first instant of the day on every DST change day of zones that change at midnight', () => {
    // Random instants rarely land near a transition, so look the transition days up: scan a year
    // at daily steps and take every local date around each offset change as an anchor day.
    const midnightZones = fc.constantFrom(
      'America/Santiago',
      'America/Havana',
      'Asia/Beirut',
      'Asia/Tehran',
      'Africa/Cairo',
      'America/Asuncion',
      'Asia/Gaza',
      'America/Sao_Paulo',
      'America/Scoresbysund',
      'Pacific/Apia',
    );
    let checked = 0;
    let skippedMidnights = 0;
    let repeatedMidnights = 0;
    fc.assert(
      fc.property(midnightZones, fc.integer({ min: 1970, max: 2099 }), (tz, year) => {
        const candidates = new Set<string>();
        let previous = DateTime.fromObject({ year, month: 1, day: 1, hour: 12 }, { zone: 'UTC' });
        for (let i = 1; i <= 366; i += 1) {
          const current = previous.plus({ days: 1 });
          if (current.setZone(tz).offset !== previous.setZone(tz).offset) {
            for (let h = 0; h <= 24; h += 6) candidates.add(dateOf(previous.plus({ hours: h }).setZone(tz)));
          }
          previous = current;
        }
        for (const date of candidates) {
          const day = Number(date.slice(8, 10));
          if (day > 28) continue;
          const { start } = billingPeriodForDate(date, tz, day);
          const startClock = DateTime.fromJSDate(start, { zone: tz });
          const before = DateTime.fromMillis(start.getTime() - 1, { zone: tz });
          expect(startClock.toISODate()).toBe(date);
          expect(dateOf(before) < date).toBe(true);
          expect(startClock.startOf('day').toMillis()).toBe(start.getTime());
          if (startClock.hour !== 0 || startClock.minute !== 0) {
            expect(before.offset).toBeLessThan(startClock.offset);
            skippedMidnights += 1;
          }
          // The wall clock reads 00:00 on this date again an hour later: the first one was chosen.
          if (DateTime.fromMillis(start.getTime() + HOUR, { zone: tz }).toFormat('yyyy-MM-dd HH:mm') === `${date} 00:00`) {
            repeatedMidnights += 1;
          }
          checked += 1;
        }
      }),
      { numRuns: 150 },
    );
    expect(checked).toBeGreaterThan(100);
    expect(skippedMidnights).toBeGreaterThan(10);
    expect(repeatedMidnights).toBeGreaterThan(0);
  });

  it('does not depend on which instant of the period it is computed from', () => {
    fc.assert(
      fc.property(instant, zone, anchorDay, fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), (when, tz, anchor, fraction) => {
        const p = billingPeriodContaining(when, tz, anchor);
        const other = new Date(p.start.getTime() + Math.floor(fraction * (p.end.getTime() - p.start.getTime())));
        expect(iso(billingPeriodContaining(other, tz, anchor))).toEqual(iso(p));
      }),
      { numRuns: 400 },
    );
  });
});
