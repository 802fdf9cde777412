import { IANAZone } from 'luxon';
import { InvalidRequestError } from '../platform/errors.js';

/** A half-open interval of instants: start is inside the period, end is the next period's start. */
export interface BillingPeriod {
  start: Date;
  end: Date;
}

// Area/Location style names ("Europe/Berlin", "America/Argentina/Buenos_Aires") and the legacy
// single-word ones ("UTC", "EST5EDT"). Newer engines also accept offsets such as "+05:00" as an
// Intl time zone; those are not IANA names and are kept out by this shape check, so the answer does
// not depend on the Node version.
const IANA_NAME_SHAPE = /^[A-Za-z][A-Za-z0-9_+-]*(?:\/[A-Za-z0-9_+-]+)*$/;

export function isValidTimeZone(tz: string): boolean {
  return typeof tz === 'string' && IANA_NAME_SHAPE.test(tz) && IANAZone.isValidZone(tz);
}

/**
 * The billing period that contains `instant`.
 *
 * A period starts at the beginning of local day `anchorDay` of a month in `timeZone` and ends where
 * the period of the following month starts. The beginning of a local day is its midnight, except
 * where the clocks skip midnight (a DST change at 00:00, as in America/Santiago, America/Havana or
 * Asia/Beirut): then it is the first instant that exists on that day, i.e. the moment the clocks
 * jump, which is what luxon's startOf('day') gives for such a day. Where midnight happens twice
 * (clocks set back from 01:00 to 00:00), the first occurrence is used.
 *
 * Period boundaries depend only on (zone, month, anchorDay), so periods tile time: every instant
 * lies in exactly one, and an instant exactly on a boundary belongs to the later period.
 */
export function billingPeriodContaining(instant: Date, timeZone: string, anchorDay: number): BillingPeriod {
  const zone = zoneFor(timeZone);
  checkAnchorDay(anchorDay);
  if (!(instant instanceof Date) || Number.isNaN(instant.getTime())) {
    throw new RangeError('instant must be a valid Date');
  }
  const at = instant.getTime();

  // Start from the local calendar date and correct by whole months: the local date alone is not
  // always enough (a clock set back across midnight shows some dates twice), the comparison of
  // instants is.
  const local = new Date(at + offsetMs(zone, at));
  let month = monthIndex(local.getUTCFullYear(), local.getUTCMonth() + 1);
  if (local.getUTCDate() < anchorDay) month -= 1;
  let start = periodStart(zone, month, anchorDay);
  let end = periodStart(zone, month + 1, anchorDay);
  while (at < start) {
    month -= 1;
    end = start;
    start = periodStart(zone, month, anchorDay);
  }
  while (at >= end) {
    month += 1;
    start = end;
    end = periodStart(zone, month + 1, anchorDay);
  }
  return { start: new Date(start), end: new Date(end) };
}

const LOCAL_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const MONTH_NAMES = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];

/** The billing period that contains the local calendar date `localDate` (YYYY-MM-DD) in `timeZone`. */
export function billingPeriodForDate(localDate: string, timeZone: string, anchorDay: number): BillingPeriod {
  const zone = zoneFor(timeZone);
  checkAnchorDay(anchorDay);
  const match = typeof localDate === 'string' ? LOCAL_DATE.exec(localDate) : null;
  if (match === null) {
    throw new RangeError(`invalid local date ${JSON.stringify(localDate)}: expected YYYY-MM-DD`);
  }
  const year = Number(match[1]);
  const monthOfYear = Number(match[2]);
  const day = Number(match[3]);
  if (monthOfYear < 1 || monthOfYear > 12) {
    throw new RangeError(`invalid local date "${localDate}": there is no month ${monthOfYear}`);
  }
  const length = daysInMonth(year, monthOfYear);
  if (day < 1 || day > length) {
    throw new RangeError(
      `invalid local date "${localDate}": ${MONTH_NAMES[monthOfYear - 1]} ${year} has ${length} days`,
    );
  }
  const month = monthIndex(year, monthOfYear) - (day < anchorDay ? 1 : 0);
  return {
    start: new Date(periodStart(zone, month, anchorDay)),
    end: new Date(periodStart(zone, month + 1, anchorDay)),
  };
}

