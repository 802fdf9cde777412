import { describe, expect, it } from 'vitest';
import type { Meter } from '../catalog/index.js';
import type { MeteredEvent } from './event-log.js';
import { decodeEventMessage, encodeEventMessage, type DecodeContext } from './event-message.js';

const meters: Meter[] = [
  { key: 'tokens', name: 'Tokens', eventType: 'llm.call', aggregation: 'SUM', valueProperty: '$.tokens', groupBy: {}, createdAt: '' },
];
const NOW = Date.parse('2026-11-26T10:00:00Z');
const context: DecodeContext = {
  tenantExists: async (id) => id === 'acme-msp',
  metersOf: async () => meters,
  producedAt: NOW,
  futureToleranceMs: 300_000,
  backfillHorizonMs: 35 * 86_400_000,
};

const event: MeteredEvent = {
  tenantId: 'acme-msp',
  id: 'evt-1',
  type: 'llm.call',
  source: 'gw',
  subject: 'cust-7',
  time: new Date('2026-11-26T09:59:00.123Z'),
  data: '{"tokens":12345678901234567890.5,"model":"large"}',
  readings: [{ meterKey: 'tokens', value: '12345678901234567890.5', valueKey: '', groupBy: '{}' }],
};

describe('event messages', () => {
  it('round-trips an accepted event exactly, keyed by tenant and customer', async () => {
    const message = encodeEventMessage(event, 'customer-7');
    expect(message.key).toBe('acme-msp/customer-7');
    expect(message.headers).toEqual({ 'meterline-tenant': 'acme-msp' });
    expect(message.value).toContain('"data":{"tokens":12345678901234567890.5,"model":"large"}');
    const decoded = await decodeEventMessage(Buffer.from(message.value), 'acme-msp', context);
    expect(decoded).toEqual({ ok: true, event });
  });

  it('keys by subject when no customer owns it', () => {
    expect(encodeEventMessage(event, undefined).key).toBe('acme-msp/cust-7');
  });

  it('keeps the readings taken at ingest even if meters changed since', async () => {
    const message = encodeEventMessage(event, undefined);
    const decoded = await decodeEventMessage(Buffer.from(message.value), 'acme-msp', { ...context, metersOf: async () => [] });
    expect(decoded.ok && decoded.event.readings).toEqual(event.readings);
  });

  it('validates and reads meters for events agents produced straight to the topic', async () => {
    const raw = JSON.stringify({ specversion: '1.0', id: 'a-1', type: 'llm.call', subject: 's', time: '2026-11-26T09:00:00Z', data: { tokens: '7' } });
    const decoded = await decodeEventMessage(Buffer.from(raw), 'acme-msp', context);
    expect(decoded.ok && decoded.event.readings).toEqual([{ meterKey: 'tokens', value: '7', valueKey: '', groupBy: '{}' }]);
  });

  it('says why a message can never be stored', async () => {
    const good = JSON.stringify({ id: 'a', type: 'llm.call', subject: 's', data: { tokens: 1 } });
    expect(await decodeEventMessage(Buffer.from(good), undefined, context)).toMatchObject({ ok: false, reason: 'no_tenant' });
    expect(await decodeEventMessage(Buffer.from(good), 'ghost', context)).toMatchObject({ ok: false, reason: 'unknown_tenant' });
    expect(await decodeEventMessage(Buffer.from('{nope'), 'acme-msp', context)).toMatchObject({ ok: false, reason: 'not_json' });
    expect(await decodeEventMessage(null, 'acme-msp', context)).toMatchObject({ ok: false, reason: 'not_json' });
    const bad = JSON.stringify({ id: 'a', type: 'llm.call', subject: 's', data: { tokens: 'many' } });
    const decoded = await decodeEventMessage(Buffer.from(bad), 'acme-msp', context);
    expect(decoded).toMatchObject({ ok: false, reason: 'invalid_event' });
    expect(!decoded.ok && decoded.detail).toMatch(/data\.tokens/);
    const forged = JSON.stringify({ id: 'a', type: 'llm.call', subject: 's', data: {}, meterlinereadings: '[{"meterKey":1}]' });
    expect(await decodeEventMessage(Buffer.from(forged), 'acme-msp', context)).toMatchObject({ ok: false, reason: 'invalid_event' });
  });

  it('judges the time of an agent event against when it was produced, not when it was consumed', async () => {
    const old = JSON.stringify({ id: 'a', type: 'llm.call', subject: 's', time: '2026-11-01T00:00:00Z', data: { tokens: 1 } });
    expect((await decodeEventMessage(Buffer.from(old), 'acme-msp', context)).ok).toBe(true);
    const muchLater = { ...context, producedAt: Date.parse('2027-01-01T00:00:00Z') };
    expect(await decodeEventMessage(Buffer.from(old), 'acme-msp', muchLater)).toMatchObject({ ok: false, reason: 'invalid_event' });
  });

  it('dead-letters text the store could not keep instead of handing it on', async () => {
    const surrogate = '{"id":"a\\ud800","type":"llm.call","subject":"s","data":{"tokens":1}}';
    const inData = '{"id":"a","type":"llm.call","subject":"s","data":{"tokens":1,"note":{"\\udc00":"x"}}}';
    for (const text of [surrogate, inData]) {
      const decoded = await decodeEventMessage(Buffer.from(text), 'acme-msp', context);
      expect(decoded).toMatchObject({ ok: false, reason: 'invalid_event', detail: expect.stringMatching(/lone UTF-16 surrogate/) as string });
    }
    const nul = JSON.stringify({ id: 'a\u0000', type: 'llm.call', subject: 's', data: { tokens: 1 } });
    expect(await decodeEventMessage(Buffer.from(nul), 'acme-msp', context)).toMatchObject({ ok: false, reason: 'invalid_event' });
  });

  it('dead-letters carried readings that hold a lone surrogate inside their JSON text', async () => {
    const readings = '[{"meterKey":"tokens","value":"1","valueKey":"\\ud800","groupBy":"{}"}]';
    const raw = JSON.stringify({ id: 'a', type: 'llm.call', subject: 's', data: { tokens: 1 }, meterlinereadings: readings });
    expect(raw).not.toMatch(/[\uD800-\uDFFF]/u);
    const decoded = await decodeEventMessage(Buffer.from(raw), 'acme-msp', context);
    expect(decoded).toMatchObject({ ok: false, reason: 'invalid_event', detail: expect.stringMatching(/^meterlinereadings\.0\.valueKey: holds a lone/) as string });
  });

  it('dead-letters invalid UTF-8 and absurd nesting as not JSON', async () => {
    const bytes = Buffer.concat([Buffer.from('{"id":"a'), Buffer.from([0xff]), Buffer.from('","type":"llm.call","subject":"s"}')]);
    expect(await decodeEventMessage(bytes, 'acme-msp', context)).toMatchObject({ ok: false, reason: 'not_json', detail: 'the body is not valid UTF-8' });
    const deep = `{"id":"a","type":"llm.call","subject":"s","data":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`;
    expect(await decodeEventMessage(Buffer.from(deep), 'acme-msp', context)).toMatchObject({ ok: false, reason: 'not_json' });
  });
});
