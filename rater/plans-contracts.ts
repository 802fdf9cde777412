import { z } from 'zod';
import type { Catalog } from '../catalog/index.js';
import { InvalidRequestError, NotFoundError } from '../platform/errors.js';
import { createSerialQueue } from '../platform/serial.js';
import { defineLatestVersionsQuery, defineQuery, insertRows, type Store } from '../platform/store.js';
import { fromClickHouseTime, toClickHouseTime } from '../platform/time.js';
import {
  chargeInput,
  contractInput,
  type ContractInput,
  type ContractVersion,
  type PlanInput,
  type PlanVersion,
} from './schemas.js';

const planVersionRow = z.object({
  tenant_id: z.string(),
  plan_key: z.string(),
  version: z.number(),
  name: z.string(),
  currency: z.string(),
  charges: z.string(),
  effective_from: z.string(),
  created_at: z.string(),
  created_by: z.string(),
});

/** A contract_versions row as written (the bench seeds contracts with it too). */
export const contractVersionRow = z.object({
  tenant_id: z.string(),
  customer_id: z.string(),
  version: z.number(),
  terms: z.string(),
  created_at: z.string(),
  created_by: z.string(),
  reason: z.string(),
});

const planRow = z.object({
  plan_key: z.string(),
  version: z.coerce.number(),
  name: z.string(),
  currency: z.string(),
  charges: z.string(),
  effective_from: z.string(),
  created_at: z.string(),
});

const planVersionsQuery = defineQuery({
  name: 'rater.planVersions',
  sql: (t) => `SELECT plan_key, version, name, currency, charges, effective_from, created_at
    FROM ${t('plan_versions')} WHERE tenant_id = {tenantId:String} AND plan_key = {key:String} ORDER BY version`,
  params: z.object({ tenantId: z.string(), key: z.string() }),
  row: planRow,
});

const latestPlansQuery = defineLatestVersionsQuery({
  name: 'rater.latestPlans',
  table: 'plan_versions',
  key: ['plan_key'],
  columns: ['plan_key', 'version', 'name', 'currency', 'charges', 'effective_from', 'created_at'],
  row: planRow,
});

const contractVersionsQuery = defineQuery({
  name: 'rater.contractVersions',
  sql: (t) => `SELECT version, terms, created_at, created_by, reason
    FROM ${t('contract_versions')} WHERE tenant_id = {tenantId:String} AND customer_id = {customerId:String} ORDER BY version`,
  params: z.object({ tenantId: z.string(), customerId: z.string() }),
  row: z.object({ version: z.coerce.number(), terms: z.string(), created_at: z.string(), created_by: z.string(), reason: z.string() }),
});

const customersOnPlanQuery = defineQuery({
  name: 'rater.customersOnPlan',
  sql: (t) => `SELECT customer_id FROM (
      SELECT customer_id, argMax(terms, version) AS current FROM ${t('contract_versions')}
      WHERE tenant_id = {tenantId:String} GROUP BY customer_id
    ) WHERE JSONExtractString(current, 'plan') = {plan:String}`,
  params: z.object({ tenantId: z.string(), plan: z.string() }),
  row: z.object({ customer_id: z.string() }),
});

const allPlanVersionsQuery = defineQuery({
  name: 'rater.allPlanVersions',
  sql: (t) => `SELECT plan_key, version, name, currency, charges, effective_from, created_at
    FROM ${t('plan_versions')} WHERE tenant_id = {tenantId:String} ORDER BY plan_key, version`,
  params: z.object({ tenantId: z.string() }),
  row: planRow,
});

const currentContractsQuery = defineLatestVersionsQuery({
  name: 'rater.currentContracts',
  table: 'contract_versions',
  key: ['customer_id'],
  columns: ['customer_id', 'version', 'terms', 'created_at', 'created_by', 'reason'],
  row: z.object({
    customer_id: z.string(),
    version: z.coerce.number(),
    terms: z.string(),
    created_at: z.string(),
    created_by: z.string(),
    reason: z.string(),
  }),
});

