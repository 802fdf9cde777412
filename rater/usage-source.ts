import {
  combineFigures,
  dailyMaximaStatement,
  eventValues,
  queryMeterTotals,
  queryMeterUsage,
  subjectFiguresStatement,
  type SubjectFigures,
} from '../aggregator/index.js';
import type { Meter } from '../catalog/index.js';
import { selectTyped, type Store } from '../platform/store.js';
import { toClickHouseTime } from '../platform/time.js';
import { D, sumOfTexts, wideSum, type Decimal } from '../platform/money.js';

/** Half-open span of instants, in epoch milliseconds, on whole minutes. */
export interface Span {
  readonly from: number;
  readonly to: number;
}

/**
 * The usage figures a statement needs. One implementation asks the store per call; the batched
 * one answers many customers' calls from a few grouped queries.
 */
export interface UsageSource {
  /** The meter's aggregate over the span for these subjects ('0' when nothing was metered). */
  total(tenantId: string, meter: Meter, subjects: readonly string[], span: Span): Promise<string>;
  /** The sum, over the local days of the span, of each day's maximum (days without readings add 0). */
  dailyMaxSum(tenantId: string, meter: Meter, subjects: readonly string[], span: Span, timeZone: string): Promise<string>;
  /** Individual event values in time order. */
  events(tenantId: string, meter: Meter, subjects: readonly string[], span: Span): Promise<string[]>;
}

export function directUsageSource(store: Store): UsageSource {
  return {
    async total(tenantId, meter, subjects, span) {
      const [total] = await queryMeterTotals(store, tenantId, [meter], subjects, new Date(span.from), new Date(span.to));
      return total?.value ?? '0';
    },
    async dailyMaxSum(tenantId, meter, subjects, span, timeZone) {
      const rows = await queryMeterUsage(store, {
        tenantId,
        meter: { key: meter.key, aggregation: 'MAX', groupBy: {} },
        from: new Date(span.from),
        to: new Date(span.to),
        subjects,
        windowSize: 'DAY',
        windowTimeZone: timeZone,
        groupBy: [],
        bySubject: false,
      });
      return sumOfTexts(rows.map((row) => row.value), 'daily maxima');
    },
    async events(tenantId, meter, subjects, span) {
      const rows = await eventValues(store, {
        tenantId,
        meterKey: meter.key,
        subjects: [...subjects],
        from: toClickHouseTime(new Date(span.from)),
        to: toClickHouseTime(new Date(span.to)),
      });
      return rows.map((row) => row.value);
    },
  };
}

type Request =
  | { kind: 'total'; meter: Meter; span: Span; subjects: readonly string[] }
  | { kind: 'daily'; meter: Meter; span: Span; subjects: readonly string[]; timeZone: string };

/** Records what a computation asks for, answering zeros, so the answers can be fetched in bulk. */
export function recordingUsageSource(): UsageSource & { readonly requests: Request[] } {
  const requests: Request[] = [];
  return {
    requests,
    async total(_tenantId, meter, subjects, span) {
      requests.push({ kind: 'total', meter, span, subjects });
      return '0';
    },
    async dailyMaxSum(_tenantId, meter, subjects, span, timeZone) {
      requests.push({ kind: 'daily', meter, span, subjects, timeZone });
      return '0';
    },
    async events() {
      return [];
    },
  };
}

/**
 * Answers the recorded requests of many customers from one grouped query per distinct span
 * (most customers share their period and price changes), splitting by subject and meter, then
 * combines subjects per customer. What cannot be combined exactly falls back to direct queries.
 */
