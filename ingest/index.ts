export { buildIngest, type Ingest, type IngestAnswer, type IngestDeps, type Rejection } from './ingest.js';
export { EVENT_MEDIA_TYPES, readEventBody, UnparseableBodyError, type EventMediaType } from './body.js';
export { checkCloudEvent, cloudEventOpenApiSchema, cloudEventSchema, type FieldError } from './cloud-event.js';
export { decodeHeaderValue, isBinaryMode, UnsupportedEventMediaTypeError, type RequestHeaders } from './http-binding.js';
// checkCloudEvent, exact JSON, readMeters and meteredEvent also hold events consumed from the topic to ingest's rules.
export { parseJsonExact, stringifyJsonExact } from './exact-json.js';
export { readMeters } from './meter-readings.js';
export { meteredEvent } from './metered-event.js';
