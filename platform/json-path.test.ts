import fc from 'fast-check';
import { LosslessNumber, parse as parseLossless } from 'lossless-json';
import { describe, expect, it } from 'vitest';
import { compileJsonPath, isJsonPath, JsonPathError, readJsonPath, type JsonPath } from './json-path.js';

function read(source: string, root: unknown): unknown {
  return readJsonPath(compileJsonPath(source), root);
}

function compileError(source: string): JsonPathError {
  try {
    compileJsonPath(source);
  } catch (error) {
    if (error instanceof JsonPathError) return error;
    throw error;
  }
  throw new Error(`expected ${JSON.stringify(source)} to be rejected`);
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

/** Writes segments back as path text, choosing among the equivalent spellings. */
function render(segments: ReadonlyArray<string | number>, style: ReadonlyArray<number>): string {
  let source = '$';
  segments.forEach((segment, index) => {
    const choice = style[index % Math.max(style.length, 1)] ?? 0;
    if (typeof segment === 'number') source += `[${segment}]`;
    else if (IDENTIFIER.test(segment) && choice % 3 === 0) source += `.${segment}`;
    else {
      const quote = choice % 2 === 0 ? "'" : '"';
      // Escape the other quote too on some segments: it is allowed and means the same.
      const escapeBoth = choice % 5 === 0;
      let body = '';
      for (const ch of segment) {
        if (ch === '\\' || ch === quote || (escapeBoth && (ch === "'" || ch === '"'))) body += `\\${ch}`;
        else body += ch;
      }
      source += `[${quote}${body}${quote}]`;
    }
  });
  return source;
}

const awkwardKey = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme' }),
  fc.constantFrom(
    '__proto__',
    'constructor',
    'prototype',
    'toString',
    'hasOwnProperty',
    'length',
    '0',
    '',
    'a.b',
    "it's",
    'say "hi"',
    '\\',
    '$',
    '[0]',
    "']",
    'a-b',
    '_',
  ),
);

describe('compileJsonPath worked examples', () => {
  it.each<[string, Array<string | number>]>([
    ['$', []],
    ['$.a', ['a']],
    ['$.a.b', ['a', 'b']],
    ['$.items[0].price', ['items', 0, 'price']],
    ['$[12][0]', [12, 0]],
    ["$['a b']", ['a b']],
    ['$["a b"]', ['a b']],
    ["$['it\\'s']", ["it's"]],
    ['$["say \\"hi\\""]', ['say "hi"']],
    ["$['back\\\\slash']", ['back\\slash']],
    ["$['\"']", ['"']],
    ['$["\'"]', ["'"]],
    ["$['\\\"']", ['"']],
    ["$['']", ['']],
    ["$['a.b[0]']", ['a.b[0]']],
    ['$.a-b', ['a-b']],
    ['$.$ref', ['$ref']],
    ['$._', ['_']],
    ['$.x1.Y_2', ['x1', 'Y_2']],
    ["$['日本']", ['日本']],
    ['$[4294967294]', [4294967294]],
  ])('compiles %s', (source, segments) => {
    const path = compileJsonPath(source);
    expect(path.source).toBe(source);
    expect(path.segments).toEqual(segments);
    expect(isJsonPath(source)).toBe(true);
  });

  it.each<[string, number, string]>([
    ['', 0, "expected '$' but found the end of the path"],
    ['a', 0, `expected '$' but found "a"`],
    ['$.', 2, 'expected a property name starting with a letter, "_" or "$" but found the end of the path'],
    ['$..a', 2, 'expected a property name'],
    ['$.*', 2, 'expected a property name'],
    ['$.1a', 2, 'expected a property name'],
    ['$a', 1, "expected '.' or '['"],
    ['$ .a', 1, "expected '.' or '['"],
    ['$.a b', 3, "expected '.' or '['"],
    ['$.a.', 4, 'expected a property name'],
    ['$[*]', 2, 'expected a quoted property name or a non-negative integer index but found "*"'],
    ['$[-1]', 2, 'expected a quoted property name or a non-negative integer index'],
    ['$[ 0]', 2, 'expected a quoted property name or a non-negative integer index'],
    ['$[?(@.a)]', 2, 'expected a quoted property name or a non-negative integer index'],
    ['$[01]', 2, 'expected an index without leading zeros'],
    ['$[4294967295]', 2, 'expected an index no larger than 4294967294'],
    ['$[99999999999999999999]', 2, 'expected an index no larger than 4294967294'],
    ['$[1:2]', 3, "expected ']' but found \":\""],
    ['$[0,1]', 3, "expected ']'"],
    ['$[0', 3, "expected ']' but found the end of the path"],
    ["$['a'", 5, "expected ']' but found the end of the path"],
    ["$['a", 4, "expected a closing ' but found the end of the path"],
    ['$["a\']', 6, 'expected a closing " but found the end of the path'],
    ["$['a\\n']", 5, 'expected one of \\, \' or " after a backslash but found "n"'],
    ["$['a\\", 5, 'expected one of \\, \' or " after a backslash but found the end of the path'],
    ["$['a']x", 6, "expected '.' or '['"],
    ['$..*', 2, 'expected a property name'],
    ['$.a[0:]', 5, "expected ']'"],
  ])('rejects %j at position %i', (source, position, expected) => {
    const error = compileError(source);
    expect(error).toBeInstanceOf(JsonPathError);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('JsonPathError');
    expect(error.position).toBe(position);
    expect(error.message).toContain(`at position ${position} ${expected}`);
    expect(error.message).toContain(JSON.stringify(source));
    expect(isJsonPath(source)).toBe(false);
  });

  it('returns a frozen path', () => {
    const path = compileJsonPath('$.a[0]');
    expect(Object.isFrozen(path)).toBe(true);
    expect(Object.isFrozen(path.segments)).toBe(true);
  });
});

