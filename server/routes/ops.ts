import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Metrics } from '../../platform/metrics.js';
import { createReadiness } from '../readiness.js';

export interface OpsRouteOptions {
  readonly metrics: Metrics;
  /** Store reachable and schema migrated. */
  readonly ready: () => Promise<{ ok: boolean; reason?: string }>;
  /** How old a successful check may be for /readyz to answer without waiting for a new one. */
  readonly readyMaxAgeMs: number;
}

/** Probes and scrapers carry no key: the document says so instead of inheriting the API key. */
const PUBLIC: Array<Record<string, string[]>> = [];

/** Health, readiness and Prometheus metrics: unauthenticated, no tenant data. */
export const opsRoutes: FastifyPluginAsyncZod<OpsRouteOptions> = async (app, { metrics, ready, readyMaxAgeMs }) => {
  const readiness = createReadiness(ready, { maxAgeMs: readyMaxAgeMs });
  app.get(
    '/healthz',
    {
      schema: {
        tags: ['operations'],
        summary: 'The process is up',
        security: PUBLIC,
        response: { 200: z.object({ status: z.literal('ok') }) },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        tags: ['operations'],
        summary: 'The store is reachable and migrated',
        security: PUBLIC,
        response: {
          200: z.object({ status: z.literal('ready') }),
          503: z.object({ status: z.literal('not_ready'), reason: z.string().optional() }),
        },
      },
    },
    async (_request, reply) => {
      const state = await readiness();
      if (state.ok) return reply.status(200).send({ status: 'ready' });
      return reply.status(503).send({ status: 'not_ready', ...(state.reason !== undefined ? { reason: state.reason } : {}) });
    },
  );

  app.get(
    '/metrics',
    {
      schema: {
        tags: ['operations'],
        summary: 'Prometheus metrics (text exposition format)',
        security: PUBLIC,
        response: { 200: { content: { 'text/plain': { schema: z.string().describe('Prometheus text exposition format 0.0.4') } } } },
      },
    },
    async (_request, reply) => reply.header('content-type', metrics.registry.contentType).send(await metrics.registry.metrics()),
  );
};
