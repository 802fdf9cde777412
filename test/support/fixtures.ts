import { wideSum } from '../../platform/money.js';
import type { TestService } from './service.js';

let sequence = 0;

/** A CloudEvent with sensible defaults; override any field. */
export function cloudEvent(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  sequence += 1;
  return {
    specversion: '1.0',
    id: `evt-${Date.now()}-${sequence}`,
    source: 'test-agent',
    type: 'api.request',
    subject: 'acme',
    time: new Date().toISOString(),
    data: {},
    ...overrides,
  };
}

/** Creates a tenant and returns its admin key. */
export async function createTenant(service: TestService, id: string): Promise<string> {
  const response = await service.request('POST', '/v1/tenants', { key: service.operatorKey, body: { id, name: id } });
  if (response.status !== 201) throw new Error(`tenant ${id}: ${response.status} ${response.text}`);
  return response.body.adminKey.key as string;
}

export async function expectStatus(
  promise: Promise<{ status: number; text: string; body: unknown }>,
  status: number,
): Promise<{ status: number; text: string; // eslint-disable-next-line @typescript-eslint/no-explicit-any
body: any }> {
  const response = await promise;
  if (response.status !== status) throw new Error(`expected ${status}, got ${response.status}: ${response.text}`);
  return response;
}

/** Decimal sum for expectations; the global Decimal's 20 digits would round big totals. */
export function plus(...values: Array<string | number>): string {
  return wideSum(values).toFixed();
}
