import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { ConflictError, ForbiddenError, InvalidRequestError, NotFoundError } from '../platform/errors.js';
import { EventLogUnavailableError } from '../platform/event-log.js';
import { LimitExceededError, QueryTimeoutError, TooManyQueriesError } from '../platform/limits.js';
import { StoreUnavailableError } from '../platform/store.js';
import { UnparseableBodyError } from '../ingest/index.js';
import { UnauthorizedError } from './plugins/auth.js';

export interface ErrorBody {
  error: { code: string; message: string; details?: Array<{ path: string; message: string }> };
}

function body(code: string, message: string, details?: ErrorBody['error']['details']): ErrorBody {
  return { error: { code, message, ...(details ? { details } : {}) } };
}

/** One shape for every error answer: { error: { code, message, details? } }. */
export function handleError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (hasZodFastifySchemaValidationErrors(error)) {
    const details = error.validation.map((issue) => ({
      path: [error.validationContext, ...String(issue.instancePath).split('/').filter(Boolean)].join('.'),
      message: issue.message ?? 'invalid',
    }));
    return reply.status(400).send(body('invalid_request', 'the request does not match its schema', details));
  }
  if (error instanceof UnauthorizedError) return reply.status(401).send(body('unauthorized', error.message));
  if (error instanceof ForbiddenError) return reply.status(403).send(body('forbidden', error.message));
  if (error instanceof NotFoundError) return reply.status(404).send(body('not_found', error.message));
  if (error instanceof ConflictError) return reply.status(409).send(body('conflict', error.message));
  if (error instanceof InvalidRequestError) {
    return reply.status(400).send(body('invalid_request', error.message, [{ path: error.path, message: error.message }]));
  }
  if (error instanceof LimitExceededError) {
    return reply.status(422).send(body('limit_exceeded', error.message, [{ path: error.path, message: error.message }]));
  }
  if (error instanceof TooManyQueriesError) {
    return reply.status(429).header('retry-after', String(error.retryAfterSeconds)).send(body('too_many_queries', error.message));
  }
  if (error instanceof QueryTimeoutError) {
    request.log.warn({ err: error, route: request.routeOptions.url }, 'query timed out');
    return reply.status(504).send(body('query_timeout', error.message));
  }
  if (error instanceof UnparseableBodyError) return reply.status(400).send(body('unparseable_body', error.message));
  if (error instanceof EventLogUnavailableError || error instanceof StoreUnavailableError) {
    request.log.warn({ err: error }, 'answering 503');
    return reply.status(503).header('retry-after', '5').send(body('unavailable', error.message));
  }
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return reply.status(413).send(body('body_too_large', error.message));
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return reply.status(415).send(body('unsupported_media_type', error.message));
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return reply.status(400).send(body('unparseable_body', error.message));
    default:
      break;
  }
  if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
    return reply.status(error.statusCode).send(body('bad_request', error.message));
  }
  request.log.error({ err: error }, 'unhandled error');
  return reply.status(500).send(body('internal', 'internal error'));
}
