import { isLosslessNumber } from 'lossless-json';
import { describe, expect, it } from 'vitest';
import { InvalidRequestError } from '../platform/errors.js';
import { UnparseableBodyError } from './body.js';
import { binaryModeEvent, decodeHeaderValue, eventsOfRequest, isBinaryMode, UnsupportedEventMediaTypeError } from './http-binding.js';

const binary = {
  'content-type': 'application/json; charset=utf-8',
  'ce-specversion': '1.0',
  'ce-id': 'evt-1',
  'ce-source': 'gateway-7',
  'ce-type': 'llm.call',
  'ce-subject': 'acme',
  'ce-time': '2026-11-26T10:00:00Z',
  authorization: 'Bearer secret',
};

function valueOf(headers: Record<string, string>, body: string): Record<string, unknown> {
  const item = binaryModeEvent(headers, body);
  if (!('value' in item)) throw new Error('expected an event');
  return item.value as Record<string, unknown>;
}

function thrown(run: () => unknown): Error {
  try {
    run();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a throw');
}

describe('decodeHeaderValue (CloudEvents HTTP binding, header values)', () => {
  it('trims optional whitespace and percent-decodes UTF-8, upper- or lower-case escapes', () => {
    expect(decodeHeaderValue('  acme%20ltd\t')).toBe('acme ltd');
    expect(decodeHeaderValue('Euro%20%E2%82%AC%20%22x%22%25')).toBe('Euro € "x"%');
    expect(decodeHeaderValue('%e2%82%ac')).toBe('€');
    expect(decodeHeaderValue('%F0%9F%98%80')).toBe('😀');
  });

  it('accepts needlessly encoded characters', () => {
    expect(decodeHeaderValue('%61%62c')).toBe('abc');
  });

  it('rejects encoded bytes that are not UTF-8, overlong forms included', () => {
    expect(decodeHeaderValue('%C0%A0')).toBeUndefined();
    expect(decodeHeaderValue('%FF')).toBeUndefined();
    expect(decodeHeaderValue('%E2%82')).toBeUndefined();
    expect(decodeHeaderValue('%ED%A0%80')).toBeUndefined();
  });

  it('keeps a "%" that starts no escape, as senders that do not encode send it', () => {
    expect(decodeHeaderValue('50%')).toBe('50%');
    expect(decodeHeaderValue('v%1')).toBe('v%1');
    expect(decodeHeaderValue('%zz')).toBe('%zz');
  });

  it('reads raw UTF-8 bytes, which Node hands over as latin1 characters', () => {
    expect(decodeHeaderValue(Buffer.from('Zürich', 'utf8').toString('latin1'))).toBe('Zürich');
    expect(decodeHeaderValue('\u00e4')).toBeUndefined();
  });
});

describe('isBinaryMode', () => {
  it('is binary mode when ce-specversion is present and the body is not a structured or batch CloudEvent', () => {
    expect(isBinaryMode(binary)).toBe(true);
    expect(isBinaryMode({ ...binary, 'content-type': 'application/x-ndjson' })).toBe(true);
    expect(isBinaryMode({ ...binary, 'content-type': 'application/cloudevents+json' })).toBe(false);
    expect(isBinaryMode({ ...binary, 'content-type': 'Application/CloudEvents-Batch+JSON; charset=utf-8' })).toBe(false);
    expect(isBinaryMode({ 'content-type': 'application/json', 'ce-id': 'x' })).toBe(false);
  });
});

describe('binaryModeEvent', () => {
  it('takes the attributes from ce-* headers, extensions included, and the body as data', () => {
    const event = valueOf({ ...binary, 'ce-tenantregion': 'eu%2Dwest' }, '{"tokens":"1250","model":"large"}');
    expect(event).toEqual({
      specversion: '1.0',
      id: 'evt-1',
      source: 'gateway-7',
      type: 'llm.call',
      subject: 'acme',
      time: '2026-11-26T10:00:00Z',
      tenantregion: 'eu-west',
      datacontenttype: 'application/json; charset=utf-8',
      data: { tokens: '1250', model: 'large' },
    });
    expect(event).not.toHaveProperty('authorization');
  });

  it('percent-decodes attribute values', () => {
    expect(valueOf({ ...binary, 'ce-subject': 'acme%20%C3%A9t%C3%A9' }, '{}').subject).toBe('acme été');
  });

  it('keeps every digit of the numbers in the body', () => {
    const item = binaryModeEvent(binary, '{"tokens":12345678901234567890.123456789}');
    if (!('value' in item)) throw new Error('expected an event');
    const tokens = (item.value as { data: { tokens: unknown } }).data.tokens;
    expect(item.lossless).toBe(true);
    expect(isLosslessNumber(tokens)).toBe(true);
    expect(String(tokens)).toBe('12345678901234567890.123456789');
  });

  it('reads an empty body as an event without data', () => {
    expect(valueOf(binary, '')).not.toHaveProperty('data');
  });

  it('hands a body that is JSON but not an object on as data, for the event check to reject', () => {
    expect(valueOf(binary, '[1,2]').data).toEqual([1, 2]);
  });

  it('refuses a body that is not JSON', () => {
    expect(thrown(() => binaryModeEvent(binary, 'tokens=5'))).toBeInstanceOf(UnparseableBodyError);
  });

  it('refuses data of another media type with 415', () => {
    const error = thrown(() => binaryModeEvent({ ...binary, 'content-type': 'application/x-ndjson' }, '{}'));
    expect(error).toBeInstanceOf(UnsupportedEventMediaTypeError);
    expect(error.message).toMatch(/application\/json, not application\/x-ndjson/);
  });

  it.each([
    ['ce-tenant_region', 'v', /lower-case letters and digits/],
    ['ce-data', '{}', /the body is the data/],
    ['ce-subject', '%C0%A0', /not valid UTF-8/],
    ['ce-subject', 'a%0Ab', /control characters/],
    ['ce-datacontenttype', 'text/plain', /content-type is the data's type/],
  ])('refuses the header %s: %s, naming it', (name, value, message) => {
    const error = thrown(() => binaryModeEvent({ ...binary, [name]: value }, '{}'));
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect((error as InvalidRequestError).path).toBe(`headers.${name}`);
    expect(error.message).toMatch(message);
  });

  it('accepts a ce-datacontenttype that agrees with content-type', () => {
    expect(valueOf({ ...binary, 'ce-datacontenttype': 'application/json' }, '{}').datacontenttype).toBe('application/json; charset=utf-8');
  });
});

describe('eventsOfRequest', () => {
  it('reads structured and batch mode bodies, ignoring ce-* headers there', () => {
    const items = eventsOfRequest({ ...binary, 'content-type': 'application/cloudevents+json' }, '{"id":"s-1","type":"t","subject":"x"}');
    expect(items).toEqual([{ index: 0, value: { id: 's-1', type: 't', subject: 'x' }, lossless: false }]);
    expect(eventsOfRequest({ 'content-type': 'application/cloudevents-batch+json' }, '[{"id":"a"},{"id":"b"}]')).toHaveLength(2);
  });

  it('reads a binary-mode request as one event', () => {
    expect(eventsOfRequest(binary, '{"tokens":"1"}')).toHaveLength(1);
  });

  it('refuses a media type it does not read', () => {
    expect(thrown(() => eventsOfRequest({ 'content-type': 'text/plain' }, 'x'))).toBeInstanceOf(UnsupportedEventMediaTypeError);
  });
});
