export { buildIngest, type Ingest, type IngestAnswer, type IngestDeps, type Rejection } from './ingest.js';
export { EVENT_MEDIA_TYPES, readEventBody, UnparseableBodyError, type EventMediaType } from './body.js';
export { cloudEventOpenApiSchema, cloudEventSchema, type FieldError } from './cloud-event.js';
export { decodeHeaderValue, isBinaryMode, UnsupportedEventMediaTypeError, type RequestHeaders } from './http-binding.js';
export {
  decodeEventMessage,
  encodeEventMessage,
  partitionKey,
  READINGS_ATTRIBUTE,
  TENANT_HEADER,
  type DeadLetterReason,
  type DecodedMessage,
  type DecodeContext,
  type EventMessage,
} from './event-message.js';
export { buildKafkaEventLog, type KafkaEventLogDeps } from './kafka-event-log.js';
