import { parseJsonExact, parseNdjsonExact } from './exact-json.js';
import { decodeUtf8Strict, JsonTextError } from '../platform/text.js';

/** Media types POST /v1/events accepts. */
export const EVENT_MEDIA_TYPES = [
  'application/json',
  'application/cloudevents+json',
  'application/cloudevents-batch+json',
  'application/x-ndjson',
] as const;
export type EventMediaType = (typeof EVENT_MEDIA_TYPES)[number];

/** One item of a request body: a parsed event candidate, or the reason its text is not JSON. */
export type BodyItem =
  | { readonly index: number; readonly value: unknown; readonly lossless: boolean }
  | { readonly index: number; readonly syntaxError: string };

export class UnparseableBodyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnparseableBodyError';
  }
}

/**
 * The text of a request body. Invalid UTF-8 is refused rather than decoded to U+FFFD, which
 * would make two different ids the same id.
 */
export function readEventBody(bytes: Uint8Array): string {
  try {
    return decodeUtf8Strict(bytes);
  } catch (error) {
    if (error instanceof JsonTextError) throw new UnparseableBodyError(error.message);
    throw error;
  }
}

/**
 * Splits a request body into event candidates. A body that cannot be read at all throws; a
 * single bad NDJSON line becomes a rejected item so the rest of the batch still counts.
 */
export function splitEventBody(mediaType: EventMediaType, text: string): BodyItem[] {
  if (mediaType === 'application/x-ndjson') {
    const { lines } = parseNdjsonExact(text);
    if (lines.length === 0) throw new UnparseableBodyError('the body holds no events');
    return lines.map((line, index) =>
      line.parsed
        ? { index, value: line.parsed.value, lossless: line.parsed.lossless }
        : { index, syntaxError: `line ${line.line} is not valid JSON: ${line.error ?? 'syntax error'}` },
    );
  }
  let parsed;
  try {
    parsed = parseJsonExact(text);
  } catch (error) {
    throw new UnparseableBodyError(`the body is not valid JSON: ${(error as Error).message}`);
  }
  const { value, lossless } = parsed;
  if (Array.isArray(value)) {
    if (value.length === 0) throw new UnparseableBodyError('the batch holds no events');
    return value.map((item, index) => ({ index, value: item, lossless }));
  }
  if (mediaType === 'application/cloudevents-batch+json') {
    throw new UnparseableBodyError('application/cloudevents-batch+json takes a JSON array of events');
  }
  return [{ index: 0, value, lossless }];
}
