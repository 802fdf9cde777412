import { Decimal } from 'decimal.js';
import fc from 'fast-check';
import { isLosslessNumber, LosslessNumber } from 'lossless-json';
import { describe, expect, it } from 'vitest';
import { DECIMAL_INTEGER_DIGITS, DECIMAL_SCALE, toMeterDecimal } from '../platform/decimal.js';
import { MAX_JSON_DEPTH } from '../platform/text.js';
import { parseJsonExact, parseNdjsonExact, stringifyJsonExact } from './exact-json.js';

const Exact = Decimal.clone({ precision: 200, toExpNeg: -1000, toExpPos: 1000 });
const LIMIT = new Exact(10).pow(DECIMAL_INTEGER_DIGITS);

function fitsColumn(literal: string): boolean {
  const value = new Exact(literal);
  return value.decimalPlaces() <= DECIMAL_SCALE && value.abs().lt(LIMIT);
}

function fieldV(parsed: { value: unknown }): unknown {
  const value = parsed.value;
  if (typeof value !== 'object' || value === null || !Object.hasOwn(value, 'v')) throw new Error('no "v" field');
  return (value as { v: unknown }).v;
}

function syntaxErrorOf(run: () => unknown): SyntaxError {
  try {
    run();
  } catch (error) {
    if (error instanceof SyntaxError) return error;
    throw new Error(`expected a SyntaxError, got ${String(error)}`);
  }
  throw new Error('expected a SyntaxError, nothing was thrown');
}

/** Numbers from either path, written as one canonical decimal text so the two can be compared. */
function normalise(value: unknown): unknown {
  if (typeof value === 'number') return { number: new Exact(String(value)).toString() };
  if (isLosslessNumber(value)) return { number: new Exact(value.value).toString() };
  if (Array.isArray(value)) return value.map(normalise);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalise(v)]));
  }
  return value;
}

// Contains a 16-digit run, so any text it is placed in takes the lossless path.
const FORCE_SLOW = '"1234567890123456"';

const digits = (minLength: number, maxLength: number) =>
  fc.string({ unit: fc.constantFrom(...'0123456789'), minLength, maxLength });

/** JSON number literals with up to 40 integer and 40 fraction digits and an optional exponent. */
const jsonNumberLiteral = fc
  .record({
    negative: fc.boolean(),
    integer: fc.oneof(fc.constant('0'), fc.tuple(fc.constantFrom(...'123456789'), digits(0, 39)).map(([a, b]) => a + b)),
    fraction: fc.option(digits(1, 40)),
    exponent: fc.option(fc.tuple(fc.constantFrom('e', 'E'), fc.constantFrom('', '+', '-'), digits(1, 2))),
  })
  .map(
    ({ negative, integer, fraction, exponent }) =>
      `${negative ? '-' : ''}${integer}${fraction === null ? '' : `.${fraction}`}${exponent === null ? '' : exponent.join('')}`,
  );

