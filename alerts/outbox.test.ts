import { describe, expect, it } from 'vitest';
import { statusReason } from './outbox.js';

describe('what a refused webhook answer records', () => {
  it('is the status and its standard phrase, whatever the receiver said', () => {
    expect(statusReason(500)).toBe('HTTP 500 Internal Server Error');
    expect(statusReason(404)).toBe('HTTP 404 Not Found');
    expect(statusReason(307)).toBe('HTTP 307 Temporary Redirect');
  });

  it('is the bare status when the status has no standard phrase', () => {
    expect(statusReason(599)).toBe('HTTP 599');
    expect(statusReason(0)).toBe('HTTP 0');
  });
});
