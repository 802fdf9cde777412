import { InvalidRequestError } from '../platform/errors.js';
import { EVENT_MEDIA_TYPES, splitEventBody, UnparseableBodyError, type BodyItem, type EventMediaType } from './body.js';
import { parseJsonExact } from './exact-json.js';

/**
 * The CloudEvents HTTP protocol binding (1.0): which content mode a request uses, and how a
 * binary-mode request becomes one event.
 *
 * - A request whose content type is application/cloudevents+json is structured mode and one of
 *   application/cloudevents-batch+json is batch mode, whatever its headers; their bodies are
 *   read as before.
 * - Otherwise a `ce-specversion` header makes it binary mode: every `ce-<name>` header is the
 *   attribute <name>, its value trimmed and percent-decoded as UTF-8 (the binding's rules), and
 *   the body is `data`. Meters read properties of `data`, so the body must be JSON
 *   (application/json), parsed with exact numbers; an empty body is an event without data.
 * - Without that header, the body is one event, a JSON array of events, or NDJSON.
 *
 * A header that breaks the binding's rules (an attribute name that is not lower-case letters and
 * digits, a value whose percent-encoding is not UTF-8) refuses the request with its name, the way
 * an unreadable body does; the attributes themselves go through the same checks as in any mode.
 */

export type RequestHeaders = Readonly<Record<string, string | string[] | undefined>>;

/** A binary-mode request whose body is not a JSON object a meter could read (415). */
export class UnsupportedEventMediaTypeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsupportedEventMediaTypeError';
  }
}

const HEADER_PREFIX = 'ce-';
/** CloudEvents attribute names: lower-case ASCII letters and digits. */
const ATTRIBUTE_NAME = /^[a-z0-9]+$/;
/** Attribute values may not hold these (CloudEvents type system, "String"). */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f-\u009f]/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The media type of a content-type header, lower-cased, without its parameters. */
export function mediaTypeOf(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

function headerText(value: string | string[] | undefined): string | undefined {
  // Node joins repeated custom headers with ", " already; an array only comes from set-cookie.
  return Array.isArray(value) ? value.join(', ') : value;
}

/**
 * An HTTP header value as the attribute value it carries: trimmed of optional whitespace, then
 * percent-decoded. Node hands header bytes over as latin1 characters, so the bytes are rebuilt
 * and decoded as UTF-8 together with the escapes; encoded bytes that are not UTF-8 (overlong
 * forms such as %C0%A0 included) give undefined. A "%" that starts no escape is kept as it is:
 * senders that do not encode at all (the JavaScript SDK among them) still get their "%" across.
 */
export function decodeHeaderValue(raw: string): string | undefined {
  const text = raw.replace(/^[ \t]+|[ \t]+$/g, '');
  const bytes = new Uint8Array(text.length);
  let length = 0;
  for (let index = 0; index < text.length; index += 1) {
    const code = text.charCodeAt(index);
    if (code === 0x25 && /^[0-9a-fA-F]{2}$/.test(text.slice(index + 1, index + 3))) {
      bytes[length++] = Number.parseInt(text.slice(index + 1, index + 3), 16);
      index += 2;
      continue;
    }
    if (code > 0xff) return undefined;
    bytes[length++] = code;
  }
  try {
    return utf8.decode(bytes.subarray(0, length));
  } catch {
    return undefined;
  }
}

/** True when the request is a binary-mode CloudEvent (see the module comment). */
export function isBinaryMode(headers: RequestHeaders): boolean {
  const mediaType = mediaTypeOf(headerText(headers['content-type']));
  if (mediaType === 'application/cloudevents+json' || mediaType === 'application/cloudevents-batch+json') return false;
  return headers[`${HEADER_PREFIX}specversion`] !== undefined;
}

/** The event of a binary-mode request: attributes from its `ce-*` headers, `data` from its body. */
export function binaryModeEvent(headers: RequestHeaders, body: string): BodyItem {
  const contentType = headerText(headers['content-type']);
  const mediaType = mediaTypeOf(contentType);
  if (mediaType !== 'application/json') {
    throw new UnsupportedEventMediaTypeError(
      `a binary-mode CloudEvent (ce-* headers) takes its data as application/json, not ${mediaType || 'no content type'}`,
    );
  }
  const event: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!name.startsWith(HEADER_PREFIX)) continue;
    const attribute = name.slice(HEADER_PREFIX.length);
    if (!ATTRIBUTE_NAME.test(attribute)) {
      throw new InvalidRequestError(`header ${name}: a CloudEvents attribute name has only lower-case letters and digits`, `headers.${name}`);
    }
    if (attribute === 'data' || attribute === 'data_base64') {
      throw new InvalidRequestError(`header ${name}: in binary mode the body is the data`, `headers.${name}`);
    }
    const decoded = decodeHeaderValue(headerText(value) ?? '');
    if (decoded === undefined) {
      throw new InvalidRequestError(`header ${name}: its percent-encoded bytes are not valid UTF-8`, `headers.${name}`);
    }
    if (CONTROL_CHARACTER.test(decoded)) {
      throw new InvalidRequestError(`header ${name}: an attribute value may not hold control characters`, `headers.${name}`);
    }
    event[attribute] = decoded;
  }
  // In binary mode content-type is datacontenttype; a ce-datacontenttype saying otherwise is a contradiction.
  const declared = event.datacontenttype;
  if (declared !== undefined && mediaTypeOf(String(declared)) !== mediaType) {
    throw new InvalidRequestError(
      `header ce-datacontenttype: says ${String(declared)} while content-type is ${mediaType}; in binary mode content-type is the data's type`,
      'headers.ce-datacontenttype',
    );
  }
  event.datacontenttype = contentType?.trim();
  if (body.trim() === '') return { index: 0, value: event, lossless: false };
  let parsed;
  try {
    parsed = parseJsonExact(body);
  } catch (error) {
    throw new UnparseableBodyError(`the body (the event's data) is not valid JSON: ${(error as Error).message}`);
  }
  event.data = parsed.value;
  return { index: 0, value: event, lossless: parsed.lossless };
}

/** The event candidates of a POST /v1/events request, in whichever content mode it was sent. */
export function eventsOfRequest(headers: RequestHeaders, body: string): BodyItem[] {
  if (isBinaryMode(headers)) return [binaryModeEvent(headers, body)];
  const mediaType = mediaTypeOf(headerText(headers['content-type']));
  if (!(EVENT_MEDIA_TYPES as readonly string[]).includes(mediaType)) {
    throw new UnsupportedEventMediaTypeError(`events are sent as ${EVENT_MEDIA_TYPES.join(', ')}, not ${mediaType || 'no content type'}`);
  }
  return splitEventBody(mediaType as EventMediaType, body);
}
