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
