import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const API_KEY_SCOPES = ['admin', 'ingest', 'read'] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];

/** The record kept for a key of the configured operator, whose text Meterline does not choose. */
export const OPERATOR_KEY_ID = 'operator';

const TOKEN = /^mlk_([0-9a-f]{24})_([A-Za-z0-9_-]{43})$/;

export interface IssuedKey {
  readonly keyId: string;
  /** The whole key; shown once to its owner and never stored. */
  readonly token: string;
}

export function issueApiKey(): IssuedKey {
  const keyId = randomBytes(12).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  return { keyId, token: `mlk_${keyId}_${secret}` };
}

/** Returns the key id a token claims, or undefined when it is not one of Meterline's keys. */
export function keyIdOf(token: string): string | undefined {
  return TOKEN.exec(token)?.[1];
}

/**
 * Keys carry 256 random bits, so a plain SHA-256 is the right hash: slow password hashes exist
 * to protect guessable secrets, and these are not guessable.
 */
export function hashApiKey(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function apiKeyMatches(token: string, storedHash: string): boolean {
  if (!/^[0-9a-f]{64}$/.test(storedHash)) return false;
  const presented = Buffer.from(hashApiKey(token), 'hex');
  const stored = Buffer.from(storedHash, 'hex');
  return presented.length === stored.length && timingSafeEqual(presented, stored);
}
