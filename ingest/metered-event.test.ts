import { describe, expect, it } from 'vitest';
import { checkCloudEvent } from './cloud-event.js';
import { parseJsonExact } from './exact-json.js';
import { meteredEvent } from './metered-event.js';

const bounds = { now: Date.parse('2026-03-01T12:00:00Z'), futureToleranceMs: 60_000, backfillHorizonMs: 86_400_000 };
const reading = { meterKey: 'gb', value: '0.100000000000000000001', valueKey: '', groupBy: '{}' };

function checked(text: string) {
  const parsed = parseJsonExact(text);
  const result = checkCloudEvent(parsed.value, bounds);
  if (!result.ok) throw new Error(JSON.stringify(result.errors));
  return { event: result.event, lossless: parsed.lossless };
}

describe('meteredEvent', () => {
  it("takes the event's attributes, the tenant and the readings as given", () => {
    const { event, lossless } = checked(
      '{"specversion":"1.0","id":"e1","source":"agent","type":"storage","subject":"acme","time":"2026-03-01T11:00:00Z","data":{"gb":1}}',
    );
    expect(meteredEvent('t1', event, lossless, [reading])).toEqual({
      tenantId: 't1',
      id: 'e1',
      type: 'storage',
      source: 'agent',
      subject: 'acme',
      time: new Date('2026-03-01T11:00:00Z'),
      data: '{"gb":1}',
      readings: [reading],
    });
  });

  it('keeps every digit of a number no JS number holds', () => {
    const { event, lossless } = checked(
      '{"specversion":"1.0","id":"e2","source":"agent","type":"storage","subject":"acme","time":"2026-03-01T11:00:00Z","data":{"gb":0.100000000000000000001,"n":12345678901234567890}}',
    );
    expect(lossless).toBe(true);
    expect(meteredEvent('t1', event, lossless, [reading]).data).toBe('{"gb":0.100000000000000000001,"n":12345678901234567890}');
  });
});
