import { LosslessNumber } from 'lossless-json';
import { describe, expect, it } from 'vitest';
import type { Meter } from '../catalog/schemas.js';
import type { MeterReading } from '../eventlog/index.js';
import { splitEventBody } from './body.js';
import type { FieldError } from './cloud-event.js';
import { readMeters, type ReadingsCheck } from './meter-readings.js';

function meter(fields: Pick<Meter, 'key' | 'aggregation'> & Partial<Meter>): Meter {
  return { name: fields.key, eventType: 'usage', groupBy: {}, createdAt: '2026-11-01T00:00:00.000Z', ...fields };
}

const tokens = meter({ key: 'tokens', aggregation: 'SUM', valueProperty: '$.tokens' });
const requests = meter({ key: 'requests', aggregation: 'COUNT' });
const users = meter({ key: 'active-users', aggregation: 'UNIQUE_COUNT', valueProperty: '$.user' });
const storage = meter({ key: 'storage', aggregation: 'LATEST', valueProperty: '$.usage.bytes' });

function readings(check: ReadingsCheck): MeterReading[] {
  if (!check.ok) throw new Error(`expected readings, got ${JSON.stringify(check.errors)}`);
  return check.readings;
}

function errorsOf(check: ReadingsCheck): FieldError[] {
  if (check.ok) throw new Error(`expected errors, got ${JSON.stringify(check.readings)}`);
  return check.errors;
}

function only(check: ReadingsCheck): MeterReading {
  const list = readings(check);
  expect(list).toHaveLength(1);
  const [reading] = list;
  if (!reading) throw new Error('no reading');
  return reading;
}

/** The event data as the ingest path sees it: parsed from body text by the exact parser. */
function dataOf(body: string): Record<string, unknown> {
  const [item] = splitEventBody('application/json', body);
  if (!item || !('value' in item)) throw new Error(`cannot parse ${body}`);
  return item.value as Record<string, unknown>;
}

describe('readMeters with COUNT meters', () => {
  it('reads value "0", no value key and no group when the meter has no value path', () => {
    expect(readMeters({}, [requests])).toEqual({
      ok: true,
      readings: [{ meterKey: 'requests', value: '0', valueKey: '', groupBy: '{}' }],
    });
  });

  it('ignores whatever the data holds', () => {
    expect(only(readMeters({ tokens: 'not a number', user: {} }, [requests])).value).toBe('0');
  });
});

