export { MAX_CROSSED_THRESHOLDS, crossedThresholds, type ThresholdCrossingInput } from './detectors/thresholds.js';
export {
  FORECAST_SCALE,
  budgetThresholds,
  crossedBudgetThresholds,
  forecastPeriodEnd,
  forecastState,
  type BudgetCrossing,
  type ForecastInput,
} from './detectors/budget.js';
export { RATIO_SCALE, detectSpike, topDrivers, type Driver, type KeyedCost, type SpikeInput, type SpikeResult } from './detectors/spike.js';
export { generateWebhookSecret, signWebhook, verifyWebhook, type WebhookHeaders } from './webhook-signature.js';
export { ALERT_KINDS, CHANNELS, alertRuleInput, alertRulePatch, alertRuleView, alertRuleVersionView, type AlertKind, type AlertRuleInput, type Channel } from './rule-schema.js';
export { buildAlertRules, effectiveRules, type AlertRule, type AlertRules } from './rules.js';
export {
  buildWebhookEndpoints,
  endpointView,
  webhookEndpointInput,
  webhookEndpointView,
  type WebhookEndpoint,
  type WebhookEndpoints,
} from './webhook-endpoints.js';
export { buildAlertStore, type AlertRecord, type AlertStore, type DeliveryRecord } from './alert-store.js';
export { buildAlertActions, type AlertActions, type AlertView } from './alert-actions.js';
export { buildAlertEngine, type AlertEngine } from './engine.js';
export { renderEmail, webhookPayload, type RenderedEmail, type WebhookPayload, type WebhookPayloadData } from './notification.js';
export { buildOutbox, type Outbox, type OutboxDeps } from './outbox.js';
