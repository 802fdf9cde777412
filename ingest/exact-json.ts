import { parse as parseLossless, stringify as stringifyLossless } from 'lossless-json';
import { assertJsonDepth, JsonTextError, MAX_JSON_DEPTH } from '../platform/text.js';

export interface ParsedJson {
  value: unknown;
  /** True when numbers in `value` are lossless-json LosslessNumber objects rather than JS numbers. */
  lossless: boolean;
}

// Flags any text where a JSON number might not survive a trip through a double:
//  - 16 or more digits in one run, optionally split by a single '.', i.e. a literal with more
//    than 15 significant-or-zero digits;
//  - a digit followed by an exponent marker, since an exponent can push a short literal out of
//    the range where doubles are exact (1e400, 5e-400).
// A literal that trips neither rule has at most 15 digits and lies between 1e-14 and 1e15. Every
// decimal with at most 15 significant digits in that range (DBL_DIG = 15) converts to a double
// from which String(n), the shortest text that reads back as the same double, gives back the same
// decimal value. Such numbers are therefore safe as plain JS numbers. The scan ignores JSON
// structure, so digits inside strings can match too; that only sends the text down the slower
// lossless path, it never lets a risky number through.
const MAY_LOSE_PRECISION = /(?:\d\.?){16}|\d[eE][+-]?\d/;

// JSON.parse keeps the last of duplicate keys; lossless-json throws unless told otherwise. Doing
// the same as JSON.parse keeps both paths accepting exactly the same texts.
const keepLastDuplicate = ({ newValue }: { newValue: unknown }): unknown => newValue;

/**
 * Parses JSON without ever rounding a number. Texts whose numbers are all exactly representable
 * go through the native JSON.parse (`lossless: false`); anything else goes through lossless-json
 * and every number comes back as a LosslessNumber holding its original text (`lossless: true`).
 * Throws SyntaxError on invalid JSON on both paths, and on nesting deeper than MAX_JSON_DEPTH,
 * which both parsers and every recursive step after them would otherwise have to survive.
 */
export function parseJsonExact(text: string): ParsedJson {
  try {
    assertJsonDepth(text, MAX_JSON_DEPTH);
  } catch (error) {
    if (error instanceof JsonTextError) throw new SyntaxError(error.message);
    throw error;
  }
  if (!MAY_LOSE_PRECISION.test(text)) {
    return { value: JSON.parse(text) as unknown, lossless: false };
  }
  try {
    return { value: parseLossless(text, null, { onDuplicateKey: keepLastDuplicate }), lossless: true };
  } catch (error) {
    if (error instanceof SyntaxError) throw error;
    // Anything else (for example a stack overflow on absurdly deep nesting) still means the text
    // was not accepted, and callers only handle SyntaxError for that.
    const message = error instanceof Error ? error.message : String(error);
    throw new SyntaxError(message, { cause: error });
  }
}

/**
 * Serialises a value produced by parseJsonExact. Pass the `lossless` flag from the same parse:
 * the native JSON.stringify would write a LosslessNumber as an object, not as a number.
 */
export function stringifyJsonExact(value: unknown, lossless: boolean): string {
  const text: unknown = lossless ? stringifyLossless(value) : JSON.stringify(value);
  if (typeof text !== 'string') throw new TypeError('value has no JSON representation');
  return text;
}

export interface NdjsonLine {
  /** 1-based line number in the input. */
  line: number;
  parsed?: ParsedJson;
  error?: string;
}

// Only JSON's own whitespace makes a line blank; other Unicode spaces are content, and invalid.
const BLANK_LINE = /^[ \t\r]*$/;

/**
 * Parses newline-delimited JSON line by line. Blank lines are skipped; a line that is not valid
 * JSON is reported with its message instead of failing the whole batch. Each line picks its own
 * fast or lossless path. A trailing "\r" (CRLF files) is JSON whitespace and is accepted.
 */
export function parseNdjsonExact(text: string): { lines: NdjsonLine[] } {
  const lines: NdjsonLine[] = [];
  const rawLines = text.split('\n');
  for (let index = 0; index < rawLines.length; index += 1) {
    const raw = rawLines[index] ?? '';
    if (BLANK_LINE.test(raw)) continue;
    try {
      lines.push({ line: index + 1, parsed: parseJsonExact(raw) });
    } catch (error) {
      if (!(error instanceof SyntaxError)) throw error;
      lines.push({ line: index + 1, error: error.message });
    }
  }
  return { lines };
}
