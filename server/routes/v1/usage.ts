import { z } from 'zod';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import {
  queryMeterTotals,
  queryMeterUsage,
  WINDOW_SIZES,
} from '../../../aggregator/index.js';
import {
  selectedBillingPeriod,
  customerId,
  isValidTimeZone,
  type Catalog,
} from '../../../catalog/index.js';
import { ForbiddenError, InvalidRequestError } from '../../../platform/errors.js';
import type { Store } from '../../../platform/store.js';
import { parseRfc3339 } from '../../../platform/time.js';
import { assertCustomerVisible, principalOf } from '../../plugins/auth.js';
import { heavyRead, tenantLimits, type QueryLimits } from '../heavy.js';
import { queryErrorResponses } from '../schemas.js';

const instant = z.string().refine((text) => parseRfc3339(text) !== undefined, 'an RFC 3339 date-time such as 2026-11-01T00:00:00Z');
const oneOrMany = z.union([z.string(), z.array(z.string())]).transform((value) => (Array.isArray(value) ? value : [value]));

const meterQueryParams = z.object({
  from: instant.optional(),
  to: instant.optional(),
  customerId: customerId.optional(),
  subject: z.string().min(1).optional(),
  windowSize: z.enum(WINDOW_SIZES).optional(),
  windowTimeZone: z.string().refine(isValidTimeZone, 'an IANA time zone').default('UTC'),
  groupBy: oneOrMany.optional(),
});

const usageRow = z.object({
  windowStart: z.string(),
  windowEnd: z.string(),
  subject: z.string().optional(),
  customerId: z.string().optional(),
  groupBy: z.record(z.string(), z.string().nullable()),
  value: z.string().describe('decimal string'),
});

const customerUsage = z.object({
  customerId: z.string(),
  periodStart: z.string(),
  periodEnd: z.string(),
  timezone: z.string(),
  meters: z.array(
    z.object({
      key: z.string(),
      aggregation: z.string(),
      value: z.string().nullable().describe('decimal string; null for MAX/MIN/LATEST/AVG with no events'),
      groupBy: z.array(z.object({ group: z.record(z.string(), z.string().nullable()), value: z.string() })).optional(),
    }),
  ),
});

const MINUTE = 60_000;

export interface UsageRouteOptions {
  readonly catalog: Catalog;
  readonly store: Store;
  readonly limits: QueryLimits;
  readonly backfillHorizonMs: number;
  readonly futureToleranceMs: number;
  readonly now?: () => number;
}

/** Usage reads: a meter over time, and a customer's billing period. */
export const usageRoutes: FastifyPluginAsyncZod<UsageRouteOptions> = async (app, options) => {
  const { catalog, store, limits, now = Date.now } = options;

  app.get(
    '/v1/meters/:key/query',
    {
      config: { scopes: ['admin', 'read'] },
      schema: {
        tags: ['usage'],
        summary: "A meter's usage, in windows or as totals, optionally for one customer or subject and split by dimensions",
        description:
          'from and to fall on whole minutes (half-open [from, to)). By default from is the start of the backfill horizon and to the next whole minute past the accepted future. groupBy repeats; "subject" splits by subject. A heavy query: 422 past the windows, rows or groups limit, 429 with Retry-After when every heavy-query slot is taken, 504 past the query timeout.',
        params: z.object({ key: z.string() }),
        querystring: meterQueryParams,
        response: { 200: z.object({ data: z.array(usageRow) }), ...queryErrorResponses },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const meter = await catalog.getMeter(principal.tenantId, request.params.key);
      const query = request.query;
      const boundCustomer = principal.customerId;
      if (boundCustomer !== undefined && query.customerId !== undefined && query.customerId !== boundCustomer) {
        throw new ForbiddenError('this key may only read its own customer');
      }
      const customerFilter = query.customerId ?? boundCustomer;
      let subjects: string[] | undefined;
      if (customerFilter !== undefined) {
        subjects = (await catalog.getCustomer(principal.tenantId, customerFilter)).subjects;
      }
      if (query.subject !== undefined) {
        if (subjects !== undefined && !subjects.includes(query.subject)) {
          if (boundCustomer !== undefined) throw new ForbiddenError('this key may only read its own customer');
          throw new InvalidRequestError(`subject ${query.subject} does not belong to customer ${customerFilter}`, 'subject');
        }
        subjects = [query.subject];
      }
      const dims = query.groupBy ?? [];
      const current = now();
      const to = query.to ? (parseRfc3339(query.to) as Date) : new Date(Math.ceil((current + options.futureToleranceMs + 1) / MINUTE) * MINUTE);
      const from = query.from
        ? (parseRfc3339(query.from) as Date)
        : new Date(Math.floor((current - options.backfillHorizonMs) / MINUTE) * MINUTE);
      const usageQuery = {
        tenantId: principal.tenantId,
        meter,
        from,
        to,
        ...(subjects !== undefined ? { subjects } : {}),
        ...(query.windowSize ? { windowSize: query.windowSize } : {}),
        windowTimeZone: query.windowTimeZone,
        groupBy: dims.filter((dim) => dim !== 'subject'),
        bySubject: dims.includes('subject'),
      };
      const rows = await heavyRead(limits, principal.tenantId, () =>
        queryMeterUsage(store, usageQuery, tenantLimits(limits, principal.tenantId)),
      );
      return {
        data: rows.map((row) => ({ ...row, ...(customerFilter !== undefined ? { customerId: customerFilter } : {}) })),
      };
    },
  );

  app.get(
    '/v1/customers/:id/usage',
    {
      config: { scopes: ['admin', 'read'] },
      schema: {
        tags: ['usage'],
        summary: "Every meter's total over one of the customer's billing periods",
        description:
          'period=current (default) or a local date YYYY-MM-DD: the billing period containing it, half-open, in the customer\'s time zone and anchor day.',
        params: z.object({ id: customerId }),
        querystring: z.object({
          period: z
            .union([z.literal('current'), z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'current or a date YYYY-MM-DD')])
            .default('current'),
        }),
        response: { 200: customerUsage, ...queryErrorResponses },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      assertCustomerVisible(principal, request.params.id);
      const customer = await catalog.getCustomer(principal.tenantId, request.params.id);
      const period = selectedBillingPeriod(request.query.period, new Date(now()), customer.timezone, customer.billingAnchorDay);
      const meters = await catalog.listMeters(principal.tenantId);
      const totals = await heavyRead(limits, principal.tenantId, () =>
        queryMeterTotals(store, principal.tenantId, meters, customer.subjects, period.start, period.end, tenantLimits(limits, principal.tenantId)),
      );
      return {
        customerId: customer.id,
        periodStart: period.start.toISOString(),
        periodEnd: period.end.toISOString(),
        timezone: customer.timezone,
        meters: totals,
      };
    },
  );
};
