import { createHash } from 'node:crypto';
import { z } from 'zod';
import { defineQuery, insertRows, type Store } from '../platform/store.js';
import { fromClickHouseTime, rowVersionClock, toClickHouseTime } from '../platform/time.js';
import type { Driver } from './detectors/spike.js';
import type { AlertKind, Channel } from './rule-schema.js';

/** An alerts row: one version of an alert. */
const alertInsertRow = z.object({
  tenant_id: z.string(),
  alert_id: z.string(),
  rule_id: z.string(),
  customer_id: z.string(),
  kind: z.string(),
  status: z.string(),
  period_start: z.string(),
  period_end: z.string(),
  details: z.string(),
  created_at: z.string(),
  resolved_at: z.string().nullable(),
  acknowledged_at: z.string().nullable(),
  acknowledged_by: z.string(),
  version: z.number(),
});

/** An alert_deliveries row: one version of a delivery. */
const deliveryInsertRow = z.object({
  tenant_id: z.string(),
  delivery_id: z.string(),
  alert_id: z.string(),
  message_type: z.string(),
  channel: z.string(),
  target: z.string(),
  status: z.string(),
  attempts: z.number(),
  next_attempt_at: z.string(),
  last_error: z.string(),
  created_at: z.string(),
  updated_at: z.string(),
  version: z.number(),
});

/** An alert_state row: a rule's stored state for one customer, as JSON. */
const stateInsertRow = z.object({
  tenant_id: z.string(),
  rule_id: z.string(),
  customer_id: z.string(),
  state: z.string(),
  evaluated_at: z.string(),
  version: z.number(),
});

/** What an alert reports; the figures the notification shows. Amounts are decimal strings. */
export interface AlertDetails {
  readonly ruleId: string;
  readonly kind: AlertKind;
  readonly customerId: string;
  readonly customerName: string;
  readonly period: { readonly start: string; readonly end: string };
  readonly currency: string;
  /** The measured figure: spend, usage quantity, projected spend or window cost. */
  readonly value: string;
  /** What was measured, e.g. "subtotal", "charge storage", "meter api_calls". */
  readonly measure: string;
  readonly threshold?: string;
  readonly budget?: string;
  readonly percentage?: string;
  readonly spent?: string;
  readonly forecast?: string;
  readonly baseline?: string;
  readonly ratio?: string | null;
  readonly window?: { readonly start: string; readonly end: string };
  readonly drivers?: { readonly charges: Driver[]; readonly dimensions: Driver[] };
  readonly chargesUrl: string;
}

export type AlertStatus = 'firing' | 'resolved';

export interface AlertRecord {
  readonly tenantId: string;
  readonly id: string;
  readonly ruleId: string;
  readonly customerId: string;
  readonly kind: AlertKind;
  readonly status: AlertStatus;
  readonly details: AlertDetails;
  readonly createdAt: string;
  readonly resolvedAt?: string;
  readonly resolution?: string;
  readonly acknowledgedAt?: string;
  readonly acknowledgedBy?: string;
}

