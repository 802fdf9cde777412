import { describe, expect, it } from 'vitest';
import {
  assertJsonDepth,
  decodeUtf8Strict,
  findLoneSurrogate,
  hasControlCharacter,
  hasLoneSurrogate,
  isBlank,
  JsonTextError,
  MAX_JSON_DEPTH,
  surrogateMessage,
} from './text.js';

describe('lone surrogates', () => {
  it('finds an unpaired half but not a pair', () => {
    expect(hasLoneSurrogate('x\ud800')).toBe(true);
    expect(hasLoneSurrogate('\udc00x')).toBe(true);
    expect(hasLoneSurrogate('\udc00\ud800')).toBe(true);
    expect(hasLoneSurrogate('emoji \ud83d\ude00 ok')).toBe(false);
    expect(hasLoneSurrogate('plain')).toBe(false);
  });

  it('names the first string or key that holds one, however deep', () => {
    expect(findLoneSurrogate({ id: 'ok', data: { list: ['a', 'b\ud800'] } })).toEqual({ path: 'data.list.1' });
    expect(findLoneSurrogate({ data: { ['k\udfff']: 1 } })).toEqual({ path: 'data', key: '"k\\udfff"' });
    expect(findLoneSurrogate({ name: 'x\ud800' }, 'body')).toEqual({ path: 'body.name' });
    expect(findLoneSurrogate('\ud800', 'body')).toEqual({ path: 'body' });
    expect(findLoneSurrogate({ a: [1, null, true, { b: 'fine \ud83d\ude00' }] })).toBeUndefined();
    let deep: unknown = 'end\ud800';
    for (let level = 0; level < 100_000; level += 1) deep = [deep];
    expect(findLoneSurrogate(deep)?.path.split('.')).toHaveLength(100_000);
  });

  it('describes a finding in well-formed text', () => {
    const message = surrogateMessage({ path: 'data', key: JSON.stringify('k\ud800') });
    expect(hasLoneSurrogate(message)).toBe(false);
    expect(message).toContain('"k\\ud800"');
  });
});

describe('identifier text', () => {
  it('sees NUL, C0, DEL and C1 controls', () => {
    for (const text of ['a\u0000b', '\t', 'line\n', '\u001f', '\u007f', '\u0085', '\u009f']) expect(hasControlCharacter(text)).toBe(true);
    for (const text of ['evt-1', 'ü', '\u00a0', '\u2028x']) expect(hasControlCharacter(text)).toBe(false);
  });

  it('treats Unicode whitespace as blank', () => {
    for (const text of ['', ' ', '   ', '\u00a0', '\u2003\u3000']) expect(isBlank(text)).toBe(true);
    expect(isBlank(' a ')).toBe(false);
  });
});

describe('assertJsonDepth', () => {
  it('takes the limit and refuses one more level', () => {
    expect(() => assertJsonDepth(`${'['.repeat(MAX_JSON_DEPTH)}${']'.repeat(MAX_JSON_DEPTH)}`)).not.toThrow();
    expect(() => assertJsonDepth(`${'{"a":'.repeat(MAX_JSON_DEPTH + 1)}1${'}'.repeat(MAX_JSON_DEPTH + 1)}`)).toThrow(JsonTextError);
    expect(() => assertJsonDepth('[[[]]]', 2)).toThrow('nest deeper than 2 levels');
  });

  it('ignores brackets in strings, escaped quotes included', () => {
    expect(() => assertJsonDepth(JSON.stringify({ s: '[[[["\\"{{{{' }), 2)).not.toThrow();
    expect(() => assertJsonDepth('["\\\\", [[]]]', 2)).toThrow(JsonTextError);
  });
});

describe('decodeUtf8Strict', () => {
  it('decodes valid UTF-8, a byte order mark kept as text', () => {
    expect(decodeUtf8Strict(Buffer.from('{"id":"é😀"}'))).toBe('{"id":"é😀"}');
    expect(decodeUtf8Strict(Buffer.from([0xef, 0xbb, 0xbf, 0x7b, 0x7d]))).toBe('\ufeff{}');
  });

  it('refuses invalid bytes where toString would write U+FFFD for both', () => {
    const one = Buffer.from([0x22, 0x78, 0xff, 0x22]);
    const two = Buffer.from([0x22, 0x78, 0xfe, 0x22]);
    expect(one.toString('utf8')).toBe(two.toString('utf8'));
    for (const bytes of [one, two, Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xc3])]) {
      expect(() => decodeUtf8Strict(bytes)).toThrow('the body is not valid UTF-8');
    }
  });
});
