import { describe, expect, it } from 'vitest';
import { checkCloudEvent, type EventCheck, type FieldError, type TimeBounds, type ValidEvent } from './cloud-event.js';

const MINUTE = 60_000;
const DAY = 86_400_000;
const NOW = Date.parse('2026-11-26T10:00:00.000Z');
const BOUNDS: TimeBounds = { now: NOW, futureToleranceMs: 5 * MINUTE, backfillHorizonMs: 35 * DAY };

const MINIMAL = { id: 'evt-1', type: 'llm.tokens', subject: 'customer-42' } as const;

function accepted(check: EventCheck): ValidEvent {
  if (!check.ok) throw new Error(`expected the event to be accepted, got ${JSON.stringify(check.errors)}`);
  return check.event;
}

function rejected(check: EventCheck): FieldError[] {
  if (check.ok) throw new Error(`expected the event to be rejected, got ${JSON.stringify(check.event)}`);
  return check.errors;
}

function at(ms: number): string {
  return new Date(ms).toISOString();
}

describe('checkCloudEvent accepts', () => {
  it('a full CloudEvent', () => {
    const event = accepted(
      checkCloudEvent(
        {
          specversion: '1.0',
          id: 'evt-1',
          source: '//gateway/eu-1',
          type: 'llm.tokens',
          subject: 'customer-42',
          time: '2026-11-26T09:30:00.250Z',
          datacontenttype: 'application/json',
          data: { tokens: 1200, model: 'large', nested: { a: [1, 2] } },
        },
        BOUNDS,
      ),
    );
    expect(event).toEqual({
      id: 'evt-1',
      type: 'llm.tokens',
      source: '//gateway/eu-1',
      subject: 'customer-42',
      time: new Date('2026-11-26T09:30:00.250Z'),
      data: { tokens: 1200, model: 'large', nested: { a: [1, 2] } },
    });
  });

  it('a minimal event, with time = now, source "" and data {}', () => {
    const event = accepted(checkCloudEvent({ ...MINIMAL }, BOUNDS));
    expect(event).toEqual({ ...MINIMAL, source: '', time: new Date(NOW), data: {} });
    expect(event.time.getTime()).toBe(NOW);
  });

  it('gives each minimal event its own time object', () => {
    const a = accepted(checkCloudEvent({ ...MINIMAL }, BOUNDS));
    const b = accepted(checkCloudEvent({ ...MINIMAL }, BOUNDS));
    expect(a.time).not.toBe(b.time);
  });

  it('a time with an offset, read as the instant it names', () => {
    const event = accepted(checkCloudEvent({ ...MINIMAL, time: '2026-11-26T11:00:00+01:00' }, BOUNDS));
    expect(event.time.getTime()).toBe(NOW);
  });

  it('an empty source and an empty data object', () => {
    const event = accepted(checkCloudEvent({ ...MINIMAL, source: '', data: {} }, BOUNDS));
    expect(event.source).toBe('');
    expect(event.data).toEqual({});
  });

  it('extension attributes, leaving them out of the result', () => {
    const event = accepted(
      checkCloudEvent(
        { ...MINIMAL, traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', region: 'eu', count: 3, flags: { a: true } },
        BOUNDS,
      ),
    );
    expect(Object.keys(event).sort()).toEqual(['data', 'id', 'source', 'subject', 'time', 'type']);
  });

  it('ids, types and subjects of exactly 256 characters and a source of 1024', () => {
    const long = 'x'.repeat(256);
    const event = accepted(checkCloudEvent({ id: long, type: long, subject: long, source: 's'.repeat(1024) }, BOUNDS));
    expect(event.id).toBe(long);
    expect(event.source).toHaveLength(1024);
  });

  it('an event with no data but a datacontenttype', () => {
    expect(accepted(checkCloudEvent({ ...MINIMAL, datacontenttype: 'application/json' }, BOUNDS)).data).toEqual({});
  });
});

describe('checkCloudEvent time bounds', () => {
  it('accepts a time exactly at the future tolerance', () => {
    const time = at(NOW + BOUNDS.futureToleranceMs);
    expect(accepted(checkCloudEvent({ ...MINIMAL, time }, BOUNDS)).time.toISOString()).toBe(time);
  });

  it('rejects a time 1 ms beyond the future tolerance', () => {
    expect(rejected(checkCloudEvent({ ...MINIMAL, time: at(NOW + BOUNDS.futureToleranceMs + 1) }, BOUNDS))).toEqual([
      { path: 'time', message: 'is more than 5 minutes in the future' },
    ]);
  });

  it('accepts a time exactly at the backfill horizon', () => {
    const time = at(NOW - BOUNDS.backfillHorizonMs);
    expect(accepted(checkCloudEvent({ ...MINIMAL, time }, BOUNDS)).time.toISOString()).toBe(time);
  });

  it('rejects a time 1 ms older than the backfill horizon', () => {
    expect(rejected(checkCloudEvent({ ...MINIMAL, time: at(NOW - BOUNDS.backfillHorizonMs - 1) }, BOUNDS))).toEqual([
      { path: 'time', message: 'is older than the backfill horizon of 35 days' },
    ]);
  });

  it('applies the bounds to the instant, not to the local wall time', () => {
    // 10:04:00+00:00 is within the tolerance; the same wall time at -01:00 is 11:04 UTC.
    expect(checkCloudEvent({ ...MINIMAL, time: '2026-11-26T10:04:00+00:00' }, BOUNDS).ok).toBe(true);
    expect(checkCloudEvent({ ...MINIMAL, time: '2026-11-26T10:04:00-01:00' }, BOUNDS).ok).toBe(false);
  });

  it.each([
    [90_000, '90 seconds'],
    [1_500, '1.5 seconds'],
    [2 * 3_600_000, '2 hours'],
    [MINUTE, '1 minutes'],
    [DAY, '1 days'],
  ])('describes a tolerance of %d ms as "%s"', (futureToleranceMs, text) => {
    const errors = rejected(checkCloudEvent({ ...MINIMAL, time: at(NOW + futureToleranceMs + 1) }, { ...BOUNDS, futureToleranceMs }));
    expect(errors).toEqual([{ path: 'time', message: `is more than ${text} in the future` }]);
  });

  it('describes a horizon in hours', () => {
    const bounds = { ...BOUNDS, backfillHorizonMs: 12 * 3_600_000 };
    expect(rejected(checkCloudEvent({ ...MINIMAL, time: at(NOW - bounds.backfillHorizonMs - 1) }, bounds))).toEqual([
      { path: 'time', message: 'is older than the backfill horizon of 12 hours' },
    ]);
  });

  it('accepts any time within the window', () => {
    for (const offset of [-BOUNDS.backfillHorizonMs + 1, -DAY, -1, 0, 1, BOUNDS.futureToleranceMs - 1]) {
      expect(checkCloudEvent({ ...MINIMAL, time: at(NOW + offset) }, BOUNDS).ok, String(offset)).toBe(true);
    }
  });
});

describe('checkCloudEvent rejects', () => {
  it.each([
    ['null', null],
    ['undefined', undefined],
    ['a string', '{"id":"evt-1"}'],
    ['a number', 42],
    ['a boolean', true],
    ['an array', [{ ...MINIMAL }]],
    ['an empty array', []],
  ])('an event that is %s', (_label, raw) => {
    expect(rejected(checkCloudEvent(raw, BOUNDS))).toEqual([{ path: '', message: 'an event must be a JSON object' }]);
  });

  it.each(['id', 'type', 'subject'] as const)('a missing %s', (field) => {
    const event = Object.fromEntries(Object.entries(MINIMAL).filter(([name]) => name !== field));
    expect(rejected(checkCloudEvent(event, BOUNDS))).toEqual([{ path: field, message: 'required: a non-empty string' }]);
  });

  it.each(['id', 'type', 'subject'] as const)('an empty %s', (field) => {
    expect(rejected(checkCloudEvent({ ...MINIMAL, [field]: '' }, BOUNDS))).toEqual([{ path: field, message: 'must not be empty' }]);
  });

  it.each(['id', 'type', 'subject'] as const)('a %s that is not a string', (field) => {
    for (const value of [42, null, true, ['a'], { a: 1 }]) {
      expect(rejected(checkCloudEvent({ ...MINIMAL, [field]: value }, BOUNDS))).toEqual([
        { path: field, message: 'required: a non-empty string' },
      ]);
    }
  });

  it.each(['id', 'type', 'subject'] as const)('a %s longer than 256 characters', (field) => {
    expect(rejected(checkCloudEvent({ ...MINIMAL, [field]: 'x'.repeat(257) }, BOUNDS))).toEqual([
      { path: field, message: 'at most 256 characters' },
    ]);
  });

  it('a source longer than 1024 characters', () => {
    expect(rejected(checkCloudEvent({ ...MINIMAL, source: 's'.repeat(1025) }, BOUNDS))).toEqual([
      { path: 'source', message: 'at most 1024 characters' },
    ]);
  });

  it.each([
    ['source', 5],
    ['source', null],
    ['datacontenttype', 1],
    ['datacontenttype', {}],
  ])('a %s of the wrong type (%j)', (field, value) => {
    const errors = rejected(checkCloudEvent({ ...MINIMAL, [field]: value }, BOUNDS));
    expect(errors).toHaveLength(1);
    expect(errors[0]?.path).toBe(field);
    expect(errors[0]?.message).toMatch(/string/);
  });

  it.each(['0.3', '1', '1.0.0', '', ' 1.0', 1, 1.0, null])('specversion %j', (specversion) => {
    expect(rejected(checkCloudEvent({ ...MINIMAL, specversion }, BOUNDS))).toEqual([
      { path: 'specversion', message: 'must be "1.0"' },
    ]);
  });

  it.each([1_764_151_200_000, null, true, { iso: '2026-11-26T10:00:00Z' }])('a time that is not a string (%j)', (time) => {
    expect(rejected(checkCloudEvent({ ...MINIMAL, time }, BOUNDS))).toEqual([
      { path: 'time', message: 'must be an RFC 3339 date-time string' },
    ]);
  });

  it.each(['', 'yesterday', '2026-11-26', '2026-11-26T10:00:00', '2026-02-30T10:00:00Z', '2026/11/26 10:00:00', 'Nov 26 2026'])(
    'a time that is not RFC 3339 (%j)',
    (time) => {
      expect(rejected(checkCloudEvent({ ...MINIMAL, time }, BOUNDS))).toEqual([
        { path: 'time', message: 'must be an RFC 3339 date-time such as 2026-11-26T10:00:00Z' },
      ]);
    },
  );

  it.each([
    ['an array', [{ tokens: 1 }]],
    ['an empty array', []],
    ['null', null],
    ['a string', '{"tokens":1}'],
    ['a number', 5],
    ['a boolean', false],
  ])('data that is %s', (_label, data) => {
    expect(rejected(checkCloudEvent({ ...MINIMAL, data }, BOUNDS))).toEqual([{ path: 'data', message: 'must be a JSON object' }]);
  });
});

describe('checkCloudEvent reports every error of an event', () => {
  it('reports every bad envelope attribute at once', () => {
    const errors = rejected(
      checkCloudEvent({ specversion: '0.3', id: 5, type: '', source: 7, data: [] }, BOUNDS),
    );
    expect(errors).toHaveLength(6);
    expect(errors).toEqual(
      expect.arrayContaining([
        { path: 'specversion', message: 'must be "1.0"' },
        { path: 'id', message: 'required: a non-empty string' },
        { path: 'type', message: 'must not be empty' },
        { path: 'subject', message: 'required: a non-empty string' },
        { path: 'data', message: 'must be a JSON object' },
      ]),
    );
    expect(errors.map((error) => error.path).sort()).toEqual(['data', 'id', 'source', 'specversion', 'subject', 'type']);
  });

  it('reports a time that is not a string alongside other errors', () => {
    const errors = rejected(checkCloudEvent({ id: 'evt-1', type: 't', time: 5 }, BOUNDS));
    expect(errors.map((error) => error.path).sort()).toEqual(['subject', 'time']);
  });

  it('reports an unreadable time alongside envelope errors', () => {
    const errors = rejected(checkCloudEvent({ ...MINIMAL, id: '', time: 'yesterday' }, BOUNDS));
    expect(errors).toEqual(
      expect.arrayContaining([
        { path: 'id', message: 'must not be empty' },
        { path: 'time', message: 'must be an RFC 3339 date-time such as 2026-11-26T10:00:00Z' },
      ]),
    );
    expect(errors).toHaveLength(2);
  });

  it('reports a time out of bounds alongside envelope errors', () => {
    const errors = rejected(checkCloudEvent({ ...MINIMAL, data: null, time: at(NOW + DAY) }, BOUNDS));
    expect(errors).toEqual(
      expect.arrayContaining([
        { path: 'data', message: 'must be a JSON object' },
        { path: 'time', message: 'is more than 5 minutes in the future' },
      ]),
    );
    expect(errors).toHaveLength(2);
  });
});

describe('checkCloudEvent refuses text the store could not keep or compare', () => {
  it.each([
    ['id', { ...MINIMAL, id: 'x\ud800' }],
    ['subject', { ...MINIMAL, subject: '\udc00customer' }],
    ['type', { ...MINIMAL, type: 'llm.\ud800tokens' }],
    ['source', { ...MINIMAL, source: '//gw/\udfff' }],
    ['data.model', { ...MINIMAL, data: { model: 'large\ud800' } }],
    ['data.list.2', { ...MINIMAL, data: { list: ['a', 'b', 'c\ud800'] } }],
    ['traceparent', { ...MINIMAL, traceparent: '\ud800' }],
  ])('a lone surrogate in %s, with its path', (path, event) => {
    const errors = rejected(checkCloudEvent(event, BOUNDS));
    expect(errors).toEqual([{ path, message: expect.stringMatching(/^holds a lone UTF-16 surrogate/) as string }]);
  });

  it('a lone surrogate in a key of data, naming the key escaped', () => {
    const errors = rejected(checkCloudEvent({ ...MINIMAL, data: { nested: { ['k\ud800']: 1 } } }, BOUNDS));
    expect(errors).toEqual([{ path: 'data.nested', message: expect.stringContaining('has the key "k\\ud800"') as string }]);
  });

  it('keeps well-formed pairs (emoji) anywhere', () => {
    const event = accepted(checkCloudEvent({ ...MINIMAL, id: 'evt-😀', data: { note: '👍' } }, BOUNDS));
    expect(event.id).toBe('evt-😀');
  });

  it.each([' ', '   ', '\t', '\u00a0\u2003'])('an id of only whitespace %j', (id) => {
    const errors = rejected(checkCloudEvent({ ...MINIMAL, id }, BOUNDS));
    expect(errors.map((error) => error.path)).toContain('id');
    expect(errors.find((error) => error.path === 'id')?.message).toMatch(/whitespace|control/);
  });

  it.each(['evt\u0000', 'evt\n1', 'evt\u001b[31m', 'evt\u007f', 'evt\u0085'])('an id holding a control character %j', (id) => {
    const errors = rejected(checkCloudEvent({ ...MINIMAL, id }, BOUNDS));
    expect(errors).toEqual([{ path: 'id', message: 'must not hold control characters (NUL, U+0001-U+001F, U+007F-U+009F)' }]);
  });

  it('blank or control-laden subjects and types, and control characters in source', () => {
    const errors = rejected(checkCloudEvent({ ...MINIMAL, subject: ' ', type: 'a\u0000', source: 'gw\r\n' }, BOUNDS));
    expect(errors.map((error) => error.path).sort()).toEqual(['source', 'subject', 'type']);
  });

  it('keeps ids with inner spaces and non-ASCII letters', () => {
    expect(accepted(checkCloudEvent({ ...MINIMAL, id: ' order 42 – ü ' }, BOUNDS)).id).toBe(' order 42 – ü ');
  });
});
