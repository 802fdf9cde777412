import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Catalog } from '../catalog/index.js';
import { InvalidRequestError, NotFoundError } from '../platform/errors.js';
import { createSerialQueue } from '../platform/serial.js';
import { defineLatestVersionsQuery, defineQuery, insertRows, type Store } from '../platform/store.js';
import { fromClickHouseTime, toClickHouseTime } from '../platform/time.js';
import type { PlansContracts } from '../rater/index.js';
import { alertRuleInput, type AlertKind, type AlertRuleInput } from './rule-schema.js';

/** An alert_rules row: one version of a rule, or its deletion. */
const ruleInsertRow = z.object({
  tenant_id: z.string(),
  rule_id: z.string(),
  version: z.number(),
  customer_id: z.string(),
  kind: z.string(),
  spec: z.string(),
  deleted: z.number(),
  changed_by: z.string(),
  reason: z.string(),
  changed_at: z.string(),
});

const ruleRow = z.object({
  rule_id: z.string(),
  version: z.coerce.number(),
  customer_id: z.string(),
  kind: z.string(),
  spec: z.string(),
  deleted: z.coerce.number(),
  changed_by: z.string(),
  reason: z.string(),
  changed_at: z.string(),
});

const latestRules = defineLatestVersionsQuery({
  name: 'alerts.latestRules',
  table: 'alert_rules',
  key: ['rule_id'],
  columns: ['rule_id', 'version', 'customer_id', 'kind', 'spec', 'deleted', 'changed_by', 'reason', 'toString(changed_at) AS changed_at'],
  row: ruleRow,
});

const ruleVersions = defineQuery({
  name: 'alerts.ruleVersions',
  sql: (t) => `SELECT rule_id, version, customer_id, kind, spec, deleted, changed_by, reason, toString(changed_at) AS changed_at
    FROM ${t('alert_rules')} WHERE tenant_id = {tenantId:String} AND rule_id = {ruleId:String}
    ORDER BY version`,
  params: z.object({ tenantId: z.string(), ruleId: z.string() }),
  row: ruleRow,
});

export interface AlertRule {
  readonly id: string;
  readonly version: number;
  readonly kind: AlertKind;
  readonly customerId?: string;
  readonly spec: AlertRuleInput;
  readonly updatedAt: string;
  readonly updatedBy: string;
}

export interface AlertRuleVersion extends AlertRule {
  readonly deleted: boolean;
  readonly reason: string;
}

function toRule(row: z.infer<typeof ruleRow>): AlertRuleVersion {
  const spec = alertRuleInput.parse(JSON.parse(row.spec));
  return {
    id: row.rule_id,
    version: row.version,
    kind: spec.kind,
    ...(row.customer_id ? { customerId: row.customer_id } : {}),
    spec,
    updatedAt: fromClickHouseTime(row.changed_at).toISOString(),
    updatedBy: row.changed_by,
    deleted: row.deleted === 1,
    reason: row.reason,
  };
}

/** The rules that apply to a customer: its own, and the tenant defaults of kinds it has none of. */
export function effectiveRules(rules: readonly AlertRule[], customerId: string): AlertRule[] {
  const own = rules.filter((rule) => rule.customerId === customerId);
  const ownKinds = new Set(own.map((rule) => rule.kind));
  return [...own, ...rules.filter((rule) => rule.customerId === undefined && !ownKinds.has(rule.kind))];
}

export interface AlertRulesDeps {
  readonly store: Store;
  readonly catalog: Pick<Catalog, 'getCustomer' | 'getMeter'>;
  /** To refuse a rule on a charge no plan has: it would measure nothing forever. */
  readonly plans: Pick<PlansContracts, 'allPlanVersions'>;
  readonly now?: () => number;
}

