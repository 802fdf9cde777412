import { isLosslessNumber, LosslessNumber } from 'lossless-json';
import { describe, expect, it } from 'vitest';
import { EVENT_MEDIA_TYPES, readEventBody, splitEventBody, UnparseableBodyError, type BodyItem, type EventMediaType } from './body.js';

const JSON_TYPES = ['application/json', 'application/cloudevents+json', 'application/cloudevents-batch+json'] as const;
const SINGLE_TYPES = ['application/json', 'application/cloudevents+json'] as const;

function unparseable(mediaType: EventMediaType, text: string): UnparseableBodyError {
  try {
    splitEventBody(mediaType, text);
  } catch (error) {
    if (error instanceof UnparseableBodyError) return error;
    throw error;
  }
  throw new Error(`expected ${JSON.stringify(text)} as ${mediaType} to be unparseable`);
}

function valueOf(item: BodyItem | undefined): unknown {
  if (item === undefined || !('value' in item)) throw new Error(`expected a parsed item, got ${JSON.stringify(item)}`);
  return item.value;
}

describe('EVENT_MEDIA_TYPES', () => {
  it('lists the four accepted media types', () => {
    expect([...EVENT_MEDIA_TYPES].sort()).toEqual([
      'application/cloudevents+json',
      'application/cloudevents-batch+json',
      'application/json',
      'application/x-ndjson',
    ]);
  });
});

describe('splitEventBody with JSON media types', () => {
  it.each(SINGLE_TYPES)('%s: a single object is one item', (mediaType) => {
    expect(splitEventBody(mediaType, '{"id":"a","data":{"n":1}}')).toEqual([
      { index: 0, value: { id: 'a', data: { n: 1 } }, lossless: false },
    ]);
  });

  it.each(JSON_TYPES)('%s: an array gives one item per element, in order', (mediaType) => {
    expect(splitEventBody(mediaType, ' [ {"id":"a"}, {"id":"b"}, {"id":"c"} ] ')).toEqual([
      { index: 0, value: { id: 'a' }, lossless: false },
      { index: 1, value: { id: 'b' }, lossless: false },
      { index: 2, value: { id: 'c' }, lossless: false },
    ]);
  });

  it.each(JSON_TYPES)('%s: array elements that are not objects are still items (checked later)', (mediaType) => {
    expect(splitEventBody(mediaType, '[1, "x", null, []]').map(valueOf)).toEqual([1, 'x', null, []]);
  });

  it.each(SINGLE_TYPES)('%s: a single non-object value is one item (checked later)', (mediaType) => {
    expect(splitEventBody(mediaType, '"text"')).toEqual([{ index: 0, value: 'text', lossless: false }]);
    expect(splitEventBody(mediaType, 'null')).toEqual([{ index: 0, value: null, lossless: false }]);
  });

  it.each(JSON_TYPES)('%s: an empty array is unparseable', (mediaType) => {
    expect(unparseable(mediaType, '[]').message).toBe('the batch holds no events');
    expect(unparseable(mediaType, ' [ \n ] ').message).toBe('the batch holds no events');
  });

  it.each(JSON_TYPES)('%s: invalid JSON is unparseable', (mediaType) => {
    for (const text of ['', '   ', '{', '{"id":', "{'id':'a'}", '{"id":"a"}{"id":"b"}', '[{"id":"a"},]', 'undefined', '{"a":1}\n{"b":2}']) {
      const error = unparseable(mediaType, text);
      expect(error.message, text).toMatch(/^the body is not valid JSON: /);
    }
  });

  it('application/cloudevents-batch+json: a single object is unparseable', () => {
    expect(unparseable('application/cloudevents-batch+json', '{"id":"a"}').message).toBe(
      'application/cloudevents-batch+json takes a JSON array of events',
    );
    expect(() => splitEventBody('application/cloudevents-batch+json', '"a"')).toThrow(UnparseableBodyError);
  });

  it('throws an Error named UnparseableBodyError', () => {
    const error = unparseable('application/json', '{');
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('UnparseableBodyError');
  });
});

