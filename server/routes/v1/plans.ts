import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { customerId } from '../../../catalog/index.js';
import {
  chargesView,
  contractInput,
  contractVersionView,
  planInput,
  planVersionView,
  ratedSnapshotView,
  roundToMinorUnit,
  unpricedView,
  type ChargesService,
  type PlansContracts,
} from '../../../rater/index.js';
import { limitsFor } from '../../../platform/limits.js';
import { sumOfTexts } from '../../../platform/money.js';
import { assertCustomerVisible, principalOf } from '../../plugins/auth.js';
import { heavyRead, type QueryLimits } from '../heavy.js';
import { nextCursor, pageQuery, pageSize, paginate } from '../pagination.js';
import { errorResponses, limitErrorResponses, queryErrorResponses } from '../schemas.js';

/** Plans (versioned, effective-dated) and customer contracts (versioned, audited). */
export const planRoutes: FastifyPluginAsyncZod<{ plans: PlansContracts; charges: ChargesService; limits: QueryLimits }> = async (
  app,
  { plans, charges, limits },
) => {
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
      schema: {
        tags: ['pricing'],
        summary: 'The newest version of every plan, by key, a page at a time',
        querystring: pageQuery,
        response: { 200: z.object({ data: z.array(planVersionView), next: nextCursor }), ...limitErrorResponses },
      },
    },
    async (request) => {
      const { tenantId } = principalOf(request);
      const size = pageSize(request.query.limit, limitsFor(limits.config, tenantId).maxRows);
      return paginate(await plans.listPlans(tenantId), (plan) => plan.key, size, request.query.cursor);
    },
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

  const periodQuery = z.object({
    period: z
      .union([z.literal('current'), z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'current or a date YYYY-MM-DD')])
      .default('current'),
  });
  const money = z.string().describe('decimal string');

  app.get(
    '/v1/customers/:id/charges',
    {
      config: { scopes: ['admin', 'read'] },
      schema: {
        tags: ['pricing'],
        summary: "The period's line items priced from usage: quantity, price versions, tiers, discount, tax, amounts",
        params: z.object({ id: customerId }),
        querystring: periodQuery,
        response: { 200: chargesView, ...queryErrorResponses },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      assertCustomerVisible(principal, request.params.id);
      return heavyRead(limits, principal.tenantId, () => charges.forCustomer(principal.tenantId, request.params.id, request.query.period));
    },
  );

  app.get(
    '/v1/customers/:id/charges/history',
    {
      config: { scopes: ['admin', 'read'] },
      schema: {
        tags: ['pricing'],
        summary: 'The rated snapshots the rater stored for this customer, newest first (at most 100)',
        params: z.object({ id: customerId }),
        response: {
          200: z.object({
            data: z.array(ratedSnapshotView),
          }),
          ...errorResponses,
        },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      assertCustomerVisible(principal, request.params.id);
      return { data: await charges.history(principal.tenantId, request.params.id) };
    },
  );

  app.get(
    '/v1/customers/:id/invoice-preview',
    {
      config: { scopes: ['admin', 'read'] },
      schema: {
        tags: ['pricing'],
        summary: 'The current charges shaped as an invoice',
        params: z.object({ id: customerId }),
        querystring: periodQuery,
        response: {
          200: z.object({
            customerId: z.string(),
            periodStart: z.string(),
            periodEnd: z.string(),
            currency: z.string(),
            lines: z.array(z.object({ description: z.string(), quantity: money, amount: money, tax: money })),
            subtotal: money,
            tax: money,
            total: money,
            unpriced: unpricedView,
          }),
          ...queryErrorResponses,
        },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      assertCustomerVisible(principal, request.params.id);
      const statement = await heavyRead(limits, principal.tenantId, () =>
        charges.forCustomer(principal.tenantId, request.params.id, request.query.period),
      );
      return {
        customerId: statement.customerId,
        periodStart: statement.periodStart,
        periodEnd: statement.periodEnd,
        currency: statement.currency,
        lines: statement.lines.map((line) => ({
          description: line.category ? `${line.category}: ${line.charge}` : line.charge,
          quantity: line.quantity,
          amount: line.amount,
          tax: buildTaxSum(line.taxes.map((tax) => tax.amount), statement.currency),
        })),
        subtotal: statement.subtotal,
        tax: statement.tax,
        total: statement.total,
        unpriced: statement.unpriced,
      };
    },
  );
};

function buildTaxSum(amounts: readonly string[], currency: string): string {
  return roundToMinorUnit(sumOfTexts(amounts, 'taxes'), currency);
}