/** Alert rules: append-only versions with who changed what and why. */
export function buildAlertRules({ store, catalog, plans, now = Date.now }: AlertRulesDeps) {
  const serially = createSerialQueue();

  async function current(tenantId: string, ruleId: string): Promise<AlertRuleVersion> {
    const versions = await ruleVersions(store, { tenantId, ruleId });
    const last = versions.at(-1);
    if (!last || last.deleted === 1) throw new NotFoundError(`alert rule ${ruleId} not found`);
    return toRule(last);
  }

  async function checkReferences(tenantId: string, spec: AlertRuleInput): Promise<void> {
    if (spec.customerId !== undefined) await catalog.getCustomer(tenantId, spec.customerId);
    if ('meter' in spec && spec.meter !== undefined) {
      try {
        await catalog.getMeter(tenantId, spec.meter);
      } catch (error) {
        if (error instanceof NotFoundError) throw new InvalidRequestError(`meter ${spec.meter} does not exist`, 'meter');
        throw error;
      }
    }
    if ('chargeKey' in spec && spec.chargeKey !== undefined) {
      const chargeKey = spec.chargeKey;
      const versions = [...(await plans.allPlanVersions(tenantId)).values()].flat();
      if (!versions.some((version) => version.charges.some((charge) => charge.key === chargeKey))) {
        throw new InvalidRequestError(`no plan has a charge ${chargeKey}`, 'chargeKey');
      }
    }
  }

  async function append(tenantId: string, ruleId: string, version: number, withReason: AlertRuleInput, deleted: boolean, by: string, reason: string) {
    const { reason: _reason, ...spec } = withReason;
    const at = new Date(now());
    await insertRows(store, 'alert_rules', ruleInsertRow, [
      {
        tenant_id: tenantId,
        rule_id: ruleId,
        version,
        customer_id: spec.customerId ?? '',
        kind: spec.kind,
        spec: JSON.stringify(spec),
        deleted: deleted ? 1 : 0,
        changed_by: by,
        reason,
        changed_at: toClickHouseTime(at),
      },
    ]);
    return { id: ruleId, version, kind: spec.kind, ...(spec.customerId ? { customerId: spec.customerId } : {}), spec, updatedAt: at.toISOString(), updatedBy: by };
  }

  return {
    async create(tenantId: string, spec: AlertRuleInput, by: string): Promise<AlertRule> {
      await checkReferences(tenantId, spec);
      return append(tenantId, `rule_${randomBytes(8).toString('hex')}`, 1, spec, false, by, spec.reason ?? '');
    },

    /** Every live rule of the tenant. */
    async list(tenantId: string): Promise<AlertRule[]> {
      return (await latestRules(store, { tenantId })).filter((row) => row.deleted === 0).map(toRule);
    },

    get: current,

    /** Merges `patch` onto the rule and validates the result as a whole; the kind never changes. */
    async update(tenantId: string, ruleId: string, patch: Record<string, unknown>, by: string): Promise<AlertRule> {
      return serially(async () => {
        const rule = await current(tenantId, ruleId);
        if (patch.kind !== undefined && patch.kind !== rule.kind) {
          throw new InvalidRequestError(`the kind of a rule cannot change (it is ${rule.kind}); create a new rule`, 'kind');
        }
        if (patch.customerId !== undefined && patch.customerId !== (rule.customerId ?? null)) {
          throw new InvalidRequestError('the customer of a rule cannot change; create a new rule', 'customerId');
        }
        // null removes an optional field.
        const merged = Object.fromEntries(Object.entries({ ...rule.spec, ...patch, kind: rule.kind }).filter(([, value]) => value !== null));
        const parsed = alertRuleInput.safeParse(merged);
        if (!parsed.success) {
          const issue = parsed.error.issues[0];
          throw new InvalidRequestError(issue?.message ?? 'invalid rule', issue?.path.join('.') ?? '');
        }
        await checkReferences(tenantId, parsed.data);
        return append(tenantId, ruleId, rule.version + 1, parsed.data, false, by, parsed.data.reason ?? '');
      });
    },

    async remove(tenantId: string, ruleId: string, by: string, reason = ''): Promise<void> {
      await serially(async () => {
        const rule = await current(tenantId, ruleId);
        await append(tenantId, ruleId, rule.version + 1, rule.spec, true, by, reason);
      });
    },

    async history(tenantId: string, ruleId: string): Promise<AlertRuleVersion[]> {
      const versions = (await ruleVersions(store, { tenantId, ruleId })).map(toRule);
      if (versions.length === 0) throw new NotFoundError(`alert rule ${ruleId} not found`);
      return versions;
    },
  };
}

export type AlertRules = ReturnType<typeof buildAlertRules>;