export async function batchedUsageSource(store: Store, tenantId: string, requests: readonly Request[]): Promise<UsageSource> {
  const direct = directUsageSource(store);
  const totals = new Map<string, Map<string, SubjectFigures>>();
  const daily = new Map<string, Map<string, Map<number, string>>>();
  const spanKey = (span: Span, timeZone = '') => `${span.from}:${span.to}:${timeZone}`;

  const groups = new Map<string, { span: Span; timeZone?: string; meters: Set<string>; subjects: Set<string> }>();
  for (const request of requests) {
    const key = `${request.kind}:${spanKey(request.span, request.kind === 'daily' ? request.timeZone : '')}`;
    const group = groups.get(key) ?? {
      span: request.span,
      ...(request.kind === 'daily' ? { timeZone: request.timeZone } : {}),
      meters: new Set<string>(),
      subjects: new Set<string>(),
    };
    group.meters.add(request.meter.key);
    for (const subject of request.subjects) group.subjects.add(subject);
    groups.set(key, group);
  }

  for (const [key, group] of groups) {
    const read = {
      tenantId,
      meterKeys: [...group.meters],
      subjects: [...group.subjects],
      from: new Date(group.span.from),
      to: new Date(group.span.to),
    };
    if (key.startsWith('total:')) {
      const rows = await selectTyped(store, subjectFiguresStatement(store, read));
      const bySubjectMeter = new Map<string, SubjectFigures>();
      for (const row of rows) bySubjectMeter.set(`${row.meter_key}\u0000${row.subject}`, row);
      totals.set(spanKey(group.span), bySubjectMeter);
    } else {
      const rows = await selectTyped(store, dailyMaximaStatement(store, read, group.timeZone ?? 'UTC'));
      const byMeter = new Map<string, Map<number, string>>();
      for (const row of rows) {
        const days = byMeter.get(`${row.meter_key}\u0000${row.subject}`) ?? new Map<number, string>();
        days.set(Number(row.day), row.max);
        byMeter.set(`${row.meter_key}\u0000${row.subject}`, days);
      }
      daily.set(spanKey(group.span, group.timeZone), byMeter);
    }
  }

  return {
    async total(tenant, meter, subjects, span) {
      const figures = totals.get(spanKey(span));
      if (!figures) return direct.total(tenant, meter, subjects, span);
      const found = subjects.flatMap((subject) => {
        const entry = figures.get(`${meter.key}\u0000${subject}`);
        return entry ? [entry] : [];
      });
      return combineFigures(meter.aggregation, found) ?? direct.total(tenant, meter, subjects, span);
    },
    async dailyMaxSum(tenant, meter, subjects, span, timeZone) {
      const byMeter = daily.get(spanKey(span, timeZone));
      if (!byMeter) return direct.dailyMaxSum(tenant, meter, subjects, span, timeZone);
      const perDay = new Map<number, Decimal>();
      for (const subject of subjects) {
        for (const [day, max] of byMeter.get(`${meter.key}\u0000${subject}`) ?? []) {
          const current = perDay.get(day);
          perDay.set(day, current === undefined ? new D(max) : D.max(current, max));
        }
      }
      return wideSum(perDay.values()).toFixed();
    },
    events: (tenant, meter, subjects, span) => direct.events(tenant, meter, subjects, span),
  };
}

/** Usage only up to `until` (a whole minute): what the figures were at that instant. */
export function usageUntil(source: UsageSource, until: number): UsageSource {
  const clip = (span: Span): Span | undefined => (Math.min(span.to, until) > span.from ? { from: span.from, to: Math.min(span.to, until) } : undefined);
  return {
    async total(tenantId, meter, subjects, span) {
      const clipped = clip(span);
      return clipped ? source.total(tenantId, meter, subjects, clipped) : '0';
    },
    async dailyMaxSum(tenantId, meter, subjects, span, timeZone) {
      const clipped = clip(span);
      return clipped ? source.dailyMaxSum(tenantId, meter, subjects, clipped, timeZone) : '0';
    },
    async events(tenantId, meter, subjects, span) {
      const clipped = clip(span);
      return clipped ? source.events(tenantId, meter, subjects, clipped) : [];
    },
  };
}