describe('readJsonPath worked examples', () => {
  const event = {
    tenant: 'acme',
    usage: { gpu_seconds: '12.5', 'bytes out': 4096, tags: ['a', 'b'], nested: [{ id: 'x' }, null] },
    'odd.key': true,
    nothing: null,
  };

  it('reads values along names and indices', () => {
    expect(read('$', event)).toBe(event);
    expect(read('$.tenant', event)).toBe('acme');
    expect(read('$.usage.gpu_seconds', event)).toBe('12.5');
    expect(read("$.usage['bytes out']", event)).toBe(4096);
    expect(read('$.usage.tags[1]', event)).toBe('b');
    expect(read('$.usage.nested[0].id', event)).toBe('x');
    expect(read("$['odd.key']", event)).toBe(true);
    expect(read('$.usage.tags', event)).toBe(event.usage.tags);
  });

  it('tells a present null apart from a missing value', () => {
    expect(read('$.nothing', event)).toBeNull();
    expect(read('$.usage.nested[1]', event)).toBeNull();
    expect(read('$.missing', event)).toBeUndefined();
    expect(read('$.nothing.below', event)).toBeUndefined();
  });

  it('returns undefined for wrong container types instead of coercing', () => {
    expect(read('$.usage.tags[2]', event)).toBeUndefined();
    expect(read('$.usage.tags.length', event)).toBeUndefined();
    expect(read("$.usage.tags['0']", event)).toBeUndefined();
    expect(read('$.usage[0]', event)).toBeUndefined();
    expect(read('$[0]', { 0: 'zero' })).toBeUndefined();
    expect(read('$.tenant.length', event)).toBeUndefined();
    expect(read('$.tenant[0]', event)).toBeUndefined();
    expect(read('$.a', 'string root')).toBeUndefined();
    expect(read('$[0]', 'string root')).toBeUndefined();
    expect(read('$.a', null)).toBeUndefined();
    expect(read('$.a', undefined)).toBeUndefined();
    expect(read('$.a', 42)).toBeUndefined();
    expect(read('$.size', new Map([['size', 1]]))).toBeUndefined();
    expect(read('$.getTime', new Date(0))).toBeUndefined();
    expect(read('$[0]', new Uint8Array([7]))).toBeUndefined();
  });

  it('never follows the prototype chain', () => {
    for (const name of ['toString', 'constructor', 'hasOwnProperty', '__proto__', 'valueOf', 'isPrototypeOf']) {
      expect(read(`$.${name}`, {})).toBeUndefined();
      expect(read(`$.${name}`, event)).toBeUndefined();
    }
    expect(read('$.__proto__.polluted', {})).toBeUndefined();
    expect(read('$.constructor.prototype', {})).toBeUndefined();
    expect(read('$.push', [])).toBeUndefined();
    const child = Object.create({ inherited: 1 }) as object;
    expect(read('$.inherited', child)).toBeUndefined();
    expect(read('$.inherited', Object.assign(Object.create({ inherited: 1 }) as object, { own: 2 }))).toBeUndefined();
  });

  it('reads "__proto__" and friends when the data really has them as keys', () => {
    const parsed: unknown = JSON.parse('{"__proto__": {"x": 1}, "constructor": "c", "toString": [5]}');
    expect(read('$.__proto__.x', parsed)).toBe(1);
    expect(read("$['__proto__']['x']", parsed)).toBe(1);
    expect(read('$.constructor', parsed)).toBe('c');
    expect(read('$.toString[0]', parsed)).toBe(5);
    expect(read('$.a', Object.assign(Object.create(null) as object, { a: 'null prototype' }))).toBe('null prototype');
  });

  it('skips array holes', () => {
    const sparse: unknown[] = [];
    sparse[2] = 'x';
    expect(read('$[0]', sparse)).toBeUndefined();
    expect(read('$[2]', sparse)).toBe('x');
  });

  it('never runs a getter', () => {
    let calls = 0;
    const tricky = {
      get secret() {
        calls += 1;
        return 'leaked';
      },
    };
    expect(read('$.secret', tricky)).toBeUndefined();
    expect(calls).toBe(0);
  });

  it('treats a LosslessNumber as a leaf, so both JSON parsing paths read alike', () => {
    const lossless = parseLossless('{"v": 12345678901234567890}') as unknown;
    const value = read('$.v', lossless);
    expect(value).toBeInstanceOf(LosslessNumber);
    expect((value as LosslessNumber).value).toBe('12345678901234567890');
    expect(read('$.v.value', lossless)).toBeUndefined();
    expect(read('$.v.value', { v: 1 })).toBeUndefined();
  });
});

