export { buildIngest, type Ingest, type IngestAnswer, type IngestDeps, type Rejection } from './ingest.js';
export { EVENT_MEDIA_TYPES, UnparseableBodyError, type EventMediaType } from './body.js';
export { cloudEventSchema, type FieldError } from './cloud-event.js';
