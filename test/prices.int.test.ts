import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestService, type TestService } from './support/service.js';

const TIERS = [
  { upTo: '5', unitAmount: '5.00' },
  { upTo: '10', unitAmount: '4.00' },
  { upTo: null, unitAmount: '3.00' },
];

/** POST /v1/prices/preview over HTTP: worked examples and every kind of invalid price. */
describe('price preview', () => {
  let svc: TestService;
  beforeAll(async () => {
    svc = await startTestService();
  });
  afterAll(async () => svc.close());

  const preview = (body: unknown) => svc.request('POST', '/v1/prices/preview', { key: svc.operatorKey, body });

  it('prices graduated and volume tiers to the cent, with a breakdown that sums to the amount', async () => {
    const graduated = await preview({ currency: 'USD', price: { model: 'graduated', tiers: TIERS }, quantity: '12' });
    expect(graduated.status).toBe(200);
    expect(graduated.body).toMatchObject({ amount: '51.00', preciseAmount: '51', currency: 'USD' });
    expect(graduated.body.breakdown.map((row: { quantity: string; amount: string }) => [row.quantity, row.amount])).toEqual([
      ['5', '25'],
      ['5', '20'],
      ['2', '6'],
    ]);
    const volume = await preview({ currency: 'USD', price: { model: 'volume', tiers: TIERS }, quantity: '12' });
    expect(volume.body).toMatchObject({ amount: '36.00', preciseAmount: '36' });
  });

  it("rounds once, half-up, to the currency's minor unit", async () => {
    const unit = (currency: string, unitAmount: string, quantity: string) =>
      preview({ currency, price: { model: 'unit', unitAmount }, quantity }).then((r) => r.body);
    expect(await unit('JPY', '0.5', '2469')).toMatchObject({ amount: '1235', preciseAmount: '1234.5' });
    expect(await unit('BHD', '1.2345', '1')).toMatchObject({ amount: '1.235', preciseAmount: '1.2345' });
    expect(await unit('USD', '0.001', '2675')).toMatchObject({ amount: '2.68', preciseAmount: '2.675' });
  });

  it('shows cost, markup and margin for a pass-through charge', async () => {
    const markup = await preview({ currency: 'EUR', price: { model: 'markup', markupPercent: '20' }, quantity: '100' });
    expect(markup.body).toMatchObject({ amount: '120.00', cost: '100', markup: '20' });
  });

  it('prices percentage charges over event values', async () => {
    const response = await preview({
      currency: 'USD',
      price: { model: 'percentage', rate: '2.5', fixedAmount: '0.10', freeEvents: '1' },
      events: ['100', '200'],
    });
    expect(response.body).toMatchObject({ amount: '5.10', preciseAmount: '5.1' });
  });

  it('refuses invalid prices with the path of the problem', async () => {
    const problem = async (price: unknown, extra: Record<string, unknown> = { quantity: '1' }) => {
      const response = await preview({ currency: 'USD', price, ...extra });
      expect(response.status).toBe(400);
      return (response.body.error.details as Array<{ path: string }>).map((detail) => detail.path);
    };
    expect(await problem({ model: 'graduated', tiers: [{ upTo: '10', unitAmount: '1' }, { upTo: '5', unitAmount: '1' }, { upTo: null, unitAmount: '1' }] })).toContain(
      'body.price.tiers.1.upTo',
    );
    expect(await problem({ model: 'volume', tiers: [{ upTo: null, unitAmount: '1' }, { upTo: '5', unitAmount: '1' }] })).toContain('body.price.tiers.0.upTo');
    expect(await problem({ model: 'unit', unitAmount: '-1' })).toContain('body.price.unitAmount');
    expect((await problem({ model: 'barter' })).some((path) => path.startsWith('body.price'))).toBe(true);
    expect(await problem({ model: 'unit', unitAmount: '1', tiers: [] })).toEqual(expect.arrayContaining([expect.stringMatching(/^body\.price/)]));
    expect(await problem({ model: 'unit', unitAmount: 1 })).toContain('body.price.unitAmount');
    expect(await problem({ model: 'unit', unitAmount: '1' }, { quantity: '3e2' })).toContain('body.quantity');
    expect(await problem({ model: 'graduated', tiers: [{ upTo: null, unitAmount: '1' }] }, { quantity: '-3' })).toEqual(['quantity']);
    const credit = await preview({ currency: 'USD', price: { model: 'unit', unitAmount: '0.125' }, quantity: '-3' });
    expect(credit.status).toBe(200);
    expect(credit.body).toMatchObject({ amount: '-0.38', preciseAmount: '-0.375' });
    const missing = await preview({ currency: 'USD', price: { model: 'unit', unitAmount: '1' } });
    expect(missing.status).toBe(400);
    expect(missing.body.error.details[0].path).toBe('quantity');
    const currency = await preview({ currency: 'usd', price: { model: 'unit', unitAmount: '1' }, quantity: '1' });
    expect(currency.body.error.details[0].path).toBe('body.currency');
  });

  it('needs a key', async () => {
    expect((await svc.request('POST', '/v1/prices/preview', { body: {} })).status).toBe(401);
  });
});