function toPlanVersion(row: z.infer<typeof planRow>): PlanVersion {
  return {
    key: row.plan_key,
    version: row.version,
    name: row.name,
    currency: row.currency,
    charges: z.array(chargeInput).parse(JSON.parse(row.charges)),
    effectiveFrom: fromClickHouseTime(row.effective_from).toISOString(),
    createdAt: fromClickHouseTime(row.created_at).toISOString(),
  };
}

export interface PlansContractsDeps {
  readonly store: Store;
  readonly catalog: Pick<Catalog, 'listMeters' | 'getCustomer'>;
  readonly now?: () => number;
  /** Told which customers' terms changed, so their charges are rated again. */
  readonly onTermsChanged?: (tenantId: string, customerIds: readonly string[]) => void;
  /** Told at once when a plan version is stored, before its customers are known. */
  readonly onPlanVersion?: (tenantId: string) => void;
}

export type PlansContracts = ReturnType<typeof buildPlansContracts>;

/**
 * Plans and customer contracts, append-only and effective-dated. A plan's first version is in
 * force from the beginning, each later one from its effectiveFrom; a contract change is a new
 * version carrying who made it and why.
 */
export function buildPlansContracts({ store, catalog, now = Date.now, onTermsChanged, onPlanVersion }: PlansContractsDeps) {
  const serially = createSerialQueue();

  async function planVersions(tenantId: string, key: string): Promise<PlanVersion[]> {
    return (await planVersionsQuery(store, { tenantId, key })).map(toPlanVersion);
  }

  return {
    async createPlanVersion(tenantId: string, input: PlanInput, createdBy: string): Promise<PlanVersion> {
      const meters = new Set((await catalog.listMeters(tenantId)).map((meter) => meter.key));
      input.charges.forEach((charge, index) => {
        if (charge.meter !== undefined && !meters.has(charge.meter)) {
          throw new InvalidRequestError(`meter ${charge.meter} does not exist`, `charges.${index}.meter`);
        }
      });
      return serially(async () => {
        const existing = await planVersions(tenantId, input.key);
        const latest = existing.at(-1);
        const createdAt = new Date(now());
        // By default a later version takes effect at the next whole minute: usage is kept per
        // minute, and nothing already metered is re-priced. The first version's effectiveFrom is
        // only recorded: it is in force from the beginning, so no usage predates every price.
        const effectiveFrom = input.effectiveFrom ? new Date(input.effectiveFrom) : new Date(Math.ceil(createdAt.getTime() / 60_000) * 60_000);
        if (latest && latest.currency !== input.currency) {
          throw new InvalidRequestError(`plan ${input.key} is priced in ${latest.currency}; a new version cannot change the currency`, 'currency');
        }
        if (latest && latest.version > 1 && effectiveFrom.getTime() < Date.parse(latest.effectiveFrom)) {
          throw new InvalidRequestError(
            `version ${latest.version} takes effect at ${latest.effectiveFrom}; a later version cannot take effect before it`,
            'effectiveFrom',
          );
        }
        const version = (latest?.version ?? 0) + 1;
        await insertRows(store, 'plan_versions', planVersionRow, [
          {
            tenant_id: tenantId,
            plan_key: input.key,
            version,
            name: input.name,
            currency: input.currency,
            charges: JSON.stringify(input.charges),
            effective_from: toClickHouseTime(effectiveFrom),
            created_at: toClickHouseTime(createdAt),
            created_by: createdBy,
          },
        ]);
        onPlanVersion?.(tenantId);
        if (onTermsChanged) {
          const customers = await customersOnPlanQuery(store, { tenantId, plan: input.key });
          onTermsChanged(tenantId, customers.map((row) => row.customer_id));
        }
        return {
          key: input.key,
          version,
          name: input.name,
          currency: input.currency,
          charges: input.charges,
          effectiveFrom: effectiveFrom.toISOString(),
          createdAt: createdAt.toISOString(),
        };
      });
    },

    /** The newest version of every plan. */
    async listPlans(tenantId: string): Promise<PlanVersion[]> {
      return (await latestPlansQuery(store, { tenantId })).map(toPlanVersion);
    },

    async planVersions(tenantId: string, key: string): Promise<PlanVersion[]> {
      const versions = await planVersions(tenantId, key);
      if (versions.length === 0) throw new NotFoundError(`plan ${key} not found`);
      return versions;
    },

    async putContract(tenantId: string, customerId: string, terms: ContractInput, createdBy: string): Promise<ContractVersion> {
      const customer = await catalog.getCustomer(tenantId, customerId);
      const versions = await planVersions(tenantId, terms.plan);
      const plan = versions.at(-1);
      if (!plan) throw new InvalidRequestError(`plan ${terms.plan} does not exist`, 'plan');
      if (plan.currency !== customer.currency) {
        throw new InvalidRequestError(`plan ${terms.plan} is priced in ${plan.currency}; customer ${customerId} is billed in ${customer.currency}`, 'plan');
      }
      const chargeKeys = new Set(versions.flatMap((version) => version.charges.map((charge) => charge.key)));
      for (const key of Object.keys(terms.overrides)) {
        if (!chargeKeys.has(key)) throw new InvalidRequestError(`plan ${terms.plan} has no charge ${key}`, `overrides.${key}`);
      }
      terms.discounts.forEach((discount, index) => {
        if (discount.chargeKey !== undefined && !chargeKeys.has(discount.chargeKey)) {
          throw new InvalidRequestError(`plan ${terms.plan} has no charge ${discount.chargeKey}`, `discounts.${index}.chargeKey`);
        }
      });
      return serially(async () => {
        const history = await contractVersionsQuery(store, { tenantId, customerId });
        const version = (history.at(-1)?.version ?? 0) + 1;
        const createdAt = new Date(now());
        await insertRows(store, 'contract_versions', contractVersionRow, [
          {
            tenant_id: tenantId,
            customer_id: customerId,
            version,
            terms: JSON.stringify(terms),
            created_at: toClickHouseTime(createdAt),
            created_by: createdBy,
            reason: terms.reason,
          },
        ]);
        onTermsChanged?.(tenantId, [customerId]);
        return { customerId, version, terms, createdAt: createdAt.toISOString(), createdBy, reason: terms.reason };
      });
    },

    async contractHistory(tenantId: string, customerId: string): Promise<ContractVersion[]> {
      await catalog.getCustomer(tenantId, customerId);
      return (await contractVersionsQuery(store, { tenantId, customerId })).map((row) => ({
        customerId,
        version: row.version,
        terms: contractInput.parse(JSON.parse(row.terms)),
        createdAt: fromClickHouseTime(row.created_at).toISOString(),
        createdBy: row.created_by,
        reason: row.reason,
      }));
    },

    /** Every plan's versions, oldest first, by plan key. */
    async allPlanVersions(tenantId: string): Promise<Map<string, PlanVersion[]>> {
      const byPlan = new Map<string, PlanVersion[]>();
      for (const row of await allPlanVersionsQuery(store, { tenantId })) {
        const list = byPlan.get(row.plan_key) ?? [];
        list.push(toPlanVersion(row));
        byPlan.set(row.plan_key, list);
      }
      return byPlan;
    },

    /** Every customer's current contract, by customer id. */
    async currentContracts(tenantId: string): Promise<Map<string, ContractVersion>> {
      return new Map(
        (await currentContractsQuery(store, { tenantId })).map((row) => [
          row.customer_id,
          {
            customerId: row.customer_id,
            version: row.version,
            terms: contractInput.parse(JSON.parse(row.terms)),
            createdAt: fromClickHouseTime(row.created_at).toISOString(),
            createdBy: row.created_by,
            reason: row.reason,
          },
        ]),
      );
    },

    async currentContract(tenantId: string, customerId: string): Promise<ContractVersion> {
      const history = await this.contractHistory(tenantId, customerId);
      const current = history.at(-1);
      if (!current) throw new NotFoundError(`customer ${customerId} has no contract`);
      return current;
    },
  };
}

