import { z } from 'zod';
import { customerId } from '../catalog/index.js';
import { durationMs } from '../platform/time.js';
import { budgetThresholds } from './detectors/budget.js';
import { crossedThresholds } from './detectors/thresholds.js';

export const ALERT_KINDS = ['spend_threshold', 'usage_threshold', 'budget', 'forecast', 'spike'] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];
export const CHANNELS = ['email', 'webhook'] as const;
export type Channel = (typeof CHANNELS)[number];

const amount = z
  .string()
  .regex(/^\d{1,29}(\.\d{1,9})?$/, 'a non-negative decimal string such as "500" or "12.50" (at most 9 decimals)');
const positiveAmount = amount.refine((text) => /[1-9]/.test(text), 'greater than 0');
const key = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'a charge or meter key');

/** Durations in rules: whole minutes, hours or days, e.g. "30m", "1h", "7d". */
export const ruleDuration = z
  .string()
  .regex(/^[1-9]\d{0,4}(m|h|d)$/, 'a duration such as "30m", "1h" or "7d"')
  .refine((text) => durationMs(text) <= 31 * 86_400_000, 'at most 31 days');

const common = {
  customerId: customerId.optional().describe('Absent: every customer of the tenant. A customer rule replaces the tenant default of its kind.'),
  channels: z
    .array(z.enum(CHANNELS))
    .min(1)
    .refine((channels) => new Set(channels).size === channels.length, 'each channel once'),
  emailTo: z
    .array(z.enum(['customer', 'operations']))
    .min(1)
    .default(['customer', 'operations'])
    .describe("Email recipients: the customer's billing contacts and/or the tenant's operations address."),
  name: z.string().max(200).optional(),
  reason: z.string().max(1000).optional().describe('Why this change was made, kept in the history (not part of the rule).'),
};

/** The thresholds of a rule must form a series the detector accepts; this asks it. */
function checkSeries(rule: { thresholds: string[]; recurringStep?: string | undefined }, ctx: z.RefinementCtx): void {
  if (rule.thresholds.length === 0 && rule.recurringStep === undefined) {
    ctx.addIssue({ code: 'custom', path: ['thresholds'], message: 'give at least one threshold or a recurringStep' });
    return;
  }
  try {
    crossedThresholds({ current: '0', thresholds: rule.thresholds, recurringStep: rule.recurringStep });
  } catch (error) {
    ctx.addIssue({ code: 'custom', path: ['thresholds'], message: (error as Error).message });
  }
}

const spendThreshold = z.object({
  kind: z.literal('spend_threshold'),
  ...common,
  chargeKey: key.optional(),
  meter: key.optional(),
  thresholds: z.array(amount).max(100).default([]),
  recurringStep: positiveAmount.optional(),
});

const usageThreshold = z.object({
  kind: z.literal('usage_threshold'),
  ...common,
  meter: key,
  thresholds: z.array(amount).max(100).default([]),
  recurringStep: positiveAmount.optional(),
});

const budget = z.object({
  kind: z.literal('budget'),
  ...common,
  chargeKey: key.optional(),
  meter: key.optional(),
  budget: positiveAmount,
  percentages: z.array(z.number().positive().max(1000)).min(1).max(20).default([50, 80, 100]),
});

const forecast = z.object({
  kind: z.literal('forecast'),
  ...common,
  budget: positiveAmount,
  lookback: ruleDuration.optional().describe('Run rate over this trailing window; absent: since the period started.'),
});

const spike = z.object({
  kind: z.literal('spike'),
  ...common,
  window: ruleDuration.default('1h'),
  baselineDays: z.number().int().min(1).max(28).default(7),
  ratio: z.string().regex(/^\d{1,6}(\.\d{1,6})?$/, 'a decimal string such as "3"').default('3'),
  resolveRatio: z.string().regex(/^\d{1,6}(\.\d{1,6})?$/, 'a decimal string such as "1.5"').default('1.5'),
  minIncrease: amount,
});

export const alertRuleInput = z
  .discriminatedUnion('kind', [spendThreshold, usageThreshold, budget, forecast, spike])
  .superRefine((rule, ctx) => {
    if ((rule.kind === 'spend_threshold' || rule.kind === 'budget') && rule.chargeKey !== undefined && rule.meter !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['meter'], message: 'give chargeKey or meter, not both' });
    }
    if (rule.kind === 'spend_threshold' || rule.kind === 'usage_threshold') checkSeries(rule, ctx);
    if (rule.kind === 'budget') {
      try {
        budgetThresholds(rule.budget, rule.percentages);
      } catch (error) {
        ctx.addIssue({ code: 'custom', path: ['percentages'], message: (error as Error).message });
      }
    }
    if (rule.kind === 'spike') {
      if (Number(rule.ratio) < 1) ctx.addIssue({ code: 'custom', path: ['ratio'], message: 'at least 1' });
      if (!(Number(rule.resolveRatio) > 0) || Number(rule.resolveRatio) > Number(rule.ratio)) {
        ctx.addIssue({ code: 'custom', path: ['resolveRatio'], message: 'greater than 0 and not above ratio' });
      }
      if (durationMs(rule.window) * (rule.baselineDays + 1) > 35 * 86_400_000) {
        ctx.addIssue({ code: 'custom', path: ['baselineDays'], message: 'the baseline reaches back further than 35 days of kept usage' });
      }
    }
  });
export type AlertRuleInput = z.output<typeof alertRuleInput>;

export const alertRuleView = z.object({
  id: z.string(),
  version: z.number(),
  kind: z.enum(ALERT_KINDS),
  customerId: z.string().optional(),
  spec: z.record(z.string(), z.unknown()).describe('The rule as posted, with defaults filled in.'),
  updatedAt: z.string(),
  updatedBy: z.string(),
});
export type AlertRuleView = z.infer<typeof alertRuleView>;

export const alertRuleVersionView = alertRuleView.extend({ deleted: z.boolean(), reason: z.string() });

/** A field of a rule as a patch takes it: no default filled in, null to remove it. */
function patchField(schema: z.ZodType): z.ZodType {
  let inner = schema;
  while (inner instanceof z.ZodDefault || inner instanceof z.ZodOptional) inner = inner.unwrap() as z.ZodType;
  return inner.nullable().optional();
}

const patchShape: Record<string, z.ZodType> = {};
for (const kind of [spendThreshold, usageThreshold, budget, forecast, spike]) {
  for (const [name, field] of Object.entries(kind.shape)) {
    if (name !== 'kind') patchShape[name] ??= patchField(field);
  }
}

/**
 * PATCH /v1/alert-rules/{id}: any field of any kind (null removes an optional one). Fields are
 * checked here for their type, the merged rule as a whole by alertRuleInput; an unknown field is
 * refused rather than ignored.
 */
export const alertRulePatch = z
  .object({ kind: z.enum(ALERT_KINDS).optional().describe('Must be the kind the rule has: a kind never changes'), ...patchShape })
  .strict();