describe('readMeters with SUM and LATEST meters', () => {
  it.each([
    ['12.50', '12.5'],
    ['7', '7'],
    ['-3.25', '-3.25'],
    ['0.000000001', '0.000000001'],
    ['1e3', '1000'],
    ['0007', '7'],
    ['-0', '0'],
    ['12345678901234567890123456789.123456789', '12345678901234567890123456789.123456789'],
  ])('reads the string %j as %s', (raw, value) => {
    expect(only(readMeters({ tokens: raw }, [tokens]))).toEqual({ meterKey: 'tokens', value, valueKey: '', groupBy: '{}' });
  });

  it.each([
    [3, '3'],
    [1.5, '1.5'],
    [0.1, '0.1'],
    [-42, '-42'],
    [123456789012345, '123456789012345'],
  ])('reads the number %d as %s', (raw, value) => {
    expect(only(readMeters({ tokens: raw }, [tokens])).value).toBe(value);
  });

  it('reads numbers of any size from the body digit for digit', () => {
    for (const literal of ['12345678901234567890.5', '9007199254740993', '0.123456789', '99999999999999999999999999999']) {
      expect(only(readMeters(dataOf(`{"tokens":${literal}}`), [tokens])).value, literal).toBe(literal);
    }
  });

  it('reads lossless numbers and bigints', () => {
    expect(only(readMeters({ tokens: new LosslessNumber('1.50') }, [tokens])).value).toBe('1.5');
    expect(only(readMeters({ tokens: 10n ** 20n }, [tokens])).value).toBe('100000000000000000000');
  });

  it('reads a nested value path for LATEST', () => {
    expect(only(readMeters({ usage: { bytes: '1048576' } }, [storage]))).toEqual({
      meterKey: 'storage',
      value: '1048576',
      valueKey: '',
      groupBy: '{}',
    });
  });

  it.each([
    ['missing', {}],
    ['null', { tokens: null }],
  ])('rejects a %s value with its data path and the meter key', (_label, data) => {
    expect(errorsOf(readMeters(data, [tokens]))).toEqual([{ path: 'data.tokens', message: 'required by meter tokens ($.tokens)' }]);
  });

  it('names a nested and bracketed value path as a field path under data', () => {
    const m = meter({ key: 'input', aggregation: 'SUM', valueProperty: "$.usage['in-put'][0]" });
    expect(errorsOf(readMeters({ usage: {} }, [m]))).toEqual([
      { path: 'data.usage.in-put.0', message: "required by meter input ($.usage['in-put'][0])" },
    ]);
    expect(only(readMeters({ usage: { 'in-put': ['5'] } }, [m])).value).toBe('5');
    expect(errorsOf(readMeters({}, [storage]))).toEqual([
      { path: 'data.usage.bytes', message: 'required by meter storage ($.usage.bytes)' },
    ]);
  });

  it.each([
    ['a word', 'abc'],
    ['an empty string', ''],
    ['padded digits', ' 12'],
    ['a comma', '1,5'],
    ['hex', '0x10'],
    ['Infinity text', 'Infinity'],
    ['too many decimals', '1.0000000001'],
    ['too many integer digits', '1'.repeat(30)],
    ['a boolean true', true],
    ['a boolean false', false],
    ['an object', { n: 1 }],
    ['an array', [1]],
    ['NaN', Number.NaN],
    ['infinity', Number.POSITIVE_INFINITY],
  ])('rejects %s', (_label, raw) => {
    const errors = errorsOf(readMeters({ tokens: raw }, [tokens]));
    expect(errors).toHaveLength(1);
    expect(errors[0]?.path).toBe('data.tokens');
    expect(errors[0]?.message).toMatch(/^meter tokens: ./);
  });

  it('says what was wrong with a boolean', () => {
    expect(errorsOf(readMeters({ usage: { bytes: true } }, [storage]))).toEqual([
      { path: 'data.usage.bytes', message: 'meter storage: expected a decimal number, got boolean' },
    ]);
  });
});

describe('readMeters with UNIQUE_COUNT meters', () => {
  it('takes a string as the value key and reads value "0"', () => {
    expect(only(readMeters({ user: 'user-17' }, [users]))).toEqual({
      meterKey: 'active-users',
      value: '0',
      valueKey: 'user-17',
      groupBy: '{}',
    });
  });

  it('keeps a string exactly, even when it looks like a number', () => {
    expect(only(readMeters({ user: '1.50' }, [users])).valueKey).toBe('1.50');
    expect(only(readMeters({ user: ' a ' }, [users])).valueKey).toBe(' a ');
  });

  it('writes numbers canonically', () => {
    expect(only(readMeters({ user: 42 }, [users])).valueKey).toBe('42');
    expect(only(readMeters({ user: 1.5 }, [users])).valueKey).toBe('1.5');
    expect(only(readMeters({ user: new LosslessNumber('1.50') }, [users])).valueKey).toBe('1.5');
    expect(only(readMeters({ user: new LosslessNumber('4.2e1') }, [users])).valueKey).toBe('42');
    expect(only(readMeters(dataOf('{"user":1.50}'), [users])).valueKey).toBe('1.5');
    expect(only(readMeters(dataOf('{"user":12345678901234567890}'), [users])).valueKey).toBe('12345678901234567890');
  });

  it('gives one number the same value key whichever parsing path read the body', () => {
    // The second body holds an unrelated long number, which sends the whole body down the
    // lossless parser; the user value itself is written identically in both.
    const fast = only(readMeters(dataOf('{"user":0.0000000001}'), [users]));
    const lossless = only(readMeters(dataOf('{"user":0.0000000001,"trace":12345678901234567}'), [users]));
    expect(lossless.valueKey).toBe(fast.valueKey);
  });

  it.each([
    ['an object', { id: 1 }],
    ['an array', ['a']],
    ['true', true],
    ['false', false],
    ['an empty string', ''],
  ])('rejects %s', (_label, raw) => {
    expect(errorsOf(readMeters({ user: raw }, [users]))).toEqual([
      { path: 'data.user', message: 'meter active-users counts distinct values: expected a string or number' },
    ]);
  });

  it('rejects a missing value key', () => {
    expect(errorsOf(readMeters({}, [users]))).toEqual([{ path: 'data.user', message: 'required by meter active-users ($.user)' }]);
  });
});

