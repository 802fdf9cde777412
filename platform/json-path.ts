/**
 * A deliberately small JSONPath subset for meter `valueProperty` and `groupBy` paths.
 *
 *   path    := "$" segment*
 *   segment := "." name | "[" quoted "]" | "[" index "]"
 *   name    := [A-Za-z_$] [A-Za-z0-9_$-]*
 *   quoted  := "'" chars "'" | '"' chars '"'   (escapes: \\ \' \")
 *   index   := "0" | [1-9] [0-9]*
 *
 * Hand-written rather than taken from a JSONPath library: general evaluators support filter and
 * script expressions, and several have had code-execution bugs through them. Paths here come from
 * tenants, so the grammar has nothing that could evaluate anything.
 */

export class JsonPathError extends Error {
  override readonly name = 'JsonPathError';
  /** Zero-based offset into the path source where parsing failed. */
  readonly position: number;

  constructor(message: string, position: number) {
    super(message);
    this.position = position;
  }
}

export type JsonPath = { readonly source: string; readonly segments: ReadonlyArray<string | number> };

// The largest array index JavaScript allows (array lengths stop at 2^32 - 1).
const MAX_ARRAY_INDEX = 2 ** 32 - 2;

const NAME_START = /[A-Za-z_$]/;
const NAME_PART = /[A-Za-z0-9_$-]/;
const DIGIT = /[0-9]/;

export function compileJsonPath(source: string): JsonPath {
  if (typeof source !== 'string') throw new JsonPathError('a JSON path must be a string', 0);
  function fail(position: number, expected: string): never {
    const found = position < source.length ? JSON.stringify(source[position]) : 'the end of the path';
    throw new JsonPathError(
      `invalid JSON path ${JSON.stringify(source)}: at position ${position} expected ${expected} but found ${found}`,
      position,
    );
  }

  if (source[0] !== '$') fail(0, "'$'");
  const segments: Array<string | number> = [];
  let i = 1;
  while (i < source.length) {
    const c = source[i];
    if (c === '.') {
      i += 1;
      const start = i;
      if (!NAME_START.test(source[i] ?? '')) fail(i, 'a property name starting with a letter, "_" or "$"');
      i += 1;
      while (i < source.length && NAME_PART.test(source[i] ?? '')) i += 1;
      segments.push(source.slice(start, i));
    } else if (c === '[') {
      i += 1;
      const open = source[i];
      if (open === "'" || open === '"') {
        i += 1;
        let name = '';
        for (;;) {
          const ch = source[i];
          if (ch === undefined) fail(i, `a closing ${open}`);
          if (ch === open) break;
          if (ch === '\\') {
            const escaped = source[i + 1];
            if (escaped !== '\\' && escaped !== "'" && escaped !== '"') {
              fail(i + 1, `one of \\, ' or " after a backslash`);
            }
            name += escaped;
            i += 2;
          } else {
            name += ch;
            i += 1;
          }
        }
        i += 1;
        segments.push(name);
      } else if (DIGIT.test(open ?? '')) {
        const start = i;
        while (i < source.length && DIGIT.test(source[i] ?? '')) i += 1;
        const digits = source.slice(start, i);
        if (digits.length > 1 && digits[0] === '0') fail(start, 'an index without leading zeros');
        // An array index is a count, not a quantity, so a JS number is the right type here.
        const index = digits.length > 10 ? Infinity : Number(digits);
        if (index > MAX_ARRAY_INDEX) fail(start, `an index no larger than ${MAX_ARRAY_INDEX}`);
        segments.push(index);
      } else {
        fail(i, 'a quoted property name or a non-negative integer index');
      }
      if (source[i] !== ']') fail(i, "']'");
      i += 1;
    } else {
      fail(i, "'.' or '['");
    }
  }
  return Object.freeze({ source, segments: Object.freeze(segments) });
}

export function isJsonPath(source: string): boolean {
  try {
    compileJsonPath(source);
    return true;
  } catch (error) {
    if (error instanceof JsonPathError) return false;
    throw error;
  }
}

/**
 * Follows `path` from `root`. Returns undefined when a step is missing or lands on the wrong kind of
 * container: a name needs a plain object, an index needs an array. Nothing is coerced, so `$.length`
 * on an array and `$[0]` on an object with a "0" key are both undefined.
 *
 * Only own data properties are read. Going through the property descriptor never consults the
 * prototype chain (so "__proto__", "constructor" and "toString" resolve only when the data itself
 * has such keys) and never runs a getter. Only plain objects are entered: class instances such as
 * lossless-json's LosslessNumber are leaves, so a path reads the same whichever way the JSON was
 * parsed.
 */
export function readJsonPath(path: JsonPath, root: unknown): unknown | undefined {
  let current: unknown = root;
  for (const segment of path.segments) {
    if (typeof segment === 'number') {
      if (!Array.isArray(current)) return undefined;
    } else if (!isPlainObject(current)) {
      return undefined;
    }
    const descriptor = Object.getOwnPropertyDescriptor(current, segment);
    if (descriptor === undefined || !('value' in descriptor)) return undefined;
    current = descriptor.value;
  }
  return current;
}

function isPlainObject(value: unknown): value is object {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}
