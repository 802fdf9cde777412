import type { Catalog, Meter } from '../catalog/index.js';
import type { EventLog, MeteredEvent } from '../eventlog/index.js';
import { checkCloudEvent, type FieldError, type TimeBounds } from './cloud-event.js';
import { splitEventBody, type BodyItem, type EventMediaType } from './body.js';
import { eventsOfRequest, type RequestHeaders } from './http-binding.js';
import { readMeters } from './meter-readings.js';
import { meteredEvent } from './metered-event.js';

export interface Rejection {
  readonly index: number;
  readonly id?: string;
  readonly errors: FieldError[];
}

export interface IngestAnswer {
  readonly accepted: number;
  readonly duplicates: number;
  readonly rejected: Rejection[];
}

export interface IngestDeps {
  readonly catalog: Pick<Catalog, 'listMeters'>;
  readonly eventLog: EventLog;
  readonly futureToleranceMs: number;
  readonly backfillHorizonMs: number;
  /** The largest event a tenant may send, in bytes as stored (see eventBytes). */
  readonly maxEventBytes: (tenantId: string) => number;
  readonly now?: () => number;
  readonly onOutcome?: (outcome: 'accepted' | 'duplicate' | 'rejected', count: number) => void;
}

export type Ingest = ReturnType<typeof buildIngest>;

function idOf(value: unknown): string | undefined {
  if (value !== null && typeof value === 'object' && 'id' in value && typeof value.id === 'string') return value.id;
  return undefined;
}

/** An event's size as stored: its data text plus its id, type, source and subject, in UTF-8 bytes. */
export function eventBytes(event: Pick<MeteredEvent, 'id' | 'type' | 'source' | 'subject' | 'data'>): number {
  return [event.data, event.id, event.type, event.source, event.subject].reduce((total, text) => total + Buffer.byteLength(text, 'utf8'), 0);
}

export function buildIngest({ catalog, eventLog, futureToleranceMs, backfillHorizonMs, maxEventBytes, now = Date.now, onOutcome }: IngestDeps) {
  /**
   * Validates every event candidate, appends the valid ones and answers per event. Valid events
   * are all accepted (or all refused, when the log cannot take them); rejects are listed.
   */
  async function ingestItems(tenantId: string, items: readonly BodyItem[]): Promise<IngestAnswer> {
    const meters = await catalog.listMeters(tenantId);
    const metersByType = new Map<string, Meter[]>();
    for (const meter of meters) {
      const list = metersByType.get(meter.eventType) ?? [];
      list.push(meter);
      metersByType.set(meter.eventType, list);
    }
    const bounds: TimeBounds = { now: now(), futureToleranceMs, backfillHorizonMs };
    const maxBytes = maxEventBytes(tenantId);
    const rejected: Rejection[] = [];
    const events: MeteredEvent[] = [];
    for (const item of items) {
      if ('syntaxError' in item) {
        rejected.push({ index: item.index, errors: [{ path: '', message: item.syntaxError }] });
        continue;
      }
      const id = idOf(item.value);
      const checked = checkCloudEvent(item.value, bounds);
      if (!checked.ok) {
        rejected.push({ index: item.index, ...(id !== undefined ? { id } : {}), errors: checked.errors });
        continue;
      }
      const { event } = checked;
      const readings = readMeters(event.data, metersByType.get(event.type) ?? []);
      if (!readings.ok) {
        rejected.push({ index: item.index, id: event.id, errors: readings.errors });
        continue;
      }
      const metered = meteredEvent(tenantId, event, item.lossless, readings.readings);
      const bytes = eventBytes(metered);
      if (bytes > maxBytes) {
        const message = `the event is ${bytes} bytes as stored (data, id, type, source and subject); at most ${maxBytes} (limit maxEventBytes, set by METERLINE_MAX_EVENT_SIZE or the tenant's override)`;
        rejected.push({ index: item.index, id: event.id, errors: [{ path: 'data', message }] });
        continue;
      }
      events.push(metered);
    }
    if (rejected.length > 0) onOutcome?.('rejected', rejected.length);
    if (events.length === 0) return { accepted: 0, duplicates: 0, rejected };
    const { duplicates } = await eventLog.append(events);
    const accepted = events.length - duplicates.size;
    onOutcome?.('accepted', accepted);
    if (duplicates.size > 0) onOutcome?.('duplicate', duplicates.size);
    return { accepted, duplicates: duplicates.size, rejected };
  }

  return {
    /** Ingests a body of one media type (one event, a JSON array of them, or NDJSON). */
    ingest: (tenantId: string, mediaType: EventMediaType, body: string): Promise<IngestAnswer> =>
      ingestItems(tenantId, splitEventBody(mediaType, body)),
    /** Ingests an HTTP request in any CloudEvents content mode: binary, structured or batch (see http-binding.ts). */
    ingestRequest: (tenantId: string, headers: RequestHeaders, body: string): Promise<IngestAnswer> =>
      ingestItems(tenantId, eventsOfRequest(headers, body)),
  };
}
