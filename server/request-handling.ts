import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance, RawServerDefault } from 'fastify';
import { serializerCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Logger } from '../platform/logger.js';
import { handleError, handleNotFound } from './errors.js';
import { jsonBodyParser } from './json-body.js';
import { trackMethods } from './method-not-allowed.js';
import { strictBodyValidatorCompiler } from './strict-input.js';

type App = FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, Logger, ZodTypeProvider>;

/**
 * How every request is read and every failure answered, in one place so the service and the
 * tests of the error answers run the same plumbing: strict bodies, the strict JSON reader, the
 * one error shape (also for unknown routes) and 405 for a known path's missing methods. Call the
 * returned `complete()` after the last route is registered.
 */
export function installRequestHandling(app: App): { complete: () => void } {
  // Bodies refuse fields they do not declare; query strings and paths keep zod's defaults.
  app.setValidatorCompiler(strictBodyValidatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler(handleError);
  app.setNotFoundHandler(handleNotFound);
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, jsonBodyParser(app.getDefaultJsonParser('error', 'error')));
  return trackMethods(app);
}
