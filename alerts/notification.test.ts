import { describe, expect, it } from 'vitest';
import { messageIdOf, type AlertDetails, type AlertRecord } from './alert-store.js';
import { renderEmail, webhookPayload } from './notification.js';

const period = { start: '2026-11-01T00:00:00.000Z', end: '2026-12-01T00:00:00.000Z' };
const chargesUrl = 'https://meterline.example.com/v1/customers/acme/charges?period=2026-11';

function alertOf(details: Partial<AlertDetails> & Pick<AlertDetails, 'kind'>, extra: Partial<AlertRecord> = {}): AlertRecord {
  return {
    tenantId: 'tenant-a',
    id: 'alt_0123456789abcdef01234567',
    ruleId: 'rule_spend',
    customerId: 'acme',
    kind: details.kind,
    status: 'firing',
    details: {
      ruleId: 'rule_spend',
      customerId: 'acme',
      customerName: 'Acme Corp',
      period,
      currency: 'USD',
      value: '612.40',
      measure: 'subtotal',
      chargesUrl,
      ...details,
    },
    createdAt: '2026-11-18T09:30:00.000Z',
    ...extra,
  };
}

const spendAlert = alertOf({ kind: 'spend_threshold', threshold: '500' });
const spikeAlert = alertOf(
  {
    kind: 'spike',
    value: '48.20',
    measure: 'window cost',
    baseline: '11.80',
    ratio: '4.084745',
    window: { start: '2026-11-18T08:00:00.000Z', end: '2026-11-18T09:00:00.000Z' },
    drivers: {
      charges: [{ key: 'storage', current: '40.00', baseline: '6.00', increase: '34.00' }],
      dimensions: [{ key: 'region=eu-west', current: '30.00', baseline: '2.50', increase: '27.50' }],
    },
  },
  { status: 'resolved', resolvedAt: '2026-11-18T12:00:00.000Z', resolution: 'window cost fell below 1.5× the baseline' },
);

describe('webhookPayload', () => {
  it('builds the versioned message of a threshold alert, amounts as decimal strings', () => {
    const payload = webhookPayload(spendAlert, 'alert.fired', '2026-11-18T09:30:00.000Z');
    expect(payload).toEqual({
      type: 'alert.fired',
      id: messageIdOf(spendAlert.id, 'alert.fired'),
      createdAt: '2026-11-18T09:30:00.000Z',
      version: 1,
      data: {
        alertId: 'alt_0123456789abcdef01234567',
        ruleId: 'rule_spend',
        kind: 'spend_threshold',
        customerId: 'acme',
        period,
        threshold: '500',
        value: '612.40',
        currency: 'USD',
        chargesUrl,
      },
    });
    // Trailing zeros survive: the consumer sees the same figure the email shows.
    expect(JSON.stringify(payload)).toContain('"value":"612.40"');
  });

  it('carries the spike figures, drivers and window, and a distinct id per message type', () => {
    const payload = webhookPayload(spikeAlert, 'alert.resolved', '2026-11-18T12:00:00.000Z');
    expect(payload.type).toBe('alert.resolved');
    expect(payload.id).toBe(messageIdOf(spikeAlert.id, 'alert.resolved'));
    expect(payload.id).not.toBe(messageIdOf(spikeAlert.id, 'alert.fired'));
    expect(payload.data).toMatchObject({
      kind: 'spike',
      value: '48.20',
      baseline: '11.80',
      ratio: '4.084745',
      window: { start: '2026-11-18T08:00:00.000Z', end: '2026-11-18T09:00:00.000Z' },
      drivers: {
        charges: [{ key: 'storage', current: '40.00', baseline: '6.00', increase: '34.00' }],
        dimensions: [{ key: 'region=eu-west', current: '30.00', baseline: '2.50', increase: '27.50' }],
      },
    });
    expect(payload.data).not.toHaveProperty('threshold');
  });

  it('keeps a zero-baseline ratio as null and publishes nothing beyond the documented fields', () => {
    const payload = webhookPayload(alertOf({ kind: 'spike', baseline: '0', ratio: null }), 'alert.fired', '2026-11-18T09:30:00.000Z');
    expect(payload.data.ratio).toBeNull();
    const json = JSON.stringify(payload);
    expect(json).not.toContain('Acme Corp');
    expect(json).not.toContain('measure');
  });

  it('contains no JSON numbers but the schema version', () => {
    const payload = webhookPayload(spikeAlert, 'alert.fired', '2026-11-18T09:30:00.000Z');
    const numbers: unknown[] = [];
    JSON.parse(JSON.stringify(payload), (_key, value: unknown) => {
      if (typeof value === 'number') numbers.push(value);
      return value;
    });
    expect(numbers).toEqual([1]);
  });
});