describe('json path properties', () => {
  const segment = fc.oneof(awkwardKey, fc.nat({ max: 1000 }), fc.constantFrom(0, 4294967294));
  const style = fc.array(fc.nat(29), { minLength: 1, maxLength: 8 });

  it('compiles every rendered path back to its segments', () => {
    fc.assert(
      fc.property(fc.array(segment, { maxLength: 8 }), style, (segments, choices) => {
        const source = render(segments, choices);
        const path = compileJsonPath(source);
        expect(path.segments).toEqual(segments);
        expect(path.source).toBe(source);
      }),
      { numRuns: 2000 },
    );
  });

  it('either compiles or throws JsonPathError for any text', () => {
    const near = fc
      .array(fc.constantFrom('$', '.', '[', ']', "'", '"', '\\', 'a', '0', '1', '-', '_', ' ', '*', '?', '@', ':'), {
        maxLength: 14,
      })
      .map((chars) => chars.join(''));
    fc.assert(
      fc.property(fc.oneof(near, fc.string(), fc.string({ unit: 'binary' })), (source) => {
        let compiled: JsonPath | undefined;
        try {
          compiled = compileJsonPath(source);
        } catch (error) {
          expect(error).toBeInstanceOf(JsonPathError);
          const position = (error as JsonPathError).position;
          expect(position).toBeGreaterThanOrEqual(0);
          expect(position).toBeLessThanOrEqual(source.length);
        }
        expect(isJsonPath(source)).toBe(compiled !== undefined);
        // What compiles is always $ followed by names and indices, nothing else.
        if (compiled !== undefined) {
          expect(source.startsWith('$')).toBe(true);
          for (const s of compiled.segments) {
            if (typeof s === 'number') expect(Number.isSafeInteger(s) && s >= 0).toBe(true);
            else expect(typeof s).toBe('string');
          }
        }
      }),
      { numRuns: 3000 },
    );
  });

  // Random nested data built from objects (via Object.fromEntries, so "__proto__" becomes an own
  // key as it would from JSON.parse) and arrays, with scalar leaves.
  const tree = fc.letrec<{ node: unknown }>((tie) => ({
    node: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null), fc.double()),
      fc.array(tie('node'), { maxLength: 4 }),
      fc.array(fc.tuple(awkwardKey, tie('node')), { maxLength: 4 }).map((entries) => Object.fromEntries(entries)),
    ),
  })).node;

  function allPaths(value: unknown, prefix: Array<string | number> = []): Array<[Array<string | number>, unknown]> {
    const found: Array<[Array<string | number>, unknown]> = [[prefix, value]];
    if (Array.isArray(value)) {
      value.forEach((item, index) => found.push(...allPaths(item, [...prefix, index])));
    } else if (typeof value === 'object' && value !== null) {
      for (const [key, item] of Object.entries(value)) found.push(...allPaths(item, [...prefix, key]));
    }
    return found;
  }

  it('reads the value found at a random path into random data', () => {
    fc.assert(
      fc.property(tree, fc.nat(), style, (root, pick, choices) => {
        const paths = allPaths(root);
        const [segments, expected] = paths[pick % paths.length] ?? [[], root];
        const path = compileJsonPath(render(segments, choices));
        expect(Object.is(readJsonPath(path, root), expected)).toBe(true);
        // The same path works on a JSON round trip of the data.
        const copy: unknown = JSON.parse(JSON.stringify(root));
        expect(readJsonPath(path, copy)).toEqual(JSON.parse(JSON.stringify([expected]))[0]);
      }),
      { numRuns: 2000 },
    );
  });

  it('returns undefined one step past any leaf or off any container', () => {
    fc.assert(
      fc.property(tree, fc.nat(), segment, style, (root, pick, extra, choices) => {
        const paths = allPaths(root);
        const [segments, found] = paths[pick % paths.length] ?? [[], root];
        const beyond = [...segments, extra];
        const expected =
          typeof extra === 'number'
            ? Array.isArray(found) && Object.hasOwn(found, extra)
              ? found[extra]
              : undefined
            : typeof found === 'object' && found !== null && !Array.isArray(found) && Object.hasOwn(found, extra)
              ? (found as Record<string, unknown>)[extra]
              : undefined;
        expect(Object.is(readJsonPath(compileJsonPath(render(beyond, choices)), root), expected)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});
