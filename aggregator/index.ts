export { migrate, isMigrated, type MigrationResult } from './migrate.js';
export { MIGRATIONS, type Migration } from './migrations/index.js';
export {
  queryMeterUsage,
  queryMeterTotals,
  meterUsageStatement,
  meterTotalsStatements,
  windowCount,
  WINDOW_SIZES,
  type WindowSize,
  type MeterQuery,
  type UsageRow,
  type MeterTotal,
  type UsageMeter,
  type Statement,
  type UsageLimits,
} from './usage.js';
export {
  WIDE_SUM,
  combineFigures,
  subjectFiguresStatement,
  dailyMaximaStatement,
  eventValues,
  type SubjectFigures,
  type BatchedRead,
} from './usage-queries.js';
export { buildEventSink, eventRow, type EventSinkDeps } from './event-sink.js';