/** The period right after `period`, which must be a billing period of this zone and anchor day. */
export function nextPeriod(period: BillingPeriod, timeZone: string, anchorDay: number): BillingPeriod {
  checkIsPeriod(period, timeZone, anchorDay);
  return billingPeriodContaining(period.end, timeZone, anchorDay);
}

/** The period right before `period`, which must be a billing period of this zone and anchor day. */
export function previousPeriod(period: BillingPeriod, timeZone: string, anchorDay: number): BillingPeriod {
  checkIsPeriod(period, timeZone, anchorDay);
  return billingPeriodContaining(new Date(period.start.getTime() - 1), timeZone, anchorDay);
}

// A period from another zone or anchor day would otherwise quietly yield a period that overlaps it
// or leaves a gap, which is exactly what must not happen to billed usage.
function checkIsPeriod(period: BillingPeriod, timeZone: string, anchorDay: number): void {
  const actual = billingPeriodContaining(period.start, timeZone, anchorDay);
  if (actual.start.getTime() !== period.start.getTime() || actual.end.getTime() !== period.end.getTime()) {
    const shown = `[${describeDate(period.start)}, ${describeDate(period.end)})`;
    throw new RangeError(`${shown} is not a billing period in ${timeZone} anchored on day ${anchorDay}`);
  }
}

function describeDate(date: Date): string {
  return Number.isNaN(date.getTime()) ? 'Invalid Date' : date.toISOString();
}

function zoneFor(timeZone: string): IANAZone {
  if (!isValidTimeZone(timeZone)) {
    throw new RangeError(
      `unknown time zone ${JSON.stringify(timeZone)}: expected an IANA name such as "Europe/Berlin"`,
    );
  }
  return IANAZone.create(timeZone);
}

function checkAnchorDay(anchorDay: number): void {
  // Days 29-31 are missing from some months, and a period that starts "on the 31st" has no single
  // answer in those months, so anchors stop at 28.
  if (!Number.isInteger(anchorDay) || anchorDay < 1 || anchorDay > 28) {
    throw new RangeError(`anchorDay must be an integer from 1 to 28, got ${String(anchorDay)}`);
  }
}

// Months are counted as year * 12 + (month - 1) so that stepping by one crosses years for free.
function monthIndex(year: number, monthOfYear: number): number {
  return year * 12 + (monthOfYear - 1);
}

function daysInMonth(year: number, monthOfYear: number): number {
  const date = new Date(0);
  date.setUTCFullYear(year, monthOfYear, 0);
  return date.getUTCDate();
}

/**
 * Local wall-clock time expressed as milliseconds since 1970-01-01T00:00 "as if UTC". Uses
 * setUTCFullYear because Date.UTC maps years 0-99 to 1900-1999.
 */
function localMidnight(month: number, day: number): number {
  const year = Math.floor(month / 12);
  const date = new Date(0);
  date.setUTCFullYear(year, month - year * 12, day);
  const time = date.getTime();
  if (Number.isNaN(time)) throw new RangeError(`year ${year} is outside the supported date range`);
  return time;
}

// Finding a boundary takes up to a few dozen offset look-ups, and callers ask for the same few months over
// and over. The answer never changes within a process (the time zone data is fixed), so it is
// remembered; the bound only stops a long-running process from growing the map without limit.
const PERIOD_START_CACHE_LIMIT = 10_000;
const periodStartCache = new Map<string, number>();

function periodStart(zone: IANAZone, month: number, anchorDay: number): number {
  const key = `${zone.name}|${month}|${anchorDay}`;
  const cached = periodStartCache.get(key);
  if (cached !== undefined) return cached;
  const start = firstInstantAtOrAfter(zone, localMidnight(month, anchorDay));
  if (periodStartCache.size >= PERIOD_START_CACHE_LIMIT) periodStartCache.clear();
  periodStartCache.set(key, start);
  return start;
}

