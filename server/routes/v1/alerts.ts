import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { customerId, type Principal } from '../../../catalog/index.js';
import {
  alertRuleInput,
  alertRulePatch,
  alertRuleVersionView,
  alertRuleView,
  endpointView,
  webhookEndpointInput,
  webhookEndpointView,
  type AlertActions,
  type AlertRules,
  type AlertView,
  type WebhookEndpoints,
} from '../../../alerts/index.js';
import { ForbiddenError, InvalidRequestError } from '../../../platform/errors.js';
import { limitsFor } from '../../../platform/limits.js';
import { parseRfc3339 } from '../../../platform/time.js';
import { assertCustomerVisible, principalOf } from '../../plugins/auth.js';
import type { QueryLimits } from '../heavy.js';
import { decodeCursor, encodeCursor, nextCursor, pageQuery, pageSize, paginate } from '../pagination.js';
import { errorResponses, limitErrorResponses } from '../schemas.js';

const ruleId = z.string().regex(/^rule_[0-9a-f]{16}$/, 'a rule id such as rule_0123456789abcdef');
const instant = z.string().refine((text) => parseRfc3339(text) !== undefined, 'an RFC 3339 date-time with an offset');

const STORE_MAX_TIME = Date.parse('2299-12-31T00:00:00Z');

const deliveryView = z.object({
  id: z.string(),
  messageId: z.string(),
  messageType: z.enum(['alert.fired', 'alert.resolved']),
  channel: z.enum(['email', 'webhook']),
  target: z.string().optional().describe('The endpoint id or email addresses; not shown to a customer-bound read key.'),
  status: z.enum(['pending', 'succeeded', 'failed', 'cancelled']),
  attempts: z.number(),
  nextAttemptAt: z.string(),
  lastError: z.string().optional().describe('Why the last attempt failed; not shown to a customer-bound read key.'),
  createdAt: z.string(),
  updatedAt: z.string(),
});

const alertView = z.object({
  id: z.string(),
  ruleId: z.string(),
  customerId: z.string(),
  kind: z.string(),
  state: z.enum(['firing', 'resolved', 'acknowledged']),
  details: z.record(z.string(), z.unknown()),
  createdAt: z.string(),
  resolvedAt: z.string().optional(),
  resolution: z.string().optional(),
  acknowledgedAt: z.string().optional(),
  acknowledgedBy: z.string().optional(),
  deliveries: z.array(deliveryView),
});

/**
 * What a caller may see of an alert. A key bound to one customer (a portal) sees that deliveries
 * were made, not where to (the tenant's endpoint ids and addresses) nor why they failed (which may
 * describe the tenant's own systems).
 */
function visibleTo(principal: Principal, alert: AlertView): z.infer<typeof alertView> {
  if (principal.customerId === undefined) return alert;
  return { ...alert, deliveries: alert.deliveries.map(({ target: _target, lastError: _lastError, ...delivery }) => delivery) };
}

