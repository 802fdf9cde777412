import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../platform/config.js';
import { createLogger } from '../../platform/logger.js';
import type { Store } from '../../platform/store.js';
import { startService, type Service } from '../../server/service.js';

/** One chDB data directory per test process: the engine binds one per process. */
let processDataDir: Promise<string> | undefined;
export function testDataDir(): Promise<string> {
  processDataDir ??= mkdtemp(join(tmpdir(), 'meterline-test-'));
  return processDataDir;
}

export function uniqueDatabase(): string {
  return `t_${randomBytes(6).toString('hex')}`;
}

/** The webhook receivers of the tests listen on loopback, which the service refuses unless allowed. */
export const LOOPBACK_RECEIVERS: Readonly<Record<string, string>> = { METERLINE_WEBHOOK_ALLOW_NETWORKS: '127.0.0.0/8' };

export interface TestService {
  readonly url: string;
  readonly operatorKey: string;
  readonly database: string;
  readonly service: Service;
  request(method: string, path: string, options?: RequestOptions): Promise<TestResponse>;
  close(): Promise<void>;
}

export interface RequestOptions {
  readonly key?: string;
  /** A value to send as JSON, or a string sent as is. */
  readonly body?: unknown;
  readonly contentType?: string;
}

export interface TestResponse {
  readonly status: number;
  readonly headers: Headers;
  // Test assertions inspect arbitrary JSON answers; their shapes are checked by the assertions.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly body: any;
  readonly text: string;
}

export interface StartOptions {
  readonly database?: string;
  readonly env?: Record<string, string>;
  readonly now?: () => number;
  readonly wrapStore?: (store: Store) => Store;
  readonly keyUseFlushMs?: number;
}

/** Starts the real service on the real engine, listening on a free loopback port. */
export async function startTestService(options: StartOptions = {}): Promise<TestService> {
  const database = options.database ?? uniqueDatabase();
  const operatorKey = `op-${database}-${'x'.repeat(24)}`;
  const config = loadConfig({
    METERLINE_DATA_DIR: await testDataDir(),
    CLICKHOUSE_DATABASE: database,
    METERLINE_ADMIN_KEY: operatorKey,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    ...options.env,
  });
  const log = createLogger(config.logLevel);
  const service = await startService(config, log, {
    ...(options.now ? { now: options.now } : {}),
    ...(options.wrapStore ? { wrapStore: options.wrapStore } : {}),
    ...(options.keyUseFlushMs !== undefined ? { keyUseFlushMs: options.keyUseFlushMs } : {}),
  });
  await service.app.listen({ port: 0, host: '127.0.0.1' });
  const address = service.app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  const url = `http://127.0.0.1:${address.port}`;
  return {
    url,
    operatorKey,
    database,
    service,
    async request(method, path, { key, body, contentType } = {}) {
      const headers: Record<string, string> = {};
      if (key !== undefined) headers.authorization = `Bearer ${key}`;
      let payload: string | undefined;
      if (body !== undefined) {
        payload = typeof body === 'string' ? body : JSON.stringify(body);
        headers['content-type'] = contentType ?? 'application/json';
      }
      const response = await fetch(`${url}${path}`, { method, headers, ...(payload !== undefined ? { body: payload } : {}) });
      const text = await response.text();
      let parsed: unknown = undefined;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = undefined;
      }
      return { status: response.status, headers: response.headers, body: parsed, text };
    },
    close: () => service.close(),
  };
}
