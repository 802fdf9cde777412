import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { apiKeyInput, customerInput, meterInput, tenantInput } from '../catalog/index.js';
import { contractInput, planInput } from '../rater/index.js';
import { alertRuleInput, webhookEndpointInput } from '../alerts/index.js';
import { strictInput } from './strict-input.js';

function unknownKeys(schema: z.ZodType, input: unknown): Array<{ path: string; keys: string[] }> {
  const result = strictInput(schema).safeParse(input);
  if (result.success) return [];
  return result.error.issues
    .filter((issue) => issue.code === 'unrecognized_keys')
    .map((issue) => ({ path: issue.path.join('.'), keys: (issue as { keys: string[] }).keys }));
}

describe('strictInput', () => {
  it('refuses the operator flag on an API key body instead of dropping it', () => {
    expect(apiKeyInput.safeParse({ scope: 'admin', operator: true }).success).toBe(true);
    expect(unknownKeys(apiKeyInput, { scope: 'admin', operator: true })).toEqual([{ path: '', keys: ['operator'] }]);
  });

  it('names unknown fields of tenants, meters and customers', () => {
    expect(unknownKeys(tenantInput, { id: 't1', name: 'T', plan: 'gold' })).toEqual([{ path: '', keys: ['plan'] }]);
    expect(
      unknownKeys(meterInput, { key: 'm', name: 'M', eventType: 'e', aggregation: 'COUNT', valueproperty: '$.x' }),
    ).toEqual([{ path: '', keys: ['valueproperty'] }]);
    expect(
      unknownKeys(customerInput, { id: 'c', name: 'C', timezone: 'UTC', currency: 'USD', billingAnchor: 5 }),
    ).toEqual([{ path: '', keys: ['billingAnchor'] }]);
  });

  it('reaches nested objects, arrays, records and defaults of plans and contracts', () => {
    const plan = {
      key: 'p',
      name: 'P',
      currency: 'USD',
      charges: [{ key: 'c', meter: 'm', price: { model: 'unit', unitAmount: '1' }, prorate: 'daily' }],
    };
    expect(planInput.safeParse(plan).success).toBe(true);
    expect(unknownKeys(planInput, plan)).toEqual([{ path: 'charges.0', keys: ['prorate'] }]);
    const contract = { plan: 'p', startsAt: '2026-12-01T00:00:00Z', taxRates: [{ name: 'VAT', percent: '20', country: 'DE' }] };
    expect(unknownKeys(contractInput, contract)).toEqual([{ path: 'taxRates.0', keys: ['country'] }]);
  });

  it('keeps refinements and defaults of the schema it rebuilds', () => {
    const meter = strictInput(meterInput).safeParse({ key: 'm', name: 'M', eventType: 'e', aggregation: 'SUM' });
    expect(meter.success).toBe(false);
    expect(meter.error?.issues[0]?.path).toEqual(['valueProperty']);
    const parsed = strictInput(customerInput).parse({ id: 'c', name: 'C', timezone: 'UTC', currency: 'USD' });
    expect(parsed.billingAnchorDay).toBe(1);
  });

  it('checks each option of a discriminated union by its own fields', () => {
    const rule = { kind: 'spend_threshold', thresholds: ['10'], channel: 'sms' };
    const keys = unknownKeys(alertRuleInput, rule);
    expect(keys).toContainEqual({ path: '', keys: ['channel'] });
    expect(unknownKeys(webhookEndpointInput, { url: 'https://example.com/hook', secret: 'mine' })).toEqual([
      { path: '', keys: ['secret'] },
    ]);
  });

  it('leaves objects that allow extra keys alone, and accepts what the schema declares', () => {
    const loose = z.object({ a: z.string() }).loose();
    expect(strictInput(loose).safeParse({ a: 'x', b: 1 }).success).toBe(true);
    expect(strictInput(tenantInput).safeParse({ id: 't1', name: 'T' }).success).toBe(true);
    const recursive: z.ZodType<{ next?: unknown }> = z.lazy(() => z.object({ next: recursive.optional() }));
    expect(strictInput(recursive).safeParse({ next: { next: {} } }).success).toBe(true);
    expect(strictInput(recursive).safeParse({ next: { extra: 1 } }).success).toBe(false);
  });
});
