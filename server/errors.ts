import { maxHeaderSize, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { ConflictError, ForbiddenError, InvalidRequestError, NotFoundError } from '../platform/errors.js';
import { EventLogUnavailableError } from '../eventlog/index.js';
import { LimitExceededError, QueryTimeoutError, TooManyQueriesError } from '../platform/limits.js';
import { StoreUnavailableError } from '../platform/store.js';
import { JsonTextError } from '../platform/text.js';
import { UnparseableBodyError, UnsupportedEventMediaTypeError } from '../ingest/index.js';
import { RatingFailedError } from '../rater/index.js';
import { UnauthorizedError } from './plugins/auth.js';

export interface ErrorBody {
  error: { code: string; message: string; details?: Array<{ path: string; message: string }> };
}

function body(code: string, message: string, details?: ErrorBody['error']['details']): ErrorBody {
  return { error: { code, message, ...(details ? { details } : {}) } };
}

interface ValidationIssue {
  readonly keyword?: string;
  readonly instancePath?: string;
  readonly message?: string;
  readonly params?: { readonly keys?: unknown };
}

/** One detail per offending field; an unknown key is named in its own path. */
function validationDetails(context: string | undefined, issues: readonly ValidationIssue[]): NonNullable<ErrorBody['error']['details']> {
  return issues.flatMap((issue) => {
    const path = [context, ...String(issue.instancePath ?? '').split('/').filter(Boolean)];
    const keys = issue.params?.keys;
    if (issue.keyword === 'unrecognized_keys' && Array.isArray(keys)) {
      return keys.map((key) => ({ path: [...path, String(key)].filter(Boolean).join('.'), message: 'unknown field' }));
    }
    return [{ path: path.filter(Boolean).join('.'), message: issue.message ?? 'invalid' }];
  });
}

/** One shape for every error answer: { error: { code, message, details? } }. */
export function handleError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (hasZodFastifySchemaValidationErrors(error)) {
    const details = validationDetails(error.validationContext, error.validation);
    return reply.status(400).send(body('invalid_request', 'the request does not match its schema', details));
  }
  if (error instanceof UnauthorizedError) return reply.status(401).send(body('unauthorized', error.message));
  if (error instanceof ForbiddenError) return reply.status(403).send(body('forbidden', error.message));
  if (error instanceof NotFoundError) return reply.status(404).send(body('not_found', error.message));
  if (error instanceof ConflictError) return reply.status(409).send(body('conflict', error.message));
  if (error instanceof InvalidRequestError) {
    return reply.status(400).send(body('invalid_request', error.message, [{ path: error.path, message: error.message }]));
  }
  if (error instanceof RatingFailedError) {
    return reply.status(422).send(body('rating_failed', `rating failed: ${error.message}`, [{ path: error.path, message: error.message }]));
  }
  if (error instanceof UnparseableBodyError || error instanceof JsonTextError) {
    return reply.status(400).send(body('unparseable_body', error.message));
  }
  if (error instanceof UnsupportedEventMediaTypeError) return reply.status(415).send(body('unsupported_media_type', error.message));
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

/** A known path asked with a method it does not serve. */
export function methodNotAllowed(request: FastifyRequest, reply: FastifyReply, allowed: readonly string[]): FastifyReply {
  return reply
    .status(405)
    .header('allow', allowed.join(', '))
    .send(body('method_not_allowed', `${request.method} is not allowed here; allowed: ${allowed.join(', ')}`));
}

/** Unknown routes answer in the same shape as every other error. */
export function handleNotFound(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return reply.status(404).send(body('not_found', `no route ${request.method} ${request.url.split('?')[0] ?? ''}`));
}

/** Errors fastify raises before routing, such as a URL that is not valid percent-encoding. */
export function handleFrameworkError(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return reply.status(400).send(body('bad_request', error.message));
}

/**
 * Errors node's HTTP parser raises before a request exists (headers over maxHeaderSize, a
 * malformed request line, a request that took too long): fastify never sees them, so the
 * answer is written to the socket here, in the API's error shape.
 */
export function handleClientError(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, answer] =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? [431, body('headers_too_large', `the request headers are larger than the ${maxHeaderSize} bytes the server accepts`)]
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, body('request_timeout', 'the request was not received in time')]
        : [400, body('bad_request', 'the request is not valid HTTP')];
  const text = JSON.stringify(answer);
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Length: ${Buffer.byteLength(text)}\r\n` +
        `Content-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${text}`,
    );
  }
  socket.destroy(error);
}
