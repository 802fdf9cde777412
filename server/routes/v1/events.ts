import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { jsonSchemaTransform } from 'fastify-type-provider-zod';
import { EVENT_MEDIA_TYPES, readEventBody, type Ingest } from '../../../ingest/index.js';
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

/** Where the CloudEvent schema sits in the OpenAPI document (app.ts puts it there). */
export const CLOUD_EVENT_SCHEMA_REF = '#/components/schemas/CloudEvent';
const cloudEvent = { $ref: CLOUD_EVENT_SCHEMA_REF };
const cloudEvents = { type: 'array', items: cloudEvent, minItems: 1 };

/**
 * The body per media type as the document shows it. The route itself reads every body as text
 * (numbers keep every digit), so these describe rather than validate.
 */
const documentedBody = {
  content: {
    'application/cloudevents+json': { schema: cloudEvent },
    'application/cloudevents-batch+json': { schema: cloudEvents },
    'application/json': {
      schema: {
        anyOf: [cloudEvent, cloudEvents, { type: 'object', additionalProperties: true, description: "Binary mode (ce-* headers): the event's data" }],
      },
    },
    'application/x-ndjson': { schema: { type: 'string', description: 'One CloudEvent (JSON) per line' } },
  },
};

/** Binary content mode's attributes; any other `ce-<name>` header is an extension attribute. */
const binaryModeHeaders = {
  type: 'object',
  properties: {
    'ce-specversion': { type: 'string', enum: ['1.0'], description: 'Binary content mode: present, the attributes are these headers and the body is data' },
    'ce-id': { type: 'string', description: 'Binary mode: the event id (percent-encoded, as are all ce-* values)' },
    'ce-source': { type: 'string', description: 'Binary mode: the event source' },
    'ce-type': { type: 'string', description: 'Binary mode: the event type' },
    'ce-subject': { type: 'string', description: 'Binary mode: the subject the usage belongs to' },
    'ce-time': { type: 'string', format: 'date-time', description: 'Binary mode: RFC 3339; absent: the time it is received' },
  },
};

/** POST /v1/events: CloudEvents in binary, structured or batch mode, a JSON array, or NDJSON. */
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
      config: {
        scopes: ['admin', 'ingest'],
        swaggerTransform: (document) => {
          const { schema, url } = jsonSchemaTransform(document);
          return { url, schema: { ...schema, body: documentedBody, headers: binaryModeHeaders } };
        },
      },
      schema: {
        tags: ['events'],
        summary: 'Send usage events: CloudEvents in binary, structured or batch mode, a JSON array of events, or NDJSON',
        description:
          'application/cloudevents+json: one event (structured mode); application/cloudevents-batch+json: an array (batch mode); application/json: one event or an array, or, with ce-* headers, the data of one event (binary mode); application/x-ndjson: one event per line. Each event is validated on its own. 202 lists accepted, duplicate and rejected events; 400 when every event is rejected, the body cannot be read or a ce-* header breaks the binding; 413 over the body limit; 415 for another content type (binary mode takes application/json data only); 503 with Retry-After when events could not be stored (none of them were).',
        body: z.string().describe('The request body as sent'),
        response: {
          202: ingestAnswer,
          400: z.union([ingestAnswer, errorBody]),
          401: errorBody,
          403: errorBody,
          413: errorBody,
          415: errorBody,
          503: errorBody,
        },
      },
    },
    async (request, reply) => {
      const answer = await ingest.ingestRequest(principalOf(request).tenantId, request.headers, request.body);
      const status = answer.accepted + answer.duplicates > 0 ? 202 : 400;
      return reply.status(status).send(answer);
    },
  );
};
