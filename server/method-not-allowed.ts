import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance, RawServerDefault } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Logger } from '../platform/logger.js';
import { methodNotAllowed } from './errors.js';

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

/**
 * fastify answers a known path with the wrong method as an unknown route (404). This records
 * every route as it is added; `complete()` then adds, for each path, the methods it lacks as
 * routes that answer 405 with Allow. Call `complete()` after the last route is registered.
 */
export function trackMethods(app: FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, Logger, ZodTypeProvider>): { complete: () => void } {
  const byUrl = new Map<string, Set<string>>();
  let completing = false;
  app.addHook('onRoute', (route) => {
    if (completing) return;
    const methods = byUrl.get(route.url) ?? new Set<string>();
    for (const method of [route.method].flat()) methods.add(method.toUpperCase());
    // fastify serves HEAD for every GET route on its own.
    if (methods.has('GET')) methods.add('HEAD');
    byUrl.set(route.url, methods);
  });
  return {
    complete() {
      completing = true;
      for (const [url, methods] of byUrl) {
        // hasRoute also sees routes a plugin added under a variant of the path (a trailing slash).
        const missing = METHODS.filter((method) => !methods.has(method) && !app.hasRoute({ method, url }));
        if (missing.length === 0) continue;
        const allowed = METHODS.filter((method) => methods.has(method));
        app.route({
          method: missing,
          url,
          schema: { hide: true },
          // Answered before the body is read, so a wrong method never reaches a body parser.
          onRequest: async (request, reply) => methodNotAllowed(request, reply, allowed),
          handler: async (request, reply) => methodNotAllowed(request, reply, allowed),
        });
      }
    },
  };
}
