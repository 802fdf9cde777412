/** ClickHouse DateTime64(3, 'UTC') text form: what JSONEachRow parses without guessing units. */
export function toClickHouseTime(instant: Date): string {
  return instant.toISOString().replace('T', ' ').replace('Z', '');
}

/** Reads a DateTime64 text value written in UTC back into an instant. */
export function fromClickHouseTime(text: string): Date {
  return new Date(`${text.replace(' ', 'T')}Z`);
}

/** RFC 3339 date-time: a calendar date, a time and an explicit offset. */
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** Parses RFC 3339 strictly (Date.parse alone accepts many other shapes and rolls over bad days). */
export function parseRfc3339(text: string): Date | undefined {
  const match = RFC3339.exec(text);
  if (!match) return undefined;
  const [, year, month, day, hour, minute, second] = match;
  const instant = new Date(text.replace(/^(.{10})[t ]/, '$1T'));
  if (Number.isNaN(instant.getTime())) return undefined;
  const m = Number(month);
  const d = Number(day);
  const y = Number(year);
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  const daysInMonth = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][m - 1] ?? 0;
  if (m < 1 || m > 12 || d < 1 || d > daysInMonth) return undefined;
  if (Number(hour) > 23 || Number(minute) > 59 || Number(second) > 60) return undefined;
  return instant;
}

const DURATION = /^(\d+)\s*(ms|s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 };

/** Milliseconds of a duration written like "250ms", "30s", "5m", "12h" or "35d"; callers validate the text first. */
export function durationMs(text: string): number {
  const match = DURATION.exec(text);
  if (!match) throw new RangeError(`not a duration: ${JSON.stringify(text)}`);
  return Number(match[1]) * (UNIT_MS[match[2] ?? ''] ?? 1);
}

/**
 * Versions for the ReplacingMergeTree rows one process writes: they follow the clock (in
 * thousandths of a millisecond), so a later write from any process wins, and strictly increase
 * within the process, so two writes in one millisecond keep their order.
 */
export function rowVersionClock(now: () => number): () => number {
  let last = 0;
  return () => (last = Math.max(last + 1, now() * 1000));
}