describe('renderEmail', () => {
  it('renders a spend threshold with the value, threshold and charges link', () => {
    const email = renderEmail(spendAlert, 'alert.fired');
    expect(email.subject).toBe('[Meterline] Acme Corp: spend crossed 500 USD');
    expect(email.text).toContain('Acme Corp (customer acme): spend crossed 500 USD.');
    expect(email.text).toMatch(/^Current value: +612\.40 USD \(subtotal\)$/m);
    expect(email.text).toMatch(/^Threshold: +500 USD$/m);
    expect(email.text).toMatch(/^Billing period: +2026-11-01T00:00:00\.000Z – 2026-12-01T00:00:00\.000Z$/m);
    expect(email.text).toContain(`See the charges: ${chargesUrl}`);
    expect(email.html).toContain('<th align="left">Current value</th><td>612.40 USD (subtotal)</td>');
    expect(email.html).toContain(`<a href="${chargesUrl}">See the charges</a>`);
  });

  it('renders a budget crossing with the budget and the percentage reached', () => {
    const email = renderEmail(alertOf({ kind: 'budget', value: '820.00', budget: '1000', percentage: '80' }), 'alert.fired');
    expect(email.subject).toBe('[Meterline] Acme Corp: spend reached 80% of the 1000 USD budget');
    expect(email.text).toContain('Budget reached:');
    expect(email.text).toMatch(/Budget: +1000 USD/);
    expect(email.text).toMatch(/Budget reached: +80%/);
  });

  it('renders a forecast with the projected figure', () => {
    const email = renderEmail(alertOf({ kind: 'forecast', value: '1230', forecast: '1230', spent: '820', budget: '1000' }), 'alert.fired');
    expect(email.subject).toBe('[Meterline] Acme Corp: forecast 1230 USD exceeds the 1000 USD budget');
    expect(email.text).toMatch(/Forecast for the period: +1230 USD/);
    expect(email.text).toMatch(/Spent so far: +820 USD/);
  });

  it('renders a usage threshold as a quantity, not money', () => {
    const email = renderEmail(alertOf({ kind: 'usage_threshold', value: '12500', threshold: '10000', measure: 'meter api_calls' }), 'alert.fired');
    expect(email.subject).toBe('[Meterline] Acme Corp: usage crossed 10000 (meter api_calls)');
    expect(email.text).toContain('12500 (meter api_calls)');
    expect(email.text).not.toContain('12500 USD');
  });

  it('renders a resolved spike with baseline, ratio, drivers and the resolution', () => {
    const email = renderEmail(spikeAlert, 'alert.resolved');
    expect(email.subject).toBe('[Meterline] Acme Corp: spend spike resolved');
    expect(email.text).toMatch(/Baseline: +11\.80 USD/);
    expect(email.text).toMatch(/Ratio to baseline: +4\.084745×/);
    expect(email.text).toContain('  - storage: 40.00 USD (baseline 6.00 USD, +34.00 USD)');
    expect(email.text).toContain('  - region=eu-west: 30.00 USD (baseline 2.50 USD, +27.50 USD)');
    expect(email.text).toMatch(/Resolution: +window cost fell below 1\.5× the baseline/);
    expect(email.html).toContain('<li>storage: 40.00 USD (baseline 6.00 USD, +34.00 USD)</li>');
  });

  it('escapes every value in the HTML and keeps the subject on one line', () => {
    const hostile = alertOf({
      kind: 'spend_threshold',
      threshold: '500',
      customerName: '<script>alert("x")</script>\r\nBcc: victim@example.com',
      measure: "charge <b>'storage'</b> & more",
      drivers: { charges: [{ key: '<img src=x onerror=alert(1)>', current: '1', baseline: '0', increase: '1' }], dimensions: [] },
    });
    const email = renderEmail(hostile, 'alert.fired');
    expect(email.html).not.toMatch(/<script|<img|<b>/);
    expect(email.html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;');
    expect(email.html).toContain('charge &lt;b&gt;&#39;storage&#39;&lt;/b&gt; &amp; more');
    expect(email.html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(email.subject).toBe('[Meterline] <script>alert("x")</script> Bcc: victim@example.com: spend crossed 500 USD');
    expect(email.subject).not.toMatch(/[\r\n]/);
  });

  it('links only web URLs', () => {
    const email = renderEmail(alertOf({ kind: 'spend_threshold', threshold: '500', chargesUrl: 'javascript:alert(1)' }), 'alert.fired');
    expect(email.html).not.toContain('<a ');
    expect(email.html).toContain('See the charges: javascript:alert(1)');
  });

  it('falls back to the customer id when the name is empty', () => {
    expect(renderEmail(alertOf({ kind: 'spend_threshold', threshold: '500', customerName: '' }), 'alert.fired').subject).toBe(
      '[Meterline] acme: spend crossed 500 USD',
    );
  });
});