describe('parseJsonExact worked examples', () => {
  it('takes the fast path for short plain numbers', () => {
    const parsed = parseJsonExact('{"v": 1.5, "n": -42, "z": 0.00000000000001, "big": 999999999999999}');
    expect(parsed.lossless).toBe(false);
    expect(parsed.value).toEqual({ v: 1.5, n: -42, z: 1e-14, big: 999999999999999 });
    expect(toMeterDecimal(fieldV(parsed))).toEqual({ ok: true, value: '1.5' });
  });

  it('does not read 0.10000000000000001 as 0.1', () => {
    const parsed = parseJsonExact('{"v": 0.10000000000000001}');
    expect(parsed.lossless).toBe(true);
    const v = fieldV(parsed);
    expect(v).toBeInstanceOf(LosslessNumber);
    expect((v as LosslessNumber).value).toBe('0.10000000000000001');
    expect(toMeterDecimal(v)).toEqual({ ok: false, reason: 'has 17 decimal places; at most 9 are kept' });
    // What the native parser would have done, silently.
    expect(JSON.parse('{"v": 0.10000000000000001}')).toEqual({ v: 0.1 });
  });

  it('keeps a 20-digit integer exact', () => {
    const parsed = parseJsonExact('{"v": 12345678901234567890}');
    expect(parsed.lossless).toBe(true);
    expect(toMeterDecimal(fieldV(parsed))).toEqual({ ok: true, value: '12345678901234567890' });
  });

  it('sends 16 significant-or-zero digits and any exponent down the lossless path', () => {
    expect(parseJsonExact('[1234567890123456]').lossless).toBe(true);
    expect(parseJsonExact('[123456789012345]').lossless).toBe(false);
    expect(parseJsonExact('[1234567.890123456]').lossless).toBe(true);
    expect(parseJsonExact('[1234567.89012345]').lossless).toBe(false);
    expect(parseJsonExact('[0.000000000000001]').lossless).toBe(true);
    expect(parseJsonExact('[1.500000000000000]').lossless).toBe(true);
    expect(parseJsonExact('[1e3]').lossless).toBe(true);
    expect(parseJsonExact('[2E-7]').lossless).toBe(true);
    expect(parseJsonExact('[5e+1]').lossless).toBe(true);
    expect(toMeterDecimal(fieldV(parseJsonExact('{"v": 1e3}')))).toEqual({ ok: true, value: '1000' });
  });

  it('may take the lossless path because of digits inside a string, with the same result', () => {
    const text = '{"id": "order-12345678901234567", "note": "2e5", "v": 3}';
    const parsed = parseJsonExact(text);
    expect(parsed.lossless).toBe(true);
    expect(normalise(parsed.value)).toEqual(normalise(JSON.parse(text)));
    expect(parseJsonExact('{"note": "e5 1e"}').lossless).toBe(false);
  });

  it.each([
    '',
    ' ',
    '{',
    '{"a":}',
    '[1,]',
    "{'a': 1}",
    'NaN',
    'Infinity',
    '01',
    '-',
    '1.',
    '.5',
    '+1',
    '1e',
    '"\u0001"',
    '{"a" 1}',
    '[1] [2]',
    'nul',
    '\uFEFF{}',
  ])('throws SyntaxError for invalid JSON %j on the fast path', (text) => {
    syntaxErrorOf(() => parseJsonExact(text));
    syntaxErrorOf(() => JSON.parse(text));
  });

  it.each([
    '{"a": 12345678901234567, }',
    '[12345678901234567',
    '[1e5,]',
    '{"v": 1.e5}',
    '{"v": 12345678901234567x}',
    '[01234567890123456]',
    '{"v": 1e}',
    '[1e5] x',
    '["1234567890123456", \'a\']',
  ])('throws SyntaxError for invalid JSON %j on the lossless path', (text) => {
    const error = syntaxErrorOf(() => parseJsonExact(text));
    expect(error.message.length).toBeGreaterThan(0);
    syntaxErrorOf(() => JSON.parse(text));
  });

  it('refuses absurd nesting with a SyntaxError before either parser recurses', () => {
    const depth = 200_000;
    const text = `${'['.repeat(depth)}12345678901234567${']'.repeat(depth)}`;
    const error = syntaxErrorOf(() => parseJsonExact(text));
    expect(error.message).toBe(`arrays and objects nest deeper than ${MAX_JSON_DEPTH} levels`);
  });

  it('takes nesting up to the depth limit on both paths and refuses one level more', () => {
    for (const number of ['1', '12345678901234567']) {
      const deepest = `${'['.repeat(MAX_JSON_DEPTH)}${number}${']'.repeat(MAX_JSON_DEPTH)}`;
      expect(() => parseJsonExact(deepest)).not.toThrow();
      const tooDeep = `{"data":${deepest}}`;
      expect(syntaxErrorOf(() => parseJsonExact(tooDeep)).message).toMatch(/nest deeper than 64 levels/);
    }
    const nested5000 = `{"id":"x","data":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`;
    syntaxErrorOf(() => parseJsonExact(nested5000));
  });

  it('does not count brackets inside strings towards the depth', () => {
    const text = JSON.stringify({ s: '['.repeat(500) + '\\"{'.repeat(100) });
    expect(parseJsonExact(text).value).toEqual(JSON.parse(text));
  });

  it('keeps the last of duplicate keys on both paths, like JSON.parse', () => {
    const fast = parseJsonExact('{"a": 1, "b": 2, "a": 3}');
    expect(fast.lossless).toBe(false);
    expect(fast.value).toEqual({ a: 3, b: 2 });
    const slow = parseJsonExact('{"a": 1, "b": 12345678901234567, "a": 3}');
    expect(slow.lossless).toBe(true);
    expect(Object.keys(slow.value as object)).toEqual(['a', 'b']);
    expect(normalise(slow.value)).toEqual({ a: { number: '3' }, b: { number: '12345678901234567' } });
  });

  it('stores "__proto__" as an own key on both paths', () => {
    for (const text of ['{"__proto__": {"x": 1}}', '{"__proto__": {"x": 12345678901234567}}']) {
      const value = parseJsonExact(text).value as Record<string, unknown>;
      expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
      expect(Object.hasOwn(value, '__proto__')).toBe(true);
      expect((value as { x?: unknown }).x).toBeUndefined();
    }
  });
});

