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
