import { z } from 'zod';
import { parseRfc3339 } from '../platform/time.js';
import { findLoneSurrogate, hasControlCharacter, isBlank, surrogateMessage } from '../platform/text.js';

// Ids, types and subjects are keys: dedupe, meter matching and customer lookup compare them
// exactly, so text that looks empty or hides control characters would make look-alike keys.
const key = (max: number) =>
  z
    .string({ error: 'required: a non-empty string' })
    .min(1, 'must not be empty')
    .max(max, `at most ${max} characters`)
    .refine((text) => text === '' || !isBlank(text), 'must not be only whitespace')
    .refine((text) => !hasControlCharacter(text), 'must not hold control characters (NUL, U+0001-U+001F, U+007F-U+009F)');

/** The CloudEvents 1.0 attributes Meterline reads; extension attributes are allowed and ignored. */
export const cloudEventSchema = z
  .object({
    specversion: z.literal('1.0', { error: 'must be "1.0"' }).optional(),
    id: key(256),
    source: z
      .string()
      .max(1024, 'at most 1024 characters')
      .refine((text) => !hasControlCharacter(text), 'must not hold control characters (NUL, U+0001-U+001F, U+007F-U+009F)')
      .optional(),
    type: key(256),
    subject: key(256),
    time: z.string({ error: 'must be an RFC 3339 date-time string' }).optional(),
    datacontenttype: z.string().optional(),
    data: z
      .custom<Record<string, unknown>>(
        (value) => value !== null && typeof value === 'object' && !Array.isArray(value),
        { error: 'must be a JSON object' },
      )
      .optional(),
  })
  .loose();

export type CloudEventInput = z.input<typeof cloudEventSchema>;

export interface FieldError {
  readonly path: string;
  readonly message: string;
}

export interface ValidEvent {
  readonly id: string;
  readonly type: string;
  readonly source: string;
  readonly subject: string;
  readonly time: Date;
  readonly data: Record<string, unknown>;
}

export interface TimeBounds {
  readonly now: number;
  readonly futureToleranceMs: number;
  readonly backfillHorizonMs: number;
}

export type EventCheck = { ok: true; event: ValidEvent } | { ok: false; errors: FieldError[] };

function formatDuration(ms: number): string {
  if (ms % 86400e3 === 0) return `${ms / 86400e3} days`;
  if (ms % 3600e3 === 0) return `${ms / 3600e3} hours`;
  if (ms % 60e3 === 0) return `${ms / 60e3} minutes`;
  return `${ms / 1e3} seconds`;
}

/** Checks one event's envelope and time; meter-specific checks come after. */
/** Checks an event's time against the bounds; undefined when it is acceptable. */
function timeProblem(text: string, bounds: TimeBounds): { instant?: Date; error?: FieldError } {
  const instant = parseRfc3339(text);
  if (!instant) return { error: { path: 'time', message: 'must be an RFC 3339 date-time such as 2026-11-26T10:00:00Z' } };
  if (instant.getTime() > bounds.now + bounds.futureToleranceMs) {
    return { error: { path: 'time', message: `is more than ${formatDuration(bounds.futureToleranceMs)} in the future` } };
  }
  if (instant.getTime() < bounds.now - bounds.backfillHorizonMs) {
    return { error: { path: 'time', message: `is older than the backfill horizon of ${formatDuration(bounds.backfillHorizonMs)}` } };
  }
  return { instant };
}

/** Checks one event's envelope and time, reporting every problem at once; meter checks come after. */
export function checkCloudEvent(raw: unknown, bounds: TimeBounds): EventCheck {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return { ok: false, errors: [{ path: '', message: 'an event must be a JSON object' }] };
  }
  // Anywhere in the event, keys included: the store refuses such text for a whole insert.
  const surrogate = findLoneSurrogate(raw);
  if (surrogate) {
    return { ok: false, errors: [{ path: surrogate.path, message: surrogateMessage(surrogate) }] };
  }
  const parsed = cloudEventSchema.safeParse(raw);
  const errors: FieldError[] = parsed.success
    ? []
    : parsed.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message }));
  const rawTime = (raw as { time?: unknown }).time;
  const checkedTime = typeof rawTime === 'string' ? timeProblem(rawTime, bounds) : {};
  if (checkedTime.error) errors.push(checkedTime.error);
  if (!parsed.success || errors.length > 0) return { ok: false, errors };
  const event = parsed.data;
  return {
    ok: true,
    event: {
      id: event.id,
      type: event.type,
      source: event.source ?? '',
      subject: event.subject,
      time: checkedTime.instant ?? new Date(bounds.now),
      data: event.data ?? {},
    },
  };
}

/**
 * The CloudEvent as the OpenAPI document shows it (OpenAPI 3.0 schema), generated from the
 * schema that validates events so the two cannot drift; `data`, checked by hand above, is
 * described here.
 */
export function cloudEventOpenApiSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(cloudEventSchema, {
    target: 'openapi-3.0',
    io: 'input',
    unrepresentable: 'any',
    override: ({ path, jsonSchema }) => {
      if (path.length === 2 && path[0] === 'properties' && path[1] === 'data') {
        Object.assign(jsonSchema, {
          type: 'object',
          additionalProperties: true,
          description: 'The usage: the properties meters read with their valueProperty and groupBy paths',
        });
      }
      if (path.length === 2 && path[0] === 'properties' && path[1] === 'time') {
        Object.assign(jsonSchema, { format: 'date-time', description: 'RFC 3339 with an offset; absent: the time it is received' });
      }
    },
  }) as Record<string, unknown>;
  delete schema.$schema;
  return {
    ...schema,
    description: 'A CloudEvents 1.0 event. Extension attributes are allowed and kept out of the usage.',
  };
}
