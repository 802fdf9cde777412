import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { generateWebhookSecret, signWebhook, verifyWebhook, type WebhookHeaders } from './webhook-signature.js';

// The vector of the Standard Webhooks reference libraries' "sign function works" test
// (standard-webhooks/standard-webhooks, libraries/javascript/src/webhook.test.ts).
const REFERENCE = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};
const referenceHeaders = (signature = REFERENCE.signature): WebhookHeaders => ({
  'webhook-id': REFERENCE.id,
  'webhook-timestamp': String(REFERENCE.timestamp),
  'webhook-signature': signature,
});
const at = (seconds: number) => new Date(seconds * 1000);
const verifyReference = (headers: WebhookHeaders, nowSeconds = REFERENCE.timestamp, body = REFERENCE.body) =>
  verifyWebhook({ secret: REFERENCE.secret, headers, body, now: at(nowSeconds) });

/** The signature computed here directly from the specification, apart from the module. */
function independentSignature(keyBytes: Buffer, id: string, timestamp: number, body: string): string {
  return `v1,${createHmac('sha256', keyBytes).update(Buffer.from(`${id}.${timestamp}.${body}`, 'utf8')).digest('base64')}`;
}

describe('signWebhook', () => {
  it('reproduces the Standard Webhooks reference vector, with or without the whsec_ prefix', () => {
    expect(signWebhook(REFERENCE)).toBe(REFERENCE.signature);
    expect(signWebhook({ ...REFERENCE, secret: REFERENCE.secret.slice('whsec_'.length) })).toBe(REFERENCE.signature);
  });

  it.each<[string, Partial<Parameters<typeof signWebhook>[0]>]>([
    ['an empty secret', { secret: 'whsec_' }],
    ['a secret that is not base64', { secret: 'whsec_not base64!' }],
    ['a secret with a broken length', { secret: 'whsec_abcde' }],
    ['a timestamp in milliseconds with a fraction', { timestamp: 1614265330.5 }],
    ['a negative timestamp', { timestamp: -1 }],
    ['an empty id', { id: '' }],
  ])('rejects %s', (_, override) => {
    expect(() => signWebhook({ ...REFERENCE, ...override })).toThrow(RangeError);
  });
});

describe('generateWebhookSecret', () => {
  it('is whsec_ and the base64 of 32 random bytes, and signs', () => {
    const secret = generateWebhookSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(secret.slice(6), 'base64')).toHaveLength(32);
    expect(generateWebhookSecret()).not.toBe(secret);
    const key = Buffer.from(secret.slice(6), 'base64');
    expect(signWebhook({ ...REFERENCE, secret })).toBe(independentSignature(key, REFERENCE.id, REFERENCE.timestamp, REFERENCE.body));
  });
});