describe('splitEventBody with application/x-ndjson', () => {
  it('gives one item per line', () => {
    expect(splitEventBody('application/x-ndjson', '{"id":"a"}\n{"id":"b"}\n')).toEqual([
      { index: 0, value: { id: 'a' }, lossless: false },
      { index: 1, value: { id: 'b' }, lossless: false },
    ]);
  });

  it('accepts a last line without a newline and CRLF line ends', () => {
    expect(splitEventBody('application/x-ndjson', '{"id":"a"}\r\n{"id":"b"}').map(valueOf)).toEqual([{ id: 'a' }, { id: 'b' }]);
  });

  it('skips blank lines and numbers items without them', () => {
    const items = splitEventBody('application/x-ndjson', '\n{"id":"a"}\n\n   \n\t\r\n{"id":"b"}\n\n');
    expect(items).toEqual([
      { index: 0, value: { id: 'a' }, lossless: false },
      { index: 1, value: { id: 'b' }, lossless: false },
    ]);
  });

  it('turns a bad line into an item naming its 1-based line, and keeps the rest', () => {
    const items = splitEventBody('application/x-ndjson', '{"id":"a"}\n\n{bad\n{"id":"c"}\n');
    expect(items).toHaveLength(3);
    expect(items[0]).toEqual({ index: 0, value: { id: 'a' }, lossless: false });
    const bad = items[1];
    expect(bad && 'syntaxError' in bad).toBe(true);
    if (bad && 'syntaxError' in bad) {
      expect(bad.index).toBe(1);
      expect(bad.syntaxError).toMatch(/^line 3 is not valid JSON: ./);
    }
    expect(items[2]).toEqual({ index: 2, value: { id: 'c' }, lossless: false });
  });

  it('names the right line for every bad line', () => {
    const items = splitEventBody('application/x-ndjson', 'nope\n{"id":"a"}\n\n\n[1,\n{"id":"b"}\n}');
    const errors = items.flatMap((item) => ('syntaxError' in item ? [[item.index, item.syntaxError.split(' is ')[0]]] : []));
    expect(errors).toEqual([
      [0, 'line 1'],
      [2, 'line 5'],
      [4, 'line 7'],
    ]);
  });

  it('keeps a body whose only line is bad as a rejected item', () => {
    const items = splitEventBody('application/x-ndjson', '{bad');
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({ index: 0, syntaxError: expect.stringMatching(/^line 1 is not valid JSON/) });
  });

  it('does not split a line on a newline escaped inside a string', () => {
    expect(splitEventBody('application/x-ndjson', '{"text":"a\\nb"}').map(valueOf)).toEqual([{ text: 'a\nb' }]);
  });

  it.each(['', '\n', '\n\n  \n', ' \r\n\t'])('is unparseable when it holds no lines (%j)', (text) => {
    expect(unparseable('application/x-ndjson', text).message).toBe('the body holds no events');
  });

  it('keeps a JSON array on one line as one item', () => {
    expect(splitEventBody('application/x-ndjson', '[{"id":"a"},{"id":"b"}]').map(valueOf)).toEqual([[{ id: 'a' }, { id: 'b' }]]);
  });
});

describe('splitEventBody keeps big numbers exact', () => {
  const BIG = '12345678901234567890.123456789';

  it.each(SINGLE_TYPES)('%s: a single object with a big number', (mediaType) => {
    const [item] = splitEventBody(mediaType, `{"data":{"tokens":${BIG},"small":2}}`);
    expect(item).toMatchObject({ index: 0, lossless: true });
    expect(valueOf(item)).toEqual({ data: { tokens: new LosslessNumber(BIG), small: new LosslessNumber('2') } });
  });

  it.each(JSON_TYPES)('%s: an array with a big number marks every item lossless', (mediaType) => {
    const items = splitEventBody(mediaType, `[{"n":1},{"n":${BIG}}]`);
    expect(items.map((item) => ('lossless' in item ? item.lossless : undefined))).toEqual([true, true]);
    const second = valueOf(items[1]) as { n: unknown };
    expect(isLosslessNumber(second.n)).toBe(true);
    expect(String(second.n)).toBe(BIG);
  });

  it('application/x-ndjson: marks only the lines with big numbers lossless', () => {
    const items = splitEventBody('application/x-ndjson', `{"n":1.5}\n{"n":${BIG}}\n{"n":9007199254740993}\n`);
    expect(items.map((item) => ('lossless' in item ? item.lossless : undefined))).toEqual([false, true, true]);
    expect(valueOf(items[0])).toEqual({ n: 1.5 });
    expect(String((valueOf(items[1]) as { n: unknown }).n)).toBe(BIG);
    expect(String((valueOf(items[2]) as { n: unknown }).n)).toBe('9007199254740993');
  });

  it('keeps integers beyond 2^53 and exponents digit for digit', () => {
    for (const literal of ['9007199254740993', '1e400', '-0.10000000000000000001', '123456789012345678901234567890']) {
      const [item] = splitEventBody('application/json', `{"n":${literal}}`);
      expect(item).toMatchObject({ lossless: true });
      expect((valueOf(item) as { n: LosslessNumber }).n.value).toBe(literal);
    }
  });

  it('uses plain numbers, lossless false, when every number is exact', () => {
    const [item] = splitEventBody('application/json', '{"a":1,"b":-2.5,"c":123456789012345}');
    expect(item).toEqual({ index: 0, value: { a: 1, b: -2.5, c: 123456789012345 }, lossless: false });
  });
});

describe('readEventBody', () => {
  it('reads valid UTF-8 as text', () => {
    expect(readEventBody(Buffer.from('{"id":"ü-😀"}'))).toBe('{"id":"ü-😀"}');
  });

  it('refuses invalid bytes instead of reading U+FFFD, so two ids never become one', () => {
    for (const bytes of [Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x7d]), Buffer.from([0x7b, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x7d])]) {
      expect(() => readEventBody(bytes)).toThrow(UnparseableBodyError);
      expect(() => readEventBody(bytes)).toThrow('the body is not valid UTF-8');
    }
  });
});

describe('splitEventBody and nesting', () => {
  it('refuses a body nested deeper than the limit as unparseable', () => {
    const deep = `{"id":"a","type":"t","subject":"s","data":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`;
    expect(unparseable('application/json', deep).message).toMatch(/nest deeper than 64 levels/);
  });

  it('rejects only the too-deep line of NDJSON', () => {
    const deep = `{"data":${'['.repeat(100)}${']'.repeat(100)}}`;
    const items = splitEventBody('application/x-ndjson', `{"id":"a"}\n${deep}\n`);
    expect(items[0]).toMatchObject({ index: 0, value: { id: 'a' } });
    expect(items[1]).toMatchObject({ index: 1, syntaxError: expect.stringMatching(/line 2 .*nest deeper than 64 levels/) as string });
  });
});