describe('readMeters group-by dimensions', () => {
  const byRegion = meter({
    key: 'tokens-by-region',
    aggregation: 'SUM',
    valueProperty: '$.tokens',
    groupBy: { zone: '$.where.zone', region: '$.region', Model: '$.model', a_tier: '$.tier' },
  });

  it('writes canonical JSON with the dimension names sorted', () => {
    const reading = only(readMeters({ tokens: 1, region: 'eu', model: 'large', tier: 'gold', where: { zone: 'b' } }, [byRegion]));
    expect(reading.groupBy).toBe('{"Model":"large","a_tier":"gold","region":"eu","zone":"b"}');
  });

  it('gives the same text whatever order the meter lists its dimensions in', () => {
    const reversed = meter({ ...byRegion, groupBy: Object.fromEntries(Object.entries(byRegion.groupBy).reverse()) });
    const data = { tokens: 1, region: 'eu', model: 'large', tier: 'gold', where: { zone: 'b' } };
    expect(only(readMeters(data, [reversed])).groupBy).toBe(only(readMeters(data, [byRegion])).groupBy);
  });

  it('writes null for a missing or null dimension', () => {
    expect(only(readMeters({ tokens: 1, region: null }, [byRegion])).groupBy).toBe(
      '{"Model":null,"a_tier":null,"region":null,"zone":null}',
    );
  });

  it('writes booleans and numbers as text', () => {
    const reading = only(readMeters({ tokens: 1, region: true, model: 7, tier: -0.5, where: { zone: false } }, [byRegion]));
    expect(JSON.parse(reading.groupBy)).toEqual({ Model: '7', a_tier: '-0.5', region: 'true', zone: 'false' });
  });

  it('writes every number canonically and keeps strings as given', () => {
    const group = (region: unknown) => JSON.parse(only(readMeters({ tokens: 1, region }, [byRegion])).groupBy) as Record<string, unknown>;
    expect(group(1.5).region).toBe('1.5');
    expect(group(new LosslessNumber('1.50')).region).toBe('1.5');
    expect(group(new LosslessNumber('1.5e0')).region).toBe('1.5');
    expect(group(2n).region).toBe('2');
    expect(group('1.50').region).toBe('1.50');
    expect(group('1.5').region).toBe('1.5');
    const fromBody = (literal: string) => only(readMeters(dataOf(`{"tokens":1,"region":${literal}}`), [byRegion])).groupBy;
    expect(fromBody('1.50')).toBe(fromBody('1.5'));
    expect(fromBody('1.50')).toBe(fromBody('1.500000000000000000000'));
  });

  it('groups an object dimension the same way whichever parsing path read the body', () => {
    const fast = only(readMeters(dataOf('{"tokens":1,"region":{"zone":1.50}}'), [byRegion]));
    const lossless = only(readMeters(dataOf('{"tokens":12345678901234567,"region":{"zone":1.50}}'), [byRegion]));
    expect(lossless.groupBy).toBe(fast.groupBy);
  });

  it('gives a COUNT meter its dimensions too', () => {
    const m = meter({ key: 'calls', aggregation: 'COUNT', groupBy: { route: '$.route' } });
    expect(only(readMeters({ route: '/v1/chat' }, [m]))).toEqual({
      meterKey: 'calls',
      value: '0',
      valueKey: '',
      groupBy: '{"route":"/v1/chat"}',
    });
  });
});