describe('verifyWebhook', () => {
  it('accepts the reference vector, alone or among other signatures', () => {
    expect(verifyReference(referenceHeaders())).toBe(true);
    const others = 'v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=';
    expect(verifyReference(referenceHeaders(`${others} ${REFERENCE.signature} v1,bm9wZQ==`))).toBe(true);
    expect(verifyWebhook({ secret: REFERENCE.secret, headers: referenceHeaders(), body: REFERENCE.body, now: '2021-02-25T15:02:10Z' })).toBe(true);
  });

  it('accepts a timestamp up to the tolerance away either way, and no further', () => {
    expect(verifyReference(referenceHeaders(), REFERENCE.timestamp + 300)).toBe(true);
    expect(verifyReference(referenceHeaders(), REFERENCE.timestamp + 301)).toBe(false);
    expect(verifyReference(referenceHeaders(), REFERENCE.timestamp - 300)).toBe(true);
    expect(verifyReference(referenceHeaders(), REFERENCE.timestamp - 301)).toBe(false);
    const late = { secret: REFERENCE.secret, headers: referenceHeaders(), body: REFERENCE.body, now: at(REFERENCE.timestamp + 3600) };
    expect(verifyWebhook({ ...late, toleranceSeconds: 3600 })).toBe(true);
    expect(verifyWebhook({ ...late, toleranceSeconds: 3599 })).toBe(false);
  });

  it.each<[string, WebhookHeaders]>([
    ['a missing id', { ...referenceHeaders(), 'webhook-id': undefined }],
    ['a missing timestamp', { ...referenceHeaders(), 'webhook-timestamp': undefined }],
    ['a missing signature', { ...referenceHeaders(), 'webhook-signature': undefined }],
    ['a timestamp that is not a number', { ...referenceHeaders(), 'webhook-timestamp': 'hello' }],
    ['a timestamp with a fraction', { ...referenceHeaders(), 'webhook-timestamp': '1614265330.0' }],
    ['a different id', { ...referenceHeaders(), 'webhook-id': 'msg_other' }],
    ['a truncated signature', referenceHeaders(REFERENCE.signature.slice(0, 8))],
    ['an empty v1 signature', referenceHeaders('v1,')],
    ['the right signature under another version', referenceHeaders(REFERENCE.signature.replace('v1,', 'v2,'))],
    ['the signature without its version', referenceHeaders(REFERENCE.signature.slice(3))],
  ])('rejects %s', (_, headers) => {
    expect(verifyReference(headers)).toBe(false);
  });

  it('rejects a changed body and another secret', () => {
    expect(verifyReference(referenceHeaders(), REFERENCE.timestamp, '{"test": 2432232315}')).toBe(false);
    const other = { secret: generateWebhookSecret(), headers: referenceHeaders(), body: REFERENCE.body, now: at(REFERENCE.timestamp) };
    expect(verifyWebhook(other)).toBe(false);
  });

  it('reads the timestamp as a number, as the reference libraries do', () => {
    expect(verifyReference({ ...referenceHeaders(), 'webhook-timestamp': '01614265330' })).toBe(true);
  });

  it('throws for a malformed secret, tolerance or clock, which are the receiver’s own mistakes', () => {
    const input = { secret: REFERENCE.secret, headers: referenceHeaders(), body: REFERENCE.body, now: at(REFERENCE.timestamp) };
    expect(() => verifyWebhook({ ...input, secret: 'whsec_' })).toThrow(RangeError);
    expect(() => verifyWebhook({ ...input, toleranceSeconds: -1 })).toThrow(RangeError);
    expect(() => verifyWebhook({ ...input, now: 'yesterday' })).toThrow(RangeError);
  });
});

describe('webhook signature properties', () => {
  const message = fc.record({
    key: fc.uint8Array({ minLength: 1, maxLength: 64 }).map((bytes) => Buffer.from(bytes)),
    id: fc.string({ minLength: 1, maxLength: 40 }),
    timestamp: fc.integer({ min: 0, max: 4_102_444_800 }),
    body: fc.string({ unit: 'binary', maxLength: 200 }),
  });
  const secretOf = (key: Buffer) => `whsec_${key.toString('base64')}`;

  it('signs exactly the HMAC of "id.timestamp.body" under the decoded key', () => {
    fc.assert(
      fc.property(message, ({ key, id, timestamp, body }) => {
        expect(signWebhook({ secret: secretOf(key), id, timestamp, body })).toBe(independentSignature(key, id, timestamp, body));
      }),
    );
  });

  it('verifies its own signatures exactly within the tolerance, and nothing altered', () => {
    fc.assert(
      fc.property(message, fc.integer({ min: -1000, max: 1000 }), fc.integer({ min: 0, max: 600 }), (m, skew, toleranceSeconds) => {
        const secret = secretOf(m.key);
        const headers = { 'webhook-id': m.id, 'webhook-timestamp': String(m.timestamp), 'webhook-signature': signWebhook({ ...m, secret }) };
        const verify = (changes: { headers?: WebhookHeaders; body?: string; secret?: string }) =>
          verifyWebhook({ secret, headers, body: m.body, now: at(m.timestamp + skew), toleranceSeconds, ...changes });
        expect(verify({})).toBe(Math.abs(skew) <= toleranceSeconds);
        expect(verify({ body: `${m.body} ` })).toBe(false);
        expect(verify({ headers: { ...headers, 'webhook-id': `${m.id}x` } })).toBe(false);
        expect(verify({ headers: { ...headers, 'webhook-timestamp': String(m.timestamp + 1) } })).toBe(false);
        // Flip a bit rather than append a byte: HMAC pads short keys with zeros, so key ‖ 0x00 is the same key.
        const otherKey = Buffer.from(m.key);
        otherKey[0] = (otherKey[0] ?? 0) ^ 1;
        expect(verify({ secret: secretOf(otherKey) })).toBe(false);
      }),
    );
  });
});
