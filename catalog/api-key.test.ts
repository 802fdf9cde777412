import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { API_KEY_SCOPES, apiKeyMatches, hashApiKey, issueApiKey, keyIdOf, OPERATOR_KEY_ID } from './api-key.js';

const TOKEN_FORMAT = /^mlk_[0-9a-f]{24}_[A-Za-z0-9_-]{43}$/;

describe('issueApiKey', () => {
  it('issues tokens of the form mlk_<24 hex>_<43 base64url>', () => {
    for (let i = 0; i < 200; i += 1) {
      const { keyId, token } = issueApiKey();
      expect(token).toMatch(TOKEN_FORMAT);
      expect(keyId).toMatch(/^[0-9a-f]{24}$/);
      expect(token.startsWith(`mlk_${keyId}_`)).toBe(true);
      expect(token).toHaveLength(4 + 24 + 1 + 43);
    }
  });

  it('issues a 256-bit secret', () => {
    const { token } = issueApiKey();
    const secret = token.slice(4 + 24 + 1);
    expect(Buffer.from(secret, 'base64url')).toHaveLength(32);
  });

  it('issues a different key id and token every time', () => {
    const keys = Array.from({ length: 2_000 }, () => issueApiKey());
    expect(new Set(keys.map((key) => key.keyId)).size).toBe(keys.length);
    expect(new Set(keys.map((key) => key.token)).size).toBe(keys.length);
    // The secret follows "mlk_", the 24-digit id and "_"; it may itself contain "_".
    const secrets = keys.map((key) => key.token.slice(4 + 24 + 1));
    expect(new Set(secrets).size).toBe(keys.length);
  });

  it('never issues the operator key id', () => {
    expect(OPERATOR_KEY_ID).toBe('operator');
    expect(issueApiKey().keyId).not.toBe(OPERATOR_KEY_ID);
  });

  it('lists the three scopes', () => {
    expect(API_KEY_SCOPES).toEqual(['admin', 'ingest', 'read']);
  });
});

describe('keyIdOf', () => {
  it('returns the key id of every issued token', () => {
    for (let i = 0; i < 200; i += 1) {
      const { keyId, token } = issueApiKey();
      expect(keyIdOf(token)).toBe(keyId);
    }
  });

  it('parses a hand-written token, including "-" and "_" in the secret', () => {
    const keyId = '0123456789abcdef01234567';
    const secret = `${'A'.repeat(20)}-_${'z'.repeat(21)}`;
    expect(secret).toHaveLength(43);
    expect(keyIdOf(`mlk_${keyId}_${secret}`)).toBe(keyId);
  });

  const keyId = '0123456789abcdef01234567';
  const secret = 'a'.repeat(43);
  it.each([
    ['an empty string', ''],
    ['the prefix alone', 'mlk_'],
    ['the operator key id', OPERATOR_KEY_ID],
    ['another prefix', `mlx_${keyId}_${secret}`],
    ['an upper-case prefix', `MLK_${keyId}_${secret}`],
    ['no prefix', `${keyId}_${secret}`],
    ['upper-case hex in the key id', `mlk_${keyId.toUpperCase()}_${secret}`],
    ['a 23-digit key id', `mlk_${keyId.slice(1)}_${secret}`],
    ['a 25-digit key id', `mlk_${keyId}0_${secret}`],
    ['a non-hex key id', `mlk_${'g'.repeat(24)}_${secret}`],
    ['a 42-character secret', `mlk_${keyId}_${secret.slice(1)}`],
    ['a 44-character secret', `mlk_${keyId}_${secret}a`],
    ['a base64 "+" in the secret', `mlk_${keyId}_${'+'}${secret.slice(1)}`],
    ['a base64 "/" in the secret', `mlk_${keyId}_${'/'}${secret.slice(1)}`],
    ['base64 padding', `mlk_${keyId}_${secret.slice(1)}=`],
    ['a missing separator', `mlk_${keyId}${secret}`],
    ['a leading space', ` mlk_${keyId}_${secret}`],
    ['a trailing space', `mlk_${keyId}_${secret} `],
    ['a trailing newline', `mlk_${keyId}_${secret}\n`],
    ['a Bearer prefix', `Bearer mlk_${keyId}_${secret}`],
  ])('rejects %s', (_label, token) => {
    expect(keyIdOf(token)).toBeUndefined();
  });

  it('returns undefined or a 24-digit hex id for any string', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (text) => {
        const id = keyIdOf(text);
        if (id !== undefined) {
          expect(id).toMatch(/^[0-9a-f]{24}$/);
          expect(text).toMatch(TOKEN_FORMAT);
        }
      }),
    );
  });
});

describe('hashApiKey', () => {
  it('is the SHA-256 of the token in lower-case hex', () => {
    expect(hashApiKey('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(hashApiKey('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  it('hashes the UTF-8 bytes of the token', () => {
    expect(hashApiKey('clé')).toBe(createHash('sha256').update(Buffer.from('clé', 'utf8')).digest('hex'));
  });

  it('is 64 hex digits, deterministic and never the token itself', () => {
    const { token } = issueApiKey();
    const hash = hashApiKey(token);
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(hashApiKey(token)).toBe(hash);
    expect(hash).not.toContain(token);
  });

  it('gives different hashes to different issued keys', () => {
    const hashes = Array.from({ length: 500 }, () => hashApiKey(issueApiKey().token));
    expect(new Set(hashes).size).toBe(hashes.length);
  });
});

describe('apiKeyMatches', () => {
  it('is true for the exact key and its stored hash', () => {
    const { token } = issueApiKey();
    expect(apiKeyMatches(token, hashApiKey(token))).toBe(true);
  });

  it('is false for another issued key', () => {
    const a = issueApiKey();
    const b = issueApiKey();
    expect(apiKeyMatches(a.token, hashApiKey(b.token))).toBe(false);
    expect(apiKeyMatches(b.token, hashApiKey(a.token))).toBe(false);
  });

  it('is false for any change to the key', () => {
    const { token } = issueApiKey();
    const stored = hashApiKey(token);
    const last = token.at(-1) === 'A' ? 'B' : 'A';
    const variants = [
      token.slice(0, -1),
      `${token}A`,
      `${token.slice(0, -1)}${last}`,
      token.toUpperCase(),
      ` ${token}`,
      `${token}\n`,
      '',
      stored,
    ];
    for (const variant of variants) expect(apiKeyMatches(variant, stored), variant).toBe(false);
  });

  it('is false against a stored hash that is empty, short or not hex', () => {
    const { token } = issueApiKey();
    const stored = hashApiKey(token);
    expect(apiKeyMatches(token, '')).toBe(false);
    expect(apiKeyMatches(token, stored.slice(0, 62))).toBe(false);
    expect(apiKeyMatches(token, 'z'.repeat(64))).toBe(false);
    expect(apiKeyMatches(token, token)).toBe(false);
  });

  it('is false for every pair of different strings', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (a, b) => {
        fc.pre(a !== b);
        expect(apiKeyMatches(a, hashApiKey(b))).toBe(false);
        expect(apiKeyMatches(a, hashApiKey(a))).toBe(true);
      }),
    );
  });
});
