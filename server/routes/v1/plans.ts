import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { customerId } from '../../../catalog/index.js';
import { contractInput, contractVersionView, planInput, planVersionView, type PlansContracts } from '../../../rater/index.js';
import { assertCustomerVisible, principalOf } from '../../plugins/auth.js';
import { errorResponses } from '../schemas.js';

/** Plans (versioned, effective-dated) and customer contracts (versioned, audited). */
export const planRoutes: FastifyPluginAsyncZod<{ plans: PlansContracts }> = async (app, { plans }) => {
  app.post(
    '/v1/plans',
    {
      config: { scopes: ['admin'] },
      schema: {
        tags: ['pricing'],
        summary: 'Create a plan, or its next version when the key exists (versions are never edited)',
        body: planInput,
        response: { 201: planVersionView, ...errorResponses },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      return reply.status(201).send(await plans.createPlanVersion(principal.tenantId, request.body, principal.keyId));
    },
  );

  app.get(
    '/v1/plans',
    {
      config: { scopes: ['admin'] },
      schema: { tags: ['pricing'], summary: 'The newest version of every plan', response: { 200: z.object({ data: z.array(planVersionView) }), ...errorResponses } },
    },
    async (request) => ({ data: await plans.listPlans(principalOf(request).tenantId) }),
  );

  app.get(
    '/v1/plans/:key',
    {
      config: { scopes: ['admin'] },
      schema: {
        tags: ['pricing'],
        summary: 'Every version of a plan, oldest first',
        params: z.object({ key: z.string() }),
        response: { 200: z.object({ data: z.array(planVersionView) }), ...errorResponses },
      },
    },
    async (request) => ({ data: await plans.planVersions(principalOf(request).tenantId, request.params.key) }),
  );

  app.put(
    '/v1/customers/:id/contract',
    {
      config: { scopes: ['admin'] },
      schema: {
        tags: ['pricing'],
        summary: "Set a customer's contract; every change is a new version with who made it and why",
        params: z.object({ id: customerId }),
        body: contractInput,
        response: { 200: contractVersionView, ...errorResponses },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      return plans.putContract(principal.tenantId, request.params.id, request.body, principal.keyId);
    },
  );

  app.get(
    '/v1/customers/:id/contract',
    {
      config: { scopes: ['admin', 'read'] },
      schema: { tags: ['pricing'], summary: "The customer's current contract", params: z.object({ id: customerId }), response: { 200: contractVersionView, ...errorResponses } },
    },
    async (request) => {
      const principal = principalOf(request);
      assertCustomerVisible(principal, request.params.id);
      return plans.currentContract(principal.tenantId, request.params.id);
    },
  );

  app.get(
    '/v1/customers/:id/contract/history',
    {
      config: { scopes: ['admin', 'read'] },
      schema: {
        tags: ['pricing'],
        summary: "Every version of the customer's contract, oldest first",
        params: z.object({ id: customerId }),
        response: { 200: z.object({ data: z.array(contractVersionView) }), ...errorResponses },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      assertCustomerVisible(principal, request.params.id);
      return { data: await plans.contractHistory(principal.tenantId, request.params.id) };
    },
  );
};
