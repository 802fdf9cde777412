/**
 * Rules for text that reaches the store. ClickHouse refuses a string holding a lone UTF-16
 * surrogate (JSON can spell one as "\ud800", UTF-8 cannot), and it refuses it for the whole
 * insert, so such text must be stopped at the edge, per request, before any batching.
 */

/** The deepest nesting of arrays and objects a JSON body may have (the outermost counts as 1). */
export const MAX_JSON_DEPTH = 64;

// With the u flag a well-formed pair is one code point outside this range; only lone halves match.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;
// C0 controls (NUL included), DEL and the C1 controls: matching them is the point here.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001F\u007F-\u009F]/u;

export function hasLoneSurrogate(text: string): boolean {
  return LONE_SURROGATE.test(text);
}

export function hasControlCharacter(text: string): boolean {
  return CONTROL.test(text);
}

/** True for the empty string and for text of only whitespace (Unicode's, not just ASCII's). */
export function isBlank(text: string): boolean {
  return text.trim() === '';
}

function pathOf(parent: string, key: string | number): string {
  return parent === '' ? String(key) : `${parent}.${key}`;
}

function holdsLoneSurrogate(value: unknown): boolean {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const current = stack.pop();
    if (typeof current === 'string') {
      if (LONE_SURROGATE.test(current)) return true;
    } else if (Array.isArray(current)) {
      for (const item of current) stack.push(item);
    } else if (current !== null && typeof current === 'object') {
      for (const key in current) {
        if (!Object.hasOwn(current, key)) continue;
        if (LONE_SURROGATE.test(key)) return true;
        stack.push((current as Record<string, unknown>)[key]);
      }
    }
  }
  return false;
}

export interface SurrogateFinding {
  /** Where: the string itself, or for a key the object that holds it. */
  readonly path: string;
  /** For a key: the key as a JSON string literal, so the answer itself stays well-formed text. */
  readonly key?: string;
}

/**
 * The first string (value or object key) holding a lone surrogate, or undefined when there is
 * none. Paths join keys and array indexes with ".", like the rest of the API's details. Walks
 * with an explicit stack so a deep value cannot overflow the call stack.
 */
export function findLoneSurrogate(value: unknown, root = ''): SurrogateFinding | undefined {
  // Almost no value holds one: a walk that builds no paths answers those, at ingest rates.
  if (!holdsLoneSurrogate(value)) return undefined;
  const stack: Array<{ value: unknown; path: string }> = [{ value, path: root }];
  while (stack.length > 0) {
    const { value: current, path } = stack.pop() as { value: unknown; path: string };
    if (typeof current === 'string') {
      if (hasLoneSurrogate(current)) return { path };
    } else if (Array.isArray(current)) {
      for (let index = current.length - 1; index >= 0; index -= 1) stack.push({ value: current[index], path: pathOf(path, index) });
    } else if (current !== null && typeof current === 'object') {
      const entries = Object.entries(current as Record<string, unknown>);
      for (let index = entries.length - 1; index >= 0; index -= 1) {
        const [key, child] = entries[index] as [string, unknown];
        // JSON.stringify escapes lone surrogates (ES2019), which keeps the finding printable.
        if (hasLoneSurrogate(key)) return { path, key: JSON.stringify(key) };
        stack.push({ value: child, path: pathOf(path, key) });
      }
    }
  }
  return undefined;
}

/** The detail for a lone surrogate found in a body, the same on every route. */
export function surrogateMessage(finding: SurrogateFinding): string {
  const what = 'a lone UTF-16 surrogate (an unpaired \\ud800-\\udfff escape), which cannot be stored';
  return finding.key === undefined ? `holds ${what}` : `has the key ${finding.key}, which holds ${what}`;
}

export class JsonTextError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JsonTextError';
  }
}

/**
 * Throws JsonTextError when arrays and objects in a JSON text nest deeper than `maxDepth`.
 * Brackets inside strings do not count. A linear scan that needs no parse, so it runs before any
 * recursive parser or serializer sees the text.
 */
export function assertJsonDepth(text: string, maxDepth = MAX_JSON_DEPTH): void {
  let depth = 0;
  let inString = false;
  for (let index = 0; index < text.length; index += 1) {
    const code = text.charCodeAt(index);
    if (inString) {
      if (code === 0x5c) index += 1; // backslash: the next character is escaped
      else if (code === 0x22) inString = false;
    } else if (code === 0x22) {
      inString = true;
    } else if (code === 0x5b || code === 0x7b) {
      depth += 1;
      if (depth > maxDepth) throw new JsonTextError(`arrays and objects nest deeper than ${maxDepth} levels`);
    } else if (code === 0x5d || code === 0x7d) {
      depth -= 1;
    }
  }
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Decodes UTF-8 and throws JsonTextError on any invalid byte sequence, where Buffer#toString
 * would put U+FFFD in its place: two different byte strings must never become the same text.
 */
export function decodeUtf8Strict(bytes: Uint8Array): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw new JsonTextError('the body is not valid UTF-8');
  }
}