describe('stringifyJsonExact', () => {
  it('round-trips big and precise numbers through the lossless path', () => {
    const text = '{"id":12345678901234567890,"v":0.10000000000000001,"n":[1,2e-400,-3.5E+700],"s":"x"}';
    const parsed = parseJsonExact(text);
    expect(parsed.lossless).toBe(true);
    expect(stringifyJsonExact(parsed.value, parsed.lossless)).toBe(text);
  });

  it('uses JSON.stringify on the fast path', () => {
    const text = '{"v":1.5,"list":[1,2,3],"s":"a\\"b","nested":{"t":true,"n":null}}';
    const parsed = parseJsonExact(text);
    expect(parsed.lossless).toBe(false);
    expect(stringifyJsonExact(parsed.value, parsed.lossless)).toBe(text);
  });

  it('writes bigints on the lossless path', () => {
    expect(stringifyJsonExact({ v: 123456789012345678901234567890n }, true)).toBe('{"v":123456789012345678901234567890}');
  });

  it('throws TypeError for values with no JSON text', () => {
    expect(() => stringifyJsonExact(undefined, false)).toThrow(TypeError);
    expect(() => stringifyJsonExact(undefined, true)).toThrow(TypeError);
    expect(() => stringifyJsonExact(() => 1, true)).toThrow(TypeError);
  });
});

describe('parseNdjsonExact', () => {
  it('skips blank lines and reports bad lines with their 1-based number', () => {
    const text = 'not json\n\n{"x": 1}\r\n  \t \n{bad\n{"y": 12345678901234567890}\n\r\n';
    const { lines } = parseNdjsonExact(text);
    expect(lines.map((l) => l.line)).toEqual([1, 3, 5, 6]);
    expect(lines[0]?.error).toEqual(expect.any(String));
    expect(lines[0]?.parsed).toBeUndefined();
    expect(lines[1]).toEqual({ line: 3, parsed: { value: { x: 1 }, lossless: false } });
    expect(lines[2]?.error).toEqual(expect.any(String));
    expect(lines[3]?.parsed?.lossless).toBe(true);
    expect(toMeterDecimal((lines[3]?.parsed?.value as { y: unknown }).y)).toEqual({
      ok: true,
      value: '12345678901234567890',
    });
  });

  it('returns no lines for empty or blank input', () => {
    expect(parseNdjsonExact('')).toEqual({ lines: [] });
    expect(parseNdjsonExact('\n\n \r\n')).toEqual({ lines: [] });
  });

  it('counts a non-JSON space as content', () => {
    expect(parseNdjsonExact('\u00a0').lines).toEqual([{ line: 1, error: expect.any(String) }]);
  });

  it('parses every line of generated NDJSON, numbering lines as written', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.jsonValue(), fc.nat(2), fc.boolean()), { maxLength: 12 }),
        (records) => {
          let text = '';
          const expected: Array<{ line: number; value: unknown }> = [];
          let line = 1;
          for (const [value, blanksBefore, crlf] of records) {
            for (let i = 0; i < blanksBefore; i += 1) {
              text += '\n';
              line += 1;
            }
            text += `${JSON.stringify(value)}${crlf ? '\r\n' : '\n'}`;
            expected.push({ line, value });
            line += 1;
          }
          const { lines } = parseNdjsonExact(text);
          expect(lines.map((l) => l.line)).toEqual(expected.map((e) => e.line));
          lines.forEach((l, i) => {
            expect(l.error).toBeUndefined();
            expect(normalise(l.parsed?.value)).toEqual(normalise(JSON.parse(JSON.stringify(expected[i]?.value))));
          });
        },
      ),
    );
  });
});