export const MESSAGE_TYPES = ['alert.fired', 'alert.resolved'] as const;
export type MessageType = (typeof MESSAGE_TYPES)[number];
export const DELIVERY_STATUSES = ['pending', 'succeeded', 'failed', 'cancelled'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

export interface DeliveryRecord {
  readonly tenantId: string;
  /** Unique per alert, message type and target. */
  readonly id: string;
  /** The message id (Standard Webhooks `webhook-id`): the same on every attempt and every target. */
  readonly messageId: string;
  readonly alertId: string;
  readonly messageType: MessageType;
  readonly channel: Channel;
  /** A webhook endpoint id, or the email recipients joined by ", ". */
  readonly target: string;
  readonly status: DeliveryStatus;
  readonly attempts: number;
  readonly nextAttemptAt: string;
  readonly lastError?: string;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface AlertFilter {
  readonly customerId?: string;
  readonly state?: 'firing' | 'acknowledged' | 'resolved';
  readonly from: Date;
  readonly to: Date;
  readonly limit: number;
  /** Keyset paging: only alerts after this one in the list's order (newest first, then id). */
  readonly after?: { readonly createdAt: Date; readonly alertId: string };
}

/** Ids derived from what they name, so writing the same decision twice lands on the same rows. */
export function derivedId(prefix: string, ...parts: readonly string[]): string {
  return `${prefix}_${createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 24)}`;
}

export function messageIdOf(alertId: string, type: MessageType): string {
  return derivedId('msg', alertId, type);
}

/** An alerts row as read back: what it was written with, but the period and the row version. */
const alertRow = alertInsertRow.omit({ period_start: true, period_end: true, version: true });
const ALERT_COLUMNS = `tenant_id, alert_id, rule_id, customer_id, kind, status, details, toString(created_at) AS created_at,
  if(isNull(resolved_at), NULL, toString(resolved_at)) AS resolved_at,
  if(isNull(acknowledged_at), NULL, toString(acknowledged_at)) AS acknowledged_at, acknowledged_by`;

const deliveryRow = z.object({
  tenant_id: z.string(),
  delivery_id: z.string(),
  alert_id: z.string(),
  message_type: z.enum(MESSAGE_TYPES),
  channel: z.enum(['email', 'webhook']),
  target: z.string(),
  status: z.enum(DELIVERY_STATUSES),
  attempts: z.coerce.number(),
  next_attempt_at: z.string(),
  last_error: z.string(),
  created_at: z.string(),
  updated_at: z.string(),
});
const DELIVERY_COLUMNS = `tenant_id, delivery_id, alert_id, message_type, channel, target, status, attempts,
  toString(next_attempt_at) AS next_attempt_at, last_error, toString(created_at) AS created_at, toString(updated_at) AS updated_at`;

const listAlertsQuery = defineQuery({
  name: 'alerts.list',
  // The filter runs on the table's own columns, before the text aliases of the outer SELECT.
  sql: (t) => `SELECT ${ALERT_COLUMNS} FROM (SELECT * FROM ${t('alerts')} FINAL
    WHERE tenant_id = {tenantId:String}
      AND ({customerId:String} = '' OR customer_id = {customerId:String})
      AND created_at >= {from:DateTime64(3, 'UTC')} AND created_at < {to:DateTime64(3, 'UTC')}
      AND multiIf({state:String} = 'firing', status = 'firing' AND isNull(acknowledged_at),
                  {state:String} = 'acknowledged', status = 'firing' AND isNotNull(acknowledged_at),
                  {state:String} = 'resolved', status = 'resolved', 1)
      AND ({afterId:String} = '' OR created_at < {afterTime:DateTime64(3, 'UTC')}
           OR (created_at = {afterTime:DateTime64(3, 'UTC')} AND alert_id > {afterId:String}))
    )
    ORDER BY created_at DESC, alert_id LIMIT {limit:UInt32}`,
  params: z.object({
    tenantId: z.string(),
    customerId: z.string(),
    state: z.string(),
    from: z.string(),
    to: z.string(),
    afterTime: z.string(),
    afterId: z.string(),
    limit: z.number().int(),
  }),
  row: alertRow,
});

const alertsByIdQuery = defineQuery({
  name: 'alerts.byId',
  sql: (t) => `SELECT ${ALERT_COLUMNS} FROM ${t('alerts')} FINAL
    WHERE tenant_id = {tenantId:String} AND alert_id IN {ids:Array(String)}`,
  params: z.object({ tenantId: z.string(), ids: z.array(z.string()) }),
  row: alertRow,
});

const deliveriesOfQuery = defineQuery({
  name: 'alerts.deliveriesOf',
  sql: (t) => `SELECT ${DELIVERY_COLUMNS} FROM ${t('alert_deliveries')} FINAL
    WHERE tenant_id = {tenantId:String} AND alert_id IN {ids:Array(String)} ORDER BY created_at, delivery_id`,
  params: z.object({ tenantId: z.string(), ids: z.array(z.string()) }),
  row: deliveryRow,
});

const dueDeliveriesQuery = defineQuery({
  name: 'alerts.dueDeliveries',
  sql: (t) => `SELECT ${DELIVERY_COLUMNS} FROM (SELECT * FROM ${t('alert_deliveries')} FINAL
      WHERE status = 'pending' AND next_attempt_at <= {now:DateTime64(3, 'UTC')})
    ORDER BY next_attempt_at LIMIT {limit:UInt32}`,
  params: z.object({ now: z.string(), limit: z.number().int() }),
  row: deliveryRow,
});

const nextDueQuery = defineQuery({
  name: 'alerts.nextDue',
  sql: (t) => `SELECT toString(min(next_attempt_at)) AS at, count() AS n FROM ${t('alert_deliveries')} FINAL WHERE status = 'pending'`,
  params: z.object({}),
  row: z.object({ at: z.string(), n: z.coerce.number() }),
});

const firingByKindQuery = defineQuery({
  name: 'alerts.firingByKind',
  sql: (t) => `SELECT kind, count() AS n FROM ${t('alerts')} FINAL WHERE status = 'firing' GROUP BY kind`,
  params: z.object({}),
  row: z.object({ kind: z.string(), n: z.coerce.number() }),
});

const statesQuery = defineQuery({
  name: 'alerts.states',
  sql: (t) => `SELECT rule_id, customer_id, state FROM ${t('alert_state')} FINAL
    WHERE tenant_id = {tenantId:String} AND customer_id IN {customerIds:Array(String)}`,
  params: z.object({ tenantId: z.string(), customerIds: z.array(z.string()) }),
  row: z.object({ rule_id: z.string(), customer_id: z.string(), state: z.string() }),
});

function toAlert(row: z.infer<typeof alertRow>): AlertRecord {
  const details = JSON.parse(row.details) as AlertDetails & { resolution?: string };
  const { resolution, ...rest } = details;
  return {
    tenantId: row.tenant_id,
    id: row.alert_id,
    ruleId: row.rule_id,
    customerId: row.customer_id,
    kind: row.kind as AlertKind,
    status: row.status as AlertStatus,
    details: rest,
    createdAt: fromClickHouseTime(row.created_at).toISOString(),
    ...(row.resolved_at !== null ? { resolvedAt: fromClickHouseTime(row.resolved_at).toISOString() } : {}),
    ...(resolution !== undefined ? { resolution } : {}),
    ...(row.acknowledged_at !== null ? { acknowledgedAt: fromClickHouseTime(row.acknowledged_at).toISOString() } : {}),
    ...(row.acknowledged_by ? { acknowledgedBy: row.acknowledged_by } : {}),
  };
}

function toDelivery(row: z.infer<typeof deliveryRow>): DeliveryRecord {
  return {
    tenantId: row.tenant_id,
    id: row.delivery_id,
    messageId: messageIdOf(row.alert_id, row.message_type),
    alertId: row.alert_id,
    messageType: row.message_type,
    channel: row.channel,
    target: row.target,
    status: row.status,
    attempts: row.attempts,
    nextAttemptAt: fromClickHouseTime(row.next_attempt_at).toISOString(),
    ...(row.last_error ? { lastError: row.last_error } : {}),
    createdAt: fromClickHouseTime(row.created_at).toISOString(),
    updatedAt: fromClickHouseTime(row.updated_at).toISOString(),
  };
}

/**
 * Alerts, their deliveries (the outbox) and the evaluation state, in the store. The first row of
 * an alert or a delivery has version 0 and every later change a larger one, so re-writing a
 * first row (a decision repeated after a crash) never hides what happened to it since.
 */
export function buildAlertStore(store: Store, now: () => number = Date.now) {
  const nextVersion = rowVersionClock(now);

  function alertRowOf(alert: AlertRecord, version: number) {
    return {
      tenant_id: alert.tenantId,
      alert_id: alert.id,
      rule_id: alert.ruleId,
      customer_id: alert.customerId,
      kind: alert.kind,
      status: alert.status,
      period_start: toClickHouseTime(new Date(alert.details.period.start)),
      period_end: toClickHouseTime(new Date(alert.details.period.end)),
      details: JSON.stringify(alert.resolution !== undefined ? { ...alert.details, resolution: alert.resolution } : alert.details),
      created_at: toClickHouseTime(new Date(alert.createdAt)),
      resolved_at: alert.resolvedAt ? toClickHouseTime(new Date(alert.resolvedAt)) : null,
      acknowledged_at: alert.acknowledgedAt ? toClickHouseTime(new Date(alert.acknowledgedAt)) : null,
      acknowledged_by: alert.acknowledgedBy ?? '',
      version,
    };
  }

  function deliveryRowOf(delivery: DeliveryRecord, version: number) {
    return {
      tenant_id: delivery.tenantId,
      delivery_id: delivery.id,
      alert_id: delivery.alertId,
      message_type: delivery.messageType,
      channel: delivery.channel,
      target: delivery.target,
      status: delivery.status,
      attempts: delivery.attempts,
      next_attempt_at: toClickHouseTime(new Date(delivery.nextAttemptAt)),
      last_error: delivery.lastError ?? '',
      created_at: toClickHouseTime(new Date(delivery.createdAt)),
      updated_at: toClickHouseTime(new Date(delivery.updatedAt)),
      version,
    };
  }

  return {
    /** New alerts and their first deliveries, in one call before anything is sent. */
    async recordNew(alerts: readonly AlertRecord[], deliveries: readonly DeliveryRecord[]): Promise<void> {
      await insertRows(store, 'alerts', alertInsertRow, alerts.map((alert) => alertRowOf(alert, 0)));
      await insertRows(store, 'alert_deliveries', deliveryInsertRow, deliveries.map((delivery) => deliveryRowOf(delivery, 0)));
    },
    /** Later changes of alerts (resolved, acknowledged) and their new deliveries. */
    async recordChanges(alerts: readonly AlertRecord[], deliveries: readonly DeliveryRecord[]): Promise<void> {
      await insertRows(store, 'alerts', alertInsertRow, alerts.map((alert) => alertRowOf(alert, nextVersion())));
      await insertRows(store, 'alert_deliveries', deliveryInsertRow, deliveries.map((delivery) => deliveryRowOf(delivery, 0)));
    },
    async updateDeliveries(deliveries: readonly DeliveryRecord[]): Promise<void> {
      await insertRows(store, 'alert_deliveries', deliveryInsertRow, deliveries.map((delivery) => deliveryRowOf(delivery, nextVersion())));
    },
    async saveStates(tenantId: string, states: ReadonlyArray<{ ruleId: string; customerId: string; state: unknown }>): Promise<void> {
      const at = toClickHouseTime(new Date(now()));
      await insertRows(
        store,
        'alert_state',
        stateInsertRow,
        states.map((s) => ({ tenant_id: tenantId, rule_id: s.ruleId, customer_id: s.customerId, state: JSON.stringify(s.state), evaluated_at: at, version: nextVersion() })),
      );
    },
    /** rule \0 customer → the stored state. */
    async loadStates(tenantId: string, customerIds: readonly string[]): Promise<Map<string, unknown>> {
      const rows = customerIds.length === 0 ? [] : await statesQuery(store, { tenantId, customerIds: [...customerIds] });
      return new Map(rows.map((row) => [`${row.rule_id}\u0000${row.customer_id}`, JSON.parse(row.state) as unknown]));
    },
    async list(tenantId: string, filter: AlertFilter): Promise<AlertRecord[]> {
      const rows = await listAlertsQuery(store, {
        tenantId,
        customerId: filter.customerId ?? '',
        state: filter.state ?? '',
        from: toClickHouseTime(filter.from),
        to: toClickHouseTime(filter.to),
        afterTime: toClickHouseTime(filter.after?.createdAt ?? filter.from),
        afterId: filter.after?.alertId ?? '',
        limit: filter.limit,
      });
      return rows.map(toAlert);
    },
    async byIds(tenantId: string, ids: readonly string[]): Promise<AlertRecord[]> {
      return ids.length === 0 ? [] : (await alertsByIdQuery(store, { tenantId, ids: [...ids] })).map(toAlert);
    },
    async deliveriesOf(tenantId: string, alertIds: readonly string[]): Promise<DeliveryRecord[]> {
      return alertIds.length === 0 ? [] : (await deliveriesOfQuery(store, { tenantId, ids: [...alertIds] })).map(toDelivery);
    },
    async dueDeliveries(limit: number): Promise<DeliveryRecord[]> {
      return (await dueDeliveriesQuery(store, { now: toClickHouseTime(new Date(now())), limit })).map(toDelivery);
    },
    /** When the earliest pending delivery is due, and how many are pending. */
    async pendingSummary(): Promise<{ nextAt?: number; pending: number }> {
      const [row] = await nextDueQuery(store, {});
      if (!row || row.n === 0) return { pending: 0 };
      return { nextAt: fromClickHouseTime(row.at).getTime(), pending: row.n };
    },
    async firingByKind(): Promise<Map<string, number>> {
      return new Map((await firingByKindQuery(store, {})).map((row) => [row.kind, row.n]));
    },
  };
}

export type AlertStore = ReturnType<typeof buildAlertStore>;