/** Alert rules, webhook endpoints and the alerts themselves. */
export const alertRoutes: FastifyPluginAsyncZod<{
  rules: AlertRules;
  endpoints: WebhookEndpoints;
  alerts: AlertActions;
  limits: QueryLimits;
}> = async (app, { rules, endpoints, alerts, limits }) => {
  app.post(
    '/v1/alert-rules',
    {
      config: { scopes: ['admin'] },
      schema: {
        tags: ['alerts'],
        summary: 'Create an alert rule: spend_threshold, usage_threshold, budget, forecast or spike',
        body: alertRuleInput,
        response: { 201: alertRuleView, ...errorResponses },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      return reply.status(201).send(await rules.create(principal.tenantId, request.body, principal.keyId));
    },
  );

  app.get(
    '/v1/alert-rules',
    {
      config: { scopes: ['admin'] },
      schema: {
        tags: ['alerts'],
        summary: "The tenant's alert rules by id, a page at a time; with customerId, the rules that apply to that customer",
        querystring: pageQuery.extend({ customerId: customerId.optional() }),
        response: { 200: z.object({ data: z.array(alertRuleView), next: nextCursor }), ...limitErrorResponses },
      },
    },
    async (request) => {
      const { tenantId } = principalOf(request);
      const size = pageSize(request.query.limit, limitsFor(limits.config, tenantId).maxRows);
      const all = await rules.list(tenantId);
      const wanted = request.query.customerId;
      const matching = wanted === undefined ? all : all.filter((rule) => rule.customerId === undefined || rule.customerId === wanted);
      return paginate(matching, (rule) => rule.id, size, request.query.cursor);
    },
  );

  app.get(
    '/v1/alert-rules/:id',
    {
      config: { scopes: ['admin'] },
      schema: { tags: ['alerts'], summary: 'Read an alert rule', params: z.object({ id: ruleId }), response: { 200: alertRuleView, ...errorResponses } },
    },
    async (request) => rules.get(principalOf(request).tenantId, request.params.id),
  );

  app.patch(
    '/v1/alert-rules/:id',
    {
      config: { scopes: ['admin'] },
      schema: {
        tags: ['alerts'],
        summary: 'Change an alert rule: the given fields replace the current ones (null removes an optional field); a new version is recorded',
        params: z.object({ id: ruleId }),
        body: alertRulePatch,
        response: { 200: alertRuleView, ...errorResponses },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      return rules.update(principal.tenantId, request.params.id, request.body, principal.keyId);
    },
  );

  app.delete(
    '/v1/alert-rules/:id',
    {
      config: { scopes: ['admin'] },
      schema: {
        tags: ['alerts'],
        summary: 'Delete an alert rule (its history stays readable)',
        params: z.object({ id: ruleId }),
        querystring: z.object({ reason: z.string().max(1000).optional() }),
        response: { 204: z.null(), ...errorResponses },
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      await rules.remove(principal.tenantId, request.params.id, principal.keyId, request.query.reason ?? '');
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/v1/alert-rules/:id/history',
    {
      config: { scopes: ['admin'] },
      schema: {
        tags: ['alerts'],
        summary: 'Every version of an alert rule: what changed, who changed it and why',
        params: z.object({ id: ruleId }),
        response: { 200: z.object({ data: z.array(alertRuleVersionView) }), ...errorResponses },
      },
    },
    async (request) => ({ data: await rules.history(principalOf(request).tenantId, request.params.id) }),
  );

  app.post(
    '/v1/webhook-endpoints',
    {
      config: { scopes: ['admin'] },
      schema: {
        tags: ['alerts'],
        summary: 'Register a webhook endpoint; the answer carries its signing secret, shown once',
        body: webhookEndpointInput,
        response: {
          201: webhookEndpointView.extend({ secret: z.string().describe('whsec_-prefixed base64 key for verifying signatures. Shown once.') }),
          ...errorResponses,
        },
      },
    },
    async (request, reply) => reply.status(201).send(await endpoints.create(principalOf(request).tenantId, request.body)),
  );

  app.get(
    '/v1/webhook-endpoints',
    {
      config: { scopes: ['admin'] },
      schema: {
        tags: ['alerts'],
        summary: 'Webhook endpoints by id, a page at a time, with whether each is disabled and why',
        querystring: pageQuery,
        response: { 200: z.object({ data: z.array(webhookEndpointView), next: nextCursor }), ...limitErrorResponses },
      },
    },
    async (request) => {
      const { tenantId } = principalOf(request);
      const size = pageSize(request.query.limit, limitsFor(limits.config, tenantId).maxRows);
      const page = paginate(await endpoints.list(tenantId), (endpoint) => endpoint.id, size, request.query.cursor);
      return { data: page.data.map(endpointView), next: page.next };
    },
  );

  app.patch(
    '/v1/webhook-endpoints/:id',
    {
      config: { scopes: ['admin'] },
      schema: {
        tags: ['alerts'],
        summary: 'Enable or disable a webhook endpoint (e.g. re-enable one disabled after failing deliveries)',
        params: z.object({ id: z.string() }),
        body: z.object({ disabled: z.boolean() }),
        response: { 200: webhookEndpointView, ...errorResponses },
      },
    },
    async (request) =>
      endpointView(await endpoints.setDisabled(principalOf(request).tenantId, request.params.id, request.body.disabled, 'disabled by hand')),
  );

  app.delete(
    '/v1/webhook-endpoints/:id',
    {
      config: { scopes: ['admin'] },
      schema: { tags: ['alerts'], summary: 'Remove a webhook endpoint and erase its secret', params: z.object({ id: z.string() }), response: { 204: z.null(), ...errorResponses } },
    },
    async (request, reply) => {
      await endpoints.remove(principalOf(request).tenantId, request.params.id);
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/v1/alerts',
    {
      config: { scopes: ['admin', 'read'] },
      schema: {
        tags: ['alerts'],
        summary: 'Alert events with their deliveries, newest first',
        querystring: z.object({
          customerId: customerId.optional(),
          state: z.enum(['firing', 'resolved', 'acknowledged']).optional(),
          from: instant.optional(),
          to: instant.optional(),
          limit: z.coerce.number().int().min(1).max(1000).default(100),
          cursor: pageQuery.shape.cursor,
        }),
        response: { 200: z.object({ data: z.array(alertView), next: nextCursor }), ...limitErrorResponses },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const query = request.query;
      pageSize(query.limit, limitsFor(limits.config, principal.tenantId).maxRows);
      const customer = principal.customerId ?? query.customerId;
      if (principal.customerId !== undefined && query.customerId !== undefined) assertCustomerVisible(principal, query.customerId);
      // Clamped to what the store's DateTime64 holds; a filter wider than that selects the same rows.
      const clamp = (date: Date) => new Date(Math.min(Math.max(date.getTime(), 0), STORE_MAX_TIME));
      const from = clamp(query.from ? (parseRfc3339(query.from) as Date) : new Date(0));
      const to = clamp(query.to ? (parseRfc3339(query.to) as Date) : new Date(STORE_MAX_TIME));
      if (from.getTime() >= to.getTime()) throw new InvalidRequestError('from must be before to', 'from');
      const after = query.cursor === undefined ? undefined : alertCursor(query.cursor);
      // One more than a page tells whether another page follows.
      const list = await alerts.list(principal.tenantId, {
        ...(customer !== undefined ? { customerId: customer } : {}),
        from,
        to,
        limit: query.limit + 1,
        ...(query.state ? { state: query.state } : {}),
        ...(after ? { after } : {}),
      });
      const page = list.slice(0, query.limit);
      const last = page.at(-1);
      const next = list.length > query.limit && last ? encodeCursor(JSON.stringify([last.createdAt, last.id])) : null;
      return { data: page.map((alert) => visibleTo(principal, alert)), next };
    },
  );

  app.post(
    '/v1/alerts/:id/ack',
    {
      config: { scopes: ['admin', 'read'] },
      schema: {
        tags: ['alerts'],
        summary: 'Acknowledge a firing alert: its pending notifications are cancelled and its resolution is not announced',
        params: z.object({ id: z.string() }),
        response: { 200: alertView, ...errorResponses },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const alert = await alerts.get(principal.tenantId, request.params.id);
      if (principal.customerId !== undefined && principal.customerId !== alert.customerId) throw new ForbiddenError('this key reads another customer');
      return visibleTo(principal, await alerts.acknowledge(principal.tenantId, request.params.id, principal.keyId));
    },
  );
};

/** An alerts cursor: the creation time and id of the last alert of the previous page. */
function alertCursor(cursor: string): { createdAt: Date; alertId: string } {
  const refused = () => new InvalidRequestError('cursor is not a cursor this API gave out (use the next value of the previous page)', 'querystring.cursor');
  let parsed: unknown;
  try {
    parsed = JSON.parse(decodeCursor(cursor));
  } catch {
    throw refused();
  }
  const key = z.tuple([z.iso.datetime(), z.string().min(1)]).safeParse(parsed);
  if (!key.success) throw refused();
  return { createdAt: new Date(key.data[0]), alertId: key.data[1] };
}
