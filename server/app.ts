import Fastify, { LogController } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Catalog } from '../catalog/index.js';
import type { ChargesService, PlansContracts } from '../rater/index.js';
import { cloudEventOpenApiSchema, type Ingest } from '../ingest/index.js';
import type { Logger } from '../platform/logger.js';
import { createConcurrencyGate, type LimitsConfig } from '../platform/limits.js';
import type { Metrics } from '../platform/metrics.js';
import type { Store } from '../platform/store.js';
import { handleClientError, handleFrameworkError } from './errors.js';
import { installRequestHandling } from './request-handling.js';
import { strictBodyJsonSchemaTransform } from './strict-input.js';
import { authPlugin } from './plugins/auth.js';
import { opsRoutes } from './routes/ops.js';
import { catalogRoutes } from './routes/v1/catalog.js';
import { eventRoutes } from './routes/v1/events.js';
import { planRoutes } from './routes/v1/plans.js';
import { priceRoutes } from './routes/v1/prices.js';
import { usageRoutes } from './routes/v1/usage.js';
import { alertRoutes } from './routes/v1/alerts.js';
import type { AlertActions, AlertRules, WebhookEndpoints } from '../alerts/index.js';

export interface AppDeps {
  readonly log: Logger;
  readonly store: Store;
  readonly catalog: Catalog;
  readonly plans: PlansContracts;
  readonly charges: ChargesService;
  readonly alerts: { readonly rules: AlertRules; readonly endpoints: WebhookEndpoints; readonly actions: AlertActions };
  /** Absent in a process that runs only the aggregator role: it serves operations endpoints only. */
  readonly ingest?: Ingest;
  readonly metrics: Metrics;
  readonly ready: () => Promise<{ ok: boolean; reason?: string }>;
  readonly readyMaxAgeMs: number;
  readonly limits: LimitsConfig;
  readonly maxBodyBytes: number;
  readonly backfillHorizonMs: number;
  readonly futureToleranceMs: number;
  readonly now?: () => number;
}

/** Builds the HTTP API from its dependencies; listening is the caller's business. */
export async function buildApp(deps: AppDeps) {
  const app = Fastify({
    loggerInstance: deps.log,
    bodyLimit: deps.maxBodyBytes,
    // Request lines at info would dominate the log at ingest rates; errors are logged where they occur.
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    clientErrorHandler: handleClientError,
    frameworkErrors: handleFrameworkError,
  }).withTypeProvider<ZodTypeProvider>();
  const methods = installRequestHandling(app);

  // Answers written while closing end their connection, so keep-alive clients do not hold the
  // shutdown open until their idle timeout.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (_request, reply, payload) => {
    if (closing) reply.header('connection', 'close');
    return payload;
  });

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    deps.metrics.httpRequestDuration
      .labels(request.method, route, `${Math.floor(reply.statusCode / 100)}xx`)
      .observe(reply.elapsedTime / 1000);
    const length = Number(request.headers['content-length'] ?? 0);
    if (length > 0) deps.metrics.httpRequestBodyBytes.labels(route).observe(length);
  });

  await app.register(swagger, {
    openapi: {
      info: {
        title: 'Meterline API',
        version: '1',
        description: 'Usage metering, rating and spend alerting. Authenticate with Authorization: Bearer <API key>.',
      },
      components: {
        securitySchemes: { apiKey: { type: 'http', scheme: 'bearer' } },
        // POST /v1/events documents its bodies with this schema (routes/v1/events.ts).
        schemas: { CloudEvent: cloudEventOpenApiSchema() },
      },
      security: [{ apiKey: [] }],
    },
    transform: strictBodyJsonSchemaTransform,
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  await app.register(opsRoutes, { metrics: deps.metrics, ready: deps.ready, readyMaxAgeMs: deps.readyMaxAgeMs });
  if (!deps.ingest) {
    methods.complete();
    return app;
  }
  // One gate per process: heavy reads of every route and tenant share its slots.
  const limits = { config: deps.limits, gate: createConcurrencyGate(deps.limits.maxHeavyQueries) };
  await app.register(authPlugin, { catalog: deps.catalog });
  await app.register(catalogRoutes, { catalog: deps.catalog, limits });
  await app.register(eventRoutes, { ingest: deps.ingest, bodyLimit: deps.maxBodyBytes });
  await app.register(priceRoutes);
  await app.register(planRoutes, { plans: deps.plans, charges: deps.charges, limits });
  await app.register(alertRoutes, { rules: deps.alerts.rules, endpoints: deps.alerts.endpoints, alerts: deps.alerts.actions, limits });
  await app.register(usageRoutes, {
    catalog: deps.catalog,
    store: deps.store,
    limits,
    backfillHorizonMs: deps.backfillHorizonMs,
    futureToleranceMs: deps.futureToleranceMs,
    ...(deps.now ? { now: deps.now } : {}),
  });
  methods.complete();
  return app;
}

export type App = Awaited<ReturnType<typeof buildApp>>;
