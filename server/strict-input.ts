import type { FastifySchemaCompiler } from 'fastify';
import { jsonSchemaTransform, validatorCompiler } from 'fastify-type-provider-zod';
import { z } from 'zod';

/*
 * Request bodies are strict: a field the API does not know is a 400 that names it, never quietly
 * dropped (a dropped field is a setting the caller believes they made). zod strips unknown keys
 * by default, so every schema a body is validated with goes through strictInput first; the
 * schemas themselves stay as written, because response schemas reuse them and the stored rows
 * they read back must not fail on that.
 */

type Schema = z.ZodType;
type Def = Schema['_zod']['def'];
// zod's defs are one type per schema kind; only the parts that hold other schemas are read here.
type AnyDef = Def & Record<string, unknown>;

const strictened = new WeakMap<Schema, Schema>();

function rebuilt(schema: Schema, def: AnyDef, changes: Record<string, unknown>): Schema {
  return schema.clone({ ...def, ...changes } as Def);
}

function strict(schema: Schema): Schema {
  const known = strictened.get(schema);
  if (known) return known;
  const def = schema._zod.def as AnyDef;
  let result: Schema;
  switch (def.type) {
    case 'object': {
      const shape = def.shape as Record<string, Schema>;
      const strictShape = Object.fromEntries(Object.entries(shape).map(([key, value]) => [key, strict(value)]));
      // An object that already says what extra keys may be (.loose(), .catchall()) keeps its rule.
      result = rebuilt(schema, def, { shape: strictShape, catchall: def.catchall ?? z.never() });
      break;
    }
    case 'array':
      result = rebuilt(schema, def, { element: strict(def.element as Schema) });
      break;
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'nonoptional':
    case 'readonly':
    case 'catch':
      result = rebuilt(schema, def, { innerType: strict(def.innerType as Schema) });
      break;
    case 'pipe':
      // Only the input side sees what the caller sent.
      result = rebuilt(schema, def, { in: strict(def.in as Schema) });
      break;
    case 'union':
      result = rebuilt(schema, def, { options: (def.options as Schema[]).map(strict) });
      break;
    case 'record':
      result = rebuilt(schema, def, { valueType: strict(def.valueType as Schema) });
      break;
    case 'intersection':
      // Each side of an intersection sees the other side's keys as unknown: left as written.
      result = schema;
      break;
    case 'lazy': {
      const getter = def.getter as () => Schema;
      result = rebuilt(schema, def, { getter: () => strict(getter()) });
      break;
    }
    default:
      result = schema;
  }
  strictened.set(schema, result);
  return result;
}

/** The same schema with every object in it refusing keys it does not declare. */
export function strictInput<T extends Schema>(schema: T): T {
  return strict(schema) as T;
}

/** The zod validator compiler, with bodies validated by their strict twin. */
export const strictBodyValidatorCompiler: FastifySchemaCompiler<z.ZodType> = (route) =>
  validatorCompiler(route.httpPart === 'body' ? { ...route, schema: strictInput(route.schema) } : route);

/** The OpenAPI transform, showing bodies as validated: `additionalProperties: false`. */
export const strictBodyJsonSchemaTransform: typeof jsonSchemaTransform = (document) => {
  const body: unknown = document.schema?.body;
  if (!(body instanceof z.ZodType)) return jsonSchemaTransform(document);
  return jsonSchemaTransform({ ...document, schema: { ...document.schema, body: strictInput(body) } });
};
