import type { FastifyPluginAsync } from 'fastify';
import type { Metrics } from '../../platform/metrics.js';
import { createReadiness } from '../readiness.js';

export interface OpsRouteOptions {
  readonly metrics: Metrics;
  /** Store reachable and schema migrated. */
  readonly ready: () => Promise<{ ok: boolean; reason?: string }>;
  /** How old a successful check may be for /readyz to answer without waiting for a new one. */
  readonly readyMaxAgeMs: number;
}

/** Health, readiness and Prometheus metrics: unauthenticated, no tenant data. */
export const opsRoutes: FastifyPluginAsync<OpsRouteOptions> = async (app, { metrics, ready, readyMaxAgeMs }) => {
  const readiness = createReadiness(ready, { maxAgeMs: readyMaxAgeMs });
  app.get('/healthz', { schema: { tags: ['operations'], summary: 'The process is up' } }, async () => ({ status: 'ok' }));

  app.get('/readyz', { schema: { tags: ['operations'], summary: 'The store is reachable and migrated' } }, async (_request, reply) => {
    const state = await readiness();
    return reply.status(state.ok ? 200 : 503).send(state.ok ? { status: 'ready' } : { status: 'not_ready', reason: state.reason });
  });

  app.get('/metrics', { schema: { tags: ['operations'], summary: 'Prometheus metrics', hide: false } }, async (_request, reply) =>
    reply.header('content-type', metrics.registry.contentType).send(await metrics.registry.metrics()),
  );
};
