import { ConflictError, NotFoundError } from '../platform/errors.js';
import { createSerialQueue } from '../platform/serial.js';
import type { AlertFilter, AlertRecord, AlertStore, DeliveryRecord } from './alert-store.js';

export interface AlertView {
  readonly id: string;
  readonly ruleId: string;
  readonly customerId: string;
  readonly kind: string;
  readonly state: 'firing' | 'resolved' | 'acknowledged';
  readonly details: Record<string, unknown>;
  readonly createdAt: string;
  readonly resolvedAt?: string;
  readonly resolution?: string;
  readonly acknowledgedAt?: string;
  readonly acknowledgedBy?: string;
  readonly deliveries: Array<Omit<DeliveryRecord, 'tenantId' | 'alertId'>>;
}

function toView(alert: AlertRecord, deliveries: readonly DeliveryRecord[]): AlertView {
  const state = alert.status === 'resolved' ? 'resolved' : alert.acknowledgedAt !== undefined ? 'acknowledged' : 'firing';
  const { tenantId: _tenantId, status: _status, details, ...rest } = alert;
  return {
    ...rest,
    state,
    details: { ...details },
    deliveries: deliveries.filter((d) => d.alertId === alert.id).map(({ tenantId: _t, alertId: _a, ...delivery }) => delivery),
  };
}

/** What the API does with alerts: list them with their deliveries, read one, acknowledge one. */
export function buildAlertActions(alertStore: AlertStore, now: () => number = Date.now, onAcknowledged?: () => void) {
  const serially = createSerialQueue();

  async function get(tenantId: string, id: string): Promise<AlertView> {
    const [alert] = await alertStore.byIds(tenantId, [id]);
    if (!alert) throw new NotFoundError(`alert ${id} not found`);
    return toView(alert, await alertStore.deliveriesOf(tenantId, [id]));
  }

  return {
    async list(tenantId: string, filter: AlertFilter): Promise<AlertView[]> {
      const alerts = await alertStore.list(tenantId, filter);
      const deliveries = await alertStore.deliveriesOf(tenantId, alerts.map((alert) => alert.id));
      return alerts.map((alert) => toView(alert, deliveries));
    },

    get,

    /** Silences a firing alert: pending notifications are cancelled, its resolution is not announced. */
    async acknowledge(tenantId: string, id: string, by: string): Promise<AlertView> {
      await serially(async () => {
        const [alert] = await alertStore.byIds(tenantId, [id]);
        if (!alert) throw new NotFoundError(`alert ${id} not found`);
        if (alert.status !== 'firing') throw new ConflictError(`alert ${id} is ${alert.status}; only a firing alert can be acknowledged`);
        if (alert.acknowledgedAt !== undefined) return;
        await alertStore.recordChanges([{ ...alert, acknowledgedAt: new Date(now()).toISOString(), acknowledgedBy: by }], []);
      });
      onAcknowledged?.();
      return get(tenantId, id);
    },
  };
}

export type AlertActions = ReturnType<typeof buildAlertActions>;
