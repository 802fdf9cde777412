import { parseRfc3339 } from '../platform/time.js';
import { preview } from '../platform/money.js';

/**
 * An instant given as a Date or as an RFC 3339 string with an explicit offset; strict, because
 * Date.parse alone guesses at offset-less text and rolls 30 February over into March.
 */
export function parseInstant(value: Date | string, what: string): Date {
  const instant = typeof value === 'string' ? parseRfc3339(value) : value;
  if (!(instant instanceof Date) || Number.isNaN(instant.getTime())) {
    throw new RangeError(`${what} must be a valid Date or RFC 3339 date-time, got ${preview(String(value))}`);
  }
  return instant;
}
