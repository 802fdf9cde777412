import type { Meter } from '../catalog/index.js';
import { checkCloudEvent, meteredEvent, parseJsonExact, readMeters, type FieldError } from '../ingest/index.js';
import { decodeUtf8Strict, findLoneSurrogate, surrogateMessage } from '../platform/text.js';
import type { MeteredEvent, MeterReading } from './event-log.js';

/**
 * The events topic's message format, shared by ingest (which produces), agents that produce
 * straight to the topic, and the aggregator (which consumes):
 *
 * - value: one CloudEvent as JSON (the same shape POST /v1/events takes);
 * - header `meterline-tenant`: the tenant id (required);
 * - key: `<tenant>/<customer id>`, or `<tenant>/<subject>` for a subject no customer owns, so all
 *   of a customer's events, and every copy of an event, share a partition.
 *
 * Ingest adds the extension attribute `meterlinereadings` (the meter values it read and
 * validated), so an event accepted over HTTP is stored as it was accepted even if meters change
 * while it waits in the topic. An event without it is validated and read when consumed.
 */
export const TENANT_HEADER = 'meterline-tenant';
export const READINGS_ATTRIBUTE = 'meterlinereadings';

export interface EventMessage {
  readonly key: string;
  readonly value: string;
  readonly headers: Record<string, string>;
}

export function partitionKey(tenantId: string, subject: string, customerId: string | undefined): string {
  return `${tenantId}/${customerId ?? subject}`;
}

export function encodeEventMessage(event: MeteredEvent, customerId: string | undefined): EventMessage {
  const envelope = JSON.stringify({
    specversion: '1.0',
    id: event.id,
    source: event.source,
    type: event.type,
    subject: event.subject,
    time: event.time.toISOString(),
    [READINGS_ATTRIBUTE]: JSON.stringify(event.readings),
  });
  // data is already exact JSON text; splice it in rather than parse and re-serialize it.
  const value = `${envelope.slice(0, -1)},"data":${event.data}}`;
  return { key: partitionKey(event.tenantId, event.subject, customerId), value, headers: { [TENANT_HEADER]: event.tenantId } };
}

export type DeadLetterReason = 'not_json' | 'no_tenant' | 'unknown_tenant' | 'invalid_event';

export type DecodedMessage =
  | { readonly ok: true; readonly event: MeteredEvent }
  | { readonly ok: false; readonly reason: DeadLetterReason; readonly detail: string };

export interface DecodeContext {
  readonly tenantExists: (tenantId: string) => Promise<boolean>;
  readonly metersOf: (tenantId: string) => Promise<readonly Meter[]>;
  /** When the message was produced: the reference for time bounds of events agents produced. */
  readonly producedAt: number;
  readonly futureToleranceMs: number;
  readonly backfillHorizonMs: number;
}

function describe(errors: readonly FieldError[]): string {
  return errors.map((error) => `${error.path || '(event)'}: ${error.message}`).join('; ');
}

function isReading(value: unknown): value is MeterReading {
  if (value === null || typeof value !== 'object') return false;
  const reading = value as Record<string, unknown>;
  return (
    typeof reading.meterKey === 'string' &&
    typeof reading.value === 'string' &&
    typeof reading.valueKey === 'string' &&
    typeof reading.groupBy === 'string'
  );
}

/** Turns a consumed message back into an event, or says why it can never be stored. */
export async function decodeEventMessage(
  value: Buffer | null,
  tenantHeader: string | undefined,
  context: DecodeContext,
): Promise<DecodedMessage> {
  if (!tenantHeader) return { ok: false, reason: 'no_tenant', detail: `header ${TENANT_HEADER} is missing` };
  if (!(await context.tenantExists(tenantHeader))) {
    return { ok: false, reason: 'unknown_tenant', detail: `tenant ${tenantHeader} does not exist` };
  }
  let parsed;
  try {
    // Strict decoding: a replacement character for bad bytes could make two ids one.
    parsed = parseJsonExact(decodeUtf8Strict(value ?? Buffer.alloc(0)));
  } catch (error) {
    return { ok: false, reason: 'not_json', detail: (error as Error).message };
  }
  const raw = parsed.value;
  const carried = raw !== null && typeof raw === 'object' ? (raw as Record<string, unknown>)[READINGS_ATTRIBUTE] : undefined;
  const checked = checkCloudEvent(raw, {
    now: context.producedAt,
    futureToleranceMs: context.futureToleranceMs,
    // Ingest already checked the time of events it produced; the topic may hold them for long.
    backfillHorizonMs: carried === undefined ? context.backfillHorizonMs : Number.MAX_SAFE_INTEGER,
  });
  if (!checked.ok) return { ok: false, reason: 'invalid_event', detail: describe(checked.errors) };
  const { event } = checked;
  let readings: MeterReading[];
  if (typeof carried === 'string') {
    let list: unknown;
    try {
      list = JSON.parse(carried);
    } catch {
      list = undefined;
    }
    if (!Array.isArray(list) || !list.every(isReading)) {
      return { ok: false, reason: 'invalid_event', detail: `${READINGS_ATTRIBUTE} is not a list of meter readings` };
    }
    // The attribute is JSON inside a string, so the check of the event's own text cannot see in.
    const surrogate = findLoneSurrogate(list, READINGS_ATTRIBUTE);
    if (surrogate) return { ok: false, reason: 'invalid_event', detail: `${surrogate.path}: ${surrogateMessage(surrogate)}` };
    readings = list;
  } else {
    const meters = (await context.metersOf(tenantHeader)).filter((meter) => meter.eventType === event.type);
    const read = readMeters(event.data, meters);
    if (!read.ok) return { ok: false, reason: 'invalid_event', detail: describe(read.errors) };
    readings = read.readings;
  }
  return { ok: true, event: meteredEvent(tenantHeader, event, parsed.lossless, readings) };
}
