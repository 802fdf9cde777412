import type { Meter } from '../catalog/index.js';
import { toMeterDecimal } from '../platform/decimal.js';
import type { MeterReading } from '../platform/event-log.js';
import { compileJsonPath, readJsonPath, type JsonPath } from '../platform/json-path.js';
import type { FieldError } from './cloud-event.js';

interface CompiledMeter {
  readonly meter: Meter;
  readonly value?: JsonPath;
  readonly dims: ReadonlyArray<readonly [string, JsonPath]>;
}

const compiled = new WeakMap<Meter, CompiledMeter>();

function compile(meter: Meter): CompiledMeter {
  let entry = compiled.get(meter);
  if (!entry) {
    entry = {
      meter,
      ...(meter.valueProperty !== undefined ? { value: compileJsonPath(meter.valueProperty) } : {}),
      dims: Object.keys(meter.groupBy)
        .sort()
        .map((dim) => [dim, compileJsonPath(meter.groupBy[dim] as string)] as const),
    };
    compiled.set(meter, entry);
  }
  return entry;
}

/** Where a JSONPath under `data` points, as a field path of the event ("data.tokens"). */
function dataPath(path: JsonPath): string {
  return ['data', ...path.segments.map(String)].join('.');
}

function isNumeric(value: unknown): boolean {
  return typeof value === 'number' || typeof value === 'bigint' || (typeof value === 'object' && value !== null && 'isLosslessNumber' in value);
}

/**
 * A group-by value as text. Numbers are written canonically ("1.50" and 1.5 are one group),
 * whichever JSON parsing path read them.
 */
function dimensionValue(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return String(value);
  if (isNumeric(value)) {
    const decimal = toMeterDecimal(value);
    return decimal.ok ? decimal.value : String(value);
  }
  return JSON.stringify(value);
}

export type ReadingsCheck = { ok: true; readings: MeterReading[] } | { ok: false; errors: FieldError[] };

/**
 * What each meter of the event's type reads from its data. An event that a meter cannot read
 * (value missing, or not a decimal number) is rejected as a whole: storing it half-metered
 * would under-bill silently.
 */
export function readMeters(data: Record<string, unknown>, meters: readonly Meter[]): ReadingsCheck {
  const readings: MeterReading[] = [];
  const errors: FieldError[] = [];
  for (const meter of meters) {
    const { value: valuePath, dims } = compile(meter);
    let value = '0';
    let valueKey = '';
    if (valuePath !== undefined) {
      const raw = readJsonPath(valuePath, data);
      const where = dataPath(valuePath);
      if (raw === undefined || raw === null) {
        errors.push({ path: where, message: `required by meter ${meter.key} (${meter.valueProperty})` });
        continue;
      }
      if (meter.aggregation === 'UNIQUE_COUNT') {
        const key = typeof raw === 'string' || isNumeric(raw) ? dimensionValue(raw) : undefined;
        if (key === undefined || key === null || key === '') {
          errors.push({ path: where, message: `meter ${meter.key} counts distinct values: expected a string or number` });
          continue;
        }
        valueKey = key;
      } else {
        const decimal = toMeterDecimal(raw);
        if (!decimal.ok) {
          errors.push({ path: where, message: `meter ${meter.key}: ${decimal.reason}` });
          continue;
        }
        value = decimal.value;
      }
    }
    const groupBy: Record<string, string | null> = {};
    for (const [dim, path] of dims) groupBy[dim] = dimensionValue(readJsonPath(path, data));
    readings.push({ meterKey: meter.key, value, valueKey, groupBy: JSON.stringify(groupBy) });
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, readings };
}