describe('readMeters with several meters', () => {
  const data = { tokens: '120', user: 'u-1', usage: { bytes: 2048 } };

  it('gives one reading per meter, in meter order', () => {
    expect(readMeters(data, [tokens, requests, users, storage])).toEqual({
      ok: true,
      readings: [
        { meterKey: 'tokens', value: '120', valueKey: '', groupBy: '{}' },
        { meterKey: 'requests', value: '0', valueKey: '', groupBy: '{}' },
        { meterKey: 'active-users', value: '0', valueKey: 'u-1', groupBy: '{}' },
        { meterKey: 'storage', value: '2048', valueKey: '', groupBy: '{}' },
      ],
    });
  });

  it('gives no readings when no meter matches', () => {
    expect(readMeters(data, [])).toEqual({ ok: true, readings: [] });
  });

  it('rejects the whole event when one meter cannot read it', () => {
    expect(readMeters({ ...data, user: true }, [tokens, requests, users, storage])).toEqual({
      ok: false,
      errors: [{ path: 'data.user', message: 'meter active-users counts distinct values: expected a string or number' }],
    });
  });

  it('reports the errors of every meter that cannot read the event', () => {
    expect(errorsOf(readMeters({ tokens: 'many', usage: {} }, [tokens, requests, users, storage]))).toEqual([
      { path: 'data.tokens', message: 'meter tokens: "many" is not a decimal number' },
      { path: 'data.user', message: 'required by meter active-users ($.user)' },
      { path: 'data.usage.bytes', message: 'required by meter storage ($.usage.bytes)' },
    ]);
  });

  it('reads the same meter object consistently across calls', () => {
    expect(only(readMeters({ tokens: 1 }, [tokens])).value).toBe('1');
    expect(only(readMeters({ tokens: 2 }, [tokens])).value).toBe('2');
    expect(errorsOf(readMeters({}, [tokens]))).toHaveLength(1);
  });
});

describe('the sign rule per aggregation', () => {
  it('lets a SUM meter take negative values: credits and corrections', () => {
    expect(only(readMeters({ tokens: '-1' }, [tokens])).value).toBe('-1');
    expect(only(readMeters(dataOf('{"tokens":-99999999999999999999999999999.999999999}'), [tokens])).value).toBe(
      '-99999999999999999999999999999.999999999',
    );
  });

  it.each(['MAX', 'MIN', 'LATEST', 'AVG'] as const)('refuses a negative value for a %s meter, naming the field', (aggregation) => {
    const gauge = meter({ key: 'seats', aggregation, valueProperty: '$.seats' });
    expect(errorsOf(readMeters({ seats: '-1' }, [gauge]))).toEqual([
      {
        path: 'data.seats',
        message: `meter seats (${aggregation}) takes values of 0 or more, got -1; only SUM meters take negative values (credits, corrections)`,
      },
    ]);
    expect(errorsOf(readMeters({ seats: -0.5 }, [gauge]))[0]?.path).toBe('data.seats');
    expect(only(readMeters({ seats: '-0' }, [gauge])).value).toBe('0');
    expect(only(readMeters({ seats: '0' }, [gauge])).value).toBe('0');
  });

  it('counts any distinct value, negative numbers included, for UNIQUE_COUNT', () => {
    expect(only(readMeters({ user: -7 }, [users])).valueKey).toBe('-7');
  });
});
