import { cpus, totalmem } from 'node:os';
import { loadConfig } from '../platform/config.js';
import { createLogger } from '../platform/logger.js';
import { startService, type Service } from '../server/service.js';

const OPERATOR_KEY = 'bench-operator-key-0123456789abcdef';

export interface BenchService {
  readonly service: Service;
  readonly base: string;
  readonly headers: Record<string, string>;
}

/** The real service on a loopback port, with one meter defined, for a benchmark to load. */
export async function startBenchService(env: Record<string, string>, meter: Record<string, unknown>): Promise<BenchService> {
  const config = loadConfig({ METERLINE_ADMIN_KEY: OPERATOR_KEY, LOG_LEVEL: 'warn', ...env });
  const service = await startService(config, createLogger('warn'));
  await service.app.listen({ port: 0, host: '127.0.0.1' });
  const address = service.app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no address');
  const base = `http://127.0.0.1:${address.port}`;
  const headers = { authorization: `Bearer ${OPERATOR_KEY}`, 'content-type': 'application/json' };
  const created = await fetch(`${base}/v1/meters`, { method: 'POST', headers, body: JSON.stringify(meter) });
  if (created.status !== 201) throw new Error(`meter: ${created.status}`);
  return { service, base, headers };
}

export function machine(): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  return `${cpus().length} × ${cpu}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
}