const HOUR_MS = 3_600_000;
// UTC offsets stay within ±24 h, so the earliest instant whose wall clock reads at least L lies in
// [L - 24 h, L + 24 h]; the scan covers a little more.
const SCAN_RADIUS_MS = 26 * HOUR_MS;
// Offsets are sampled at this spacing and transitions located by bisection between samples. Two
// transitions that return to the same offset within one step would go unseen; no zone has those.
const SCAN_STEP_MS = 6.5 * HOUR_MS;

interface OffsetSample {
  at: number;
  offset: number;
}

/** From `from` (inclusive) until the next piece's `from`, the zone's offset is `offset`. */
interface OffsetPiece {
  from: number;
  offset: number;
}

/**
 * The earliest instant at which the wall clock in `zone` reads `localTime` or later.
 *
 * Written out rather than asking luxon for DateTime.fromObject(...) or startOf('day'): luxon
 * resolves a wall time that happens twice by trying a guessed offset first (the current offset, or
 * the offset of the DateTime being adjusted), so the same local midnight could come out as either
 * occurrence depending on the clock or on which instant it was computed from. Period boundaries
 * must not depend on either. For a wall time skipped by a DST gap this returns the instant of the
 * jump, the same result luxon gives for a gap that starts at midnight.
 */
function firstInstantAtOrAfter(zone: IANAZone, localTime: number): number {
  const pieces: OffsetPiece[] = [];
  let previous: OffsetSample | undefined;
  for (let at = localTime - SCAN_RADIUS_MS; at <= localTime + SCAN_RADIUS_MS; at += SCAN_STEP_MS) {
    const sample = { at, offset: offsetMs(zone, at) };
    if (previous === undefined) pieces.push({ from: -Infinity, offset: sample.offset });
    else addTransitions(zone, previous, sample, pieces);
    previous = sample;
  }
  for (let i = 0; i < pieces.length; i += 1) {
    const piece = pieces[i];
    if (piece === undefined) break;
    const until = pieces[i + 1]?.from ?? Infinity;
    // Within one piece the wall clock runs at the same pace as UTC.
    const candidate = Math.max(piece.from, localTime - piece.offset);
    if (candidate < until) return candidate;
  }
  throw new RangeError(`time zone ${zone.name} has an offset outside ±24 hours near ${localTime} ms from 1970`);
}

function addTransitions(zone: IANAZone, from: OffsetSample, to: OffsetSample, pieces: OffsetPiece[]): void {
  if (from.offset === to.offset) return;
  // Transitions fall on whole seconds, and so do all sample points, so bisect over seconds.
  if (to.at - from.at <= 1000) {
    pieces.push({ from: to.at, offset: to.offset });
    return;
  }
  const middleAt = from.at + Math.floor((to.at - from.at) / 2000) * 1000;
  const middle = { at: middleAt, offset: offsetMs(zone, middleAt) };
  addTransitions(zone, from, middle, pieces);
  addTransitions(zone, middle, to, pieces);
}

function offsetMs(zone: IANAZone, at: number): number {
  let minutes = NaN;
  try {
    minutes = zone.offset(at);
  } catch {
    // Intl throws for some instants near the ends of the Date range; reported below like NaN.
  }
  if (!Number.isFinite(minutes)) {
    throw new RangeError(
      `cannot determine the UTC offset of ${zone.name} ${at} ms from 1970: the date is outside the supported range`,
    );
  }
  // luxon reports minutes, fractional for historical offsets with seconds; they are whole seconds.
  return Math.round(minutes * 60_000);
}

/**
 * The period an API request names: "current" (the one containing `asOf`) or a local date
 * YYYY-MM-DD. A date that does not exist is the caller's mistake, answered as a 400.
 */
export function selectedBillingPeriod(selector: string, asOf: Date, timeZone: string, anchorDay: number): BillingPeriod {
  try {
    return selector === 'current'
      ? billingPeriodContaining(asOf, timeZone, anchorDay)
      : billingPeriodForDate(selector, timeZone, anchorDay);
  } catch (error) {
    throw new InvalidRequestError(error instanceof Error ? error.message : 'invalid period', 'period');
  }
}