describe('exact money guarantee', () => {
  it('reads every JSON number literal as exactly its decimal value, or rejects it', () => {
    let accepted = 0;
    let fast = 0;
    const runs = 5000;
    fc.assert(
      fc.property(jsonNumberLiteral, fc.constantFrom('', ' ', '\n'), (literal, space) => {
        const text = `{"v":${space}${literal}}`;
        const parsed = parseJsonExact(text);
        const check = toMeterDecimal(fieldV(parsed));
        const expected = new Exact(literal);
        if (fitsColumn(literal)) {
          accepted += 1;
          if (!check.ok) throw new Error(`${literal} fits but was rejected: ${check.reason}`);
          expect(new Exact(check.value).eq(expected)).toBe(true);
          expect(check.value).toBe(expected.toFixed());
        } else {
          expect(check.ok).toBe(false);
        }
        // The fast path is only ever taken for literals it can carry exactly.
        const digitCount = literal.replace(/[eE].*$/, '').replace(/\D/g, '').length;
        const mustBeLossless = digitCount > 15 || /[eE]/.test(literal);
        if (mustBeLossless) expect(parsed.lossless).toBe(true);
        else {
          expect(parsed.lossless).toBe(false);
          fast += 1;
        }
      }),
      { numRuns: runs },
    );
    // Guard against a generator drift that would make the property vacuous.
    expect(accepted).toBeGreaterThan(runs * 0.2);
    expect(fast).toBeGreaterThan(runs * 0.05);
  });

  it('carries every literal of at most 15 digits exactly through the fast path', () => {
    const short = fc
      .record({
        negative: fc.boolean(),
        integer: digits(1, 15),
        fraction: digits(0, 14),
      })
      .filter(({ integer, fraction }) => integer.length + fraction.length <= 15)
      .map(({ negative, integer, fraction }) => {
        const trimmed = integer.replace(/^0+(?=\d)/, '');
        return `${negative ? '-' : ''}${trimmed}${fraction === '' ? '' : `.${fraction}`}`;
      });
    fc.assert(
      fc.property(short, (literal) => {
        const parsed = parseJsonExact(`{"v": ${literal}}`);
        expect(parsed.lossless).toBe(false);
        const v = fieldV(parsed);
        expect(typeof v).toBe('number');
        expect(new Exact(String(v)).eq(new Exact(literal))).toBe(true);
      }),
      { numRuns: 5000 },
    );
  });

  it('round-trips any literal through parse and stringify with the same value', () => {
    fc.assert(
      fc.property(fc.array(jsonNumberLiteral, { minLength: 1, maxLength: 5 }), (literals) => {
        const parsed = parseJsonExact(`[${literals.join(',')}]`);
        const again = parseJsonExact(stringifyJsonExact(parsed.value, parsed.lossless));
        const before = normalise(parsed.value);
        expect(normalise(again.value)).toEqual(before);
        expect(before).toEqual(literals.map((l) => ({ number: new Exact(l).toString() })));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('fast and lossless paths agree', () => {
  it('gives the same values as JSON.parse for generated JSON, on either path', () => {
    fc.assert(
      fc.property(fc.json(), fc.boolean(), (json, forceSlow) => {
        const text = forceSlow ? `[${json},${FORCE_SLOW}]` : json;
        const parsed = parseJsonExact(text);
        if (forceSlow) expect(parsed.lossless).toBe(true);
        expect(normalise(parsed.value)).toEqual(normalise(JSON.parse(text)));
      }),
      { numRuns: 2000 },
    );
  });

  it('accepts and rejects exactly the texts JSON.parse does', () => {
    const structural = fc
      .array(
        fc.constantFrom('{', '}', '[', ']', ',', ':', '"', '\\', ' ', '\n', '\t', '0', '1', '-', '+', '.', 'e', 'E', 'a', 'true', 'null', 'u', '\u0000', '\u00a0'),
        { maxLength: 20 },
      )
      .map((parts) => parts.join(''));
    const mutatedJson = fc
      .tuple(fc.json(), fc.nat(), fc.nat(3), fc.constantFrom('', ',', '}', ']', '"', ':', '\\', '1', '.', 'e', ' '))
      .map(([json, at, remove, insert]) => {
        const cut = at % (json.length + 1);
        return json.slice(0, cut) + insert + json.slice(cut + remove);
      });
    fc.assert(
      fc.property(fc.oneof(structural, mutatedJson, fc.string(), fc.string({ unit: 'binary' })), fc.boolean(), (body, forceSlow) => {
        const text = forceSlow ? `[${body},${FORCE_SLOW}]` : body;
        let nativeOk = true;
        try {
          JSON.parse(text);
        } catch {
          nativeOk = false;
        }
        let exactOk = true;
        try {
          parseJsonExact(text);
        } catch (error) {
          expect(error).toBeInstanceOf(SyntaxError);
          exactOk = false;
        }
        expect(exactOk).toBe(nativeOk);
      }),
      { numRuns: 5000 },
    );
  });
});
