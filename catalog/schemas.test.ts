import { describe, expect, it } from 'vitest';
import { customerInput, meterInput } from './schemas.js';

const meter = { key: 'calls', name: 'Calls', aggregation: 'COUNT' } as const;
const customer = { id: 'acme', name: 'Acme', timezone: 'UTC', currency: 'USD' } as const;

function messagesAt(result: { success: boolean; error?: { issues: Array<{ path: PropertyKey[]; message: string }> } }, path: string): string[] {
  return (result.error?.issues ?? []).filter((issue) => issue.path.join('.') === path).map((issue) => issue.message);
}

describe('event keys in the catalog follow the event rules', () => {
  it('refuses a meter eventType of only whitespace or with control characters', () => {
    expect(messagesAt(meterInput.safeParse({ ...meter, eventType: '  ' }), 'eventType')).toEqual(['must not be only whitespace']);
    expect(messagesAt(meterInput.safeParse({ ...meter, eventType: 'api\u0000call' }), 'eventType')).toEqual([
      'must not hold control characters (NUL, U+0001-U+001F, U+007F-U+009F)',
    ]);
    expect(meterInput.safeParse({ ...meter, eventType: 'api.call' }).success).toBe(true);
  });

  it('refuses customer subjects that no event could carry', () => {
    const result = customerInput.safeParse({ ...customer, subjects: ['ok', '\u00a0', 'tab\there'] });
    expect(messagesAt(result, 'subjects.1')).toEqual(['must not be only whitespace']);
    expect(messagesAt(result, 'subjects.2')).toEqual(['must not hold control characters (NUL, U+0001-U+001F, U+007F-U+009F)']);
    expect(customerInput.safeParse({ ...customer, subjects: ['host 7', 'ü-1'] }).success).toBe(true);
  });
});
