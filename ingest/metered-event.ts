import type { MeteredEvent, MeterReading } from '../eventlog/index.js';
import type { ValidEvent } from './cloud-event.js';
import { stringifyJsonExact } from './exact-json.js';

/**
 * The event to store, from a checked CloudEvent and the meter readings taken from it; the one
 * shape for events accepted over HTTP and events consumed from the topic. `lossless` comes from
 * the parse that produced `event`, so the data keeps every digit it arrived with.
 */
export function meteredEvent(tenantId: string, event: ValidEvent, lossless: boolean, readings: readonly MeterReading[]): MeteredEvent {
  return {
    tenantId,
    id: event.id,
    type: event.type,
    source: event.source,
    subject: event.subject,
    time: event.time,
    data: stringifyJsonExact(event.data, lossless),
    readings,
  };
}
