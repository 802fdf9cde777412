import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { EVENT_MEDIA_TYPES, readEventBody, type EventMediaType, type Ingest } from '../../../ingest/index.js';
import { principalOf } from '../../plugins/auth.js';
import { errorBody } from '../schemas.js';

const ingestAnswer = z.object({
  accepted: z.number().int(),
  duplicates: z.number().int(),
  rejected: z.array(
    z.object({
      index: z.number().int(),
      id: z.string().optional(),
      errors: z.array(z.object({ path: z.string(), message: z.string() })),
    }),
  ),
});

/** POST /v1/events: one CloudEvent, a JSON array of them, or NDJSON. */
export const eventRoutes: FastifyPluginAsyncZod<{ ingest: Ingest; bodyLimit: number }> = async (app, { ingest, bodyLimit }) => {
  // Bodies are read as text so numbers keep every digit; this context parses nothing else.
  // Bytes, then strict UTF-8: the string reader would turn invalid bytes into U+FFFD.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser([...EVENT_MEDIA_TYPES], { parseAs: 'buffer', bodyLimit }, (_request, body, done) => {
    try {
      done(null, readEventBody(body as Buffer));
    } catch (error) {
      done(error as Error, undefined);
    }
  });

  app.post(
    '/v1/events',
    {
      config: { scopes: ['admin', 'ingest'] },
      schema: {
        tags: ['events'],
        summary: 'Send usage events (CloudEvents JSON, a JSON array, or NDJSON)',
        description:
          'Each event is validated on its own. 202 lists accepted, duplicate and rejected events; 400 when every event is rejected or the body cannot be read; 413 over the body limit; 503 with Retry-After when events could not be stored (none of them were).',
        body: z.string().describe('The request body as sent'),
        response: { 202: ingestAnswer, 400: z.union([ingestAnswer, errorBody]), 401: errorBody, 403: errorBody, 413: errorBody, 503: errorBody },
      },
    },
    async (request, reply) => {
      const mediaType = String(request.headers['content-type'] ?? '')
        .split(';')[0]
        ?.trim()
        .toLowerCase() as EventMediaType;
      const answer = await ingest.ingest(principalOf(request).tenantId, mediaType, request.body);
      const status = answer.accepted + answer.duplicates > 0 ? 202 : 400;
      return reply.status(status).send(answer);
    },
  );
};
