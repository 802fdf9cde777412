import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { parseInstant } from './instant.js';

const SECRET_PREFIX = 'whsec_';
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const TIMESTAMP = /^\d{1,15}$/;

/** A new signing secret: "whsec_" and the base64 of 32 random bytes. */
export function generateWebhookSecret(): string {
  return `${SECRET_PREFIX}${randomBytes(32).toString('base64')}`;
}

/**
 * The Standard Webhooks `webhook-signature` value for one message: "v1," and the base64
 * HMAC-SHA256 of "id.timestamp.body", keyed by the secret's base64-decoded bytes. The "whsec_"
 * prefix is optional, as in the reference libraries, so a consumer's bare key works too.
 */
export function signWebhook(input: { secret: string; id: string; timestamp: number; body: string }): string {
  if (input.id === '') throw new RangeError('id must not be empty');
  if (!Number.isSafeInteger(input.timestamp) || input.timestamp < 0) {
    throw new RangeError(`timestamp must be whole seconds since the epoch, got ${input.timestamp}`);
  }
  return `v1,${hmac(secretKey(input.secret), input.id, String(input.timestamp), input.body)}`;
}

export interface WebhookHeaders {
  'webhook-id'?: string | undefined;
  'webhook-timestamp'?: string | undefined;
  'webhook-signature'?: string | undefined;
}

/**
 * True when any "v1," entry in the space-separated signature header matches, compared in
 * constant time, and the timestamp is within toleranceSeconds of `now` either way (a replayed
 * message is refused once it is that old). Missing or malformed headers give false, not an
 * exception: they are the sender's fault. A malformed secret or tolerance is the caller's, and throws.
 * `body` must be the raw request body as received: re-serialized JSON rarely has the same bytes.
 */
export function verifyWebhook(input: {
  secret: string;
  headers: WebhookHeaders;
  body: string;
  now: Date | string;
  toleranceSeconds?: number;
}): boolean {
  const { secret, headers, body, toleranceSeconds = 300 } = input;
  const key = secretKey(secret);
  if (!Number.isFinite(toleranceSeconds) || toleranceSeconds < 0) throw new RangeError('toleranceSeconds must be a non-negative number');
  const nowSeconds = Math.floor(parseInstant(input.now, 'now').getTime() / 1000);
  const id = headers['webhook-id'];
  const timestamp = headers['webhook-timestamp'];
  const signatures = headers['webhook-signature'];
  if (!id || !signatures || timestamp === undefined || !TIMESTAMP.test(timestamp)) return false;
  const seconds = Number(timestamp);
  if (Math.abs(nowSeconds - seconds) > toleranceSeconds) return false;

  // Signed over the number, not the header text, as the reference libraries do.
  const expected = Buffer.from(hmac(key, id, String(seconds), body));
  return signatures.split(' ').some((entry) => {
    if (!entry.startsWith('v1,')) return false;
    const candidate = Buffer.from(entry.slice(3));
    // Only the length can leak here, and every valid signature has the same, public, length.
    return candidate.length === expected.length && timingSafeEqual(candidate, expected);
  });
}

function hmac(key: Buffer, id: string, timestamp: string, body: string): string {
  return createHmac('sha256', key).update(`${id}.${timestamp}.${body}`, 'utf8').digest('base64');
}

function secretKey(secret: string): Buffer {
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  // Node's decoder skips characters it does not know, which would quietly sign with another key.
  if (encoded === '' || !BASE64.test(encoded)) throw new RangeError('secret must be "whsec_" followed by non-empty base64');
  return Buffer.from(encoded, 'base64');
}
