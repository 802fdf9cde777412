import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import {
  apiKeyInput,
  apiKeyIssued,
  apiKeyView,
  customerId,
  customerInput,
  customerView,
  meterInput,
  meterView,
  tenantInput,
  type Catalog,
} from '../../../catalog/index.js';
import { assertCustomerVisible, principalOf } from '../../plugins/auth.js';
import { errorResponses } from '../schemas.js';

/** Tenants, meters, customers and API keys. */
export const catalogRoutes: FastifyPluginAsyncZod<{ catalog: Catalog }> = async (app, { catalog }) => {
  app.post(
    '/v1/tenants',
    {
      config: { operatorOnly: true },
      schema: {
        tags: ['catalog'],
        summary: 'Create a tenant (operator key only); answers its first admin key, shown once',
        body: tenantInput,
        response: { 201: z.object({ id: z.string(), name: z.string(), adminKey: apiKeyIssued }), ...errorResponses },
      },
    },
    async (request, reply) => {
      const { tenant, key } = await catalog.createTenant(request.body);
      return reply.status(201).send({ ...tenant, adminKey: key });
    },
  );

  app.post(
    '/v1/meters',
    {
      config: { scopes: ['admin'] },
      schema: { tags: ['catalog'], summary: 'Define a meter', body: meterInput, response: { 201: meterView, ...errorResponses } },
    },
    async (request, reply) => reply.status(201).send(await catalog.createMeter(principalOf(request).tenantId, request.body)),
  );

  app.get(
    '/v1/meters',
    {
      config: { scopes: ['admin', 'read'] },
      schema: { tags: ['catalog'], summary: 'List meters', response: { 200: z.object({ data: z.array(meterView) }), ...errorResponses } },
    },
    async (request) => ({ data: await catalog.listMeters(principalOf(request).tenantId) }),
  );

  app.get(
    '/v1/meters/:key',
    {
      config: { scopes: ['admin', 'read'] },
      schema: { tags: ['catalog'], summary: 'Read a meter', params: z.object({ key: z.string() }), response: { 200: meterView, ...errorResponses } },
    },
    async (request) => catalog.getMeter(principalOf(request).tenantId, request.params.key),
  );

  app.post(
    '/v1/customers',
    {
      config: { scopes: ['admin'] },
      schema: { tags: ['catalog'], summary: 'Create a customer', body: customerInput, response: { 201: customerView, ...errorResponses } },
    },
    async (request, reply) => reply.status(201).send(await catalog.createCustomer(principalOf(request).tenantId, request.body)),
  );

  app.get(
    '/v1/customers/:id',
    {
      config: { scopes: ['admin', 'read'] },
      schema: { tags: ['catalog'], summary: 'Read a customer', params: z.object({ id: customerId }), response: { 200: customerView, ...errorResponses } },
    },
    async (request) => {
      const principal = principalOf(request);
      assertCustomerVisible(principal, request.params.id);
      return catalog.getCustomer(principal.tenantId, request.params.id);
    },
  );

  app.post(
    '/v1/api-keys',
    {
      config: { scopes: ['admin'] },
      schema: {
        tags: ['catalog'],
        summary: 'Issue an API key; the key is shown once and stored hashed',
        body: apiKeyInput,
        response: { 201: apiKeyIssued, ...errorResponses },
      },
    },
    async (request, reply) => reply.status(201).send(await catalog.createApiKey(principalOf(request).tenantId, request.body)),
  );

  app.get(
    '/v1/api-keys',
    {
      config: { scopes: ['admin'] },
      schema: {
        tags: ['catalog'],
        summary: "The tenant's API keys (never their secrets): scope, customer, created, last used, expiry and revocation",
        response: { 200: z.object({ data: z.array(apiKeyView) }), ...errorResponses },
      },
    },
    async (request) => ({ data: await catalog.listApiKeys(principalOf(request).tenantId) }),
  );

  app.delete(
    '/v1/api-keys/:id',
    {
      config: { scopes: ['admin'] },
      schema: {
        tags: ['catalog'],
        summary: 'Revoke an API key: 401 at once in this process, in others within METERLINE_CATALOG_CACHE_TTL',
        params: z.object({ id: z.string().min(1).max(64) }),
        response: { 204: z.null(), ...errorResponses },
      },
    },
    async (request, reply) => {
      await catalog.revokeApiKey(principalOf(request).tenantId, request.params.id);
      return reply.status(204).send(null);
    },
  );
};
