export { buildCatalog, customerInsertRow, type Authentication, type Catalog, type CatalogDeps, type Principal } from './catalog.js';
export * from './schemas.js';
export { API_KEY_SCOPES, type ApiKeyScope } from './api-key.js';
export {
  billingPeriodContaining,
  billingPeriodForDate,
  selectedBillingPeriod,
  isValidTimeZone,
  type BillingPeriod,
} from './billing-period.js';
