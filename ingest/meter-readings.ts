import type { Meter } from '../catalog/index.js';
import { toMeterDecimal } from '../platform/decimal.js';
import type { MeterReading } from '../eventlog/index.js';
import { canonicalNumberText } from '../platform/money.js';
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

function isNumeric(value: unknown): value is number | bigint | { isLosslessNumber: true } {
  return typeof value === 'number' || typeof value === 'bigint' || (typeof value === 'object' && value !== null && 'isLosslessNumber' in value);
}

/** One text per numeric value ("1.50", 1.5 and 1.5e0 alike), whichever JSON parsing path read it. */
function canonicalNumber(value: number | bigint | { isLosslessNumber: true }): string {
  try {
    return canonicalNumberText(String(value));
  } catch {
    return String(value);
  }
}

/** Numbers inside nested values, made canonical so a dimension's JSON does not depend on the parser. */
function canonicalJson(value: unknown): unknown {
  if (isNumeric(value)) return canonicalNumber(value);
  if (Array.isArray(value)) return value.map(canonicalJson);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, canonicalJson(inner)]));
  }
  return value;
}

/** A group-by or distinct-count value as text. */
function dimensionValue(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return String(value);
  if (isNumeric(value)) return canonicalNumber(value);
  return JSON.stringify(canonicalJson(value));
}

export type ReadingsCheck = { ok: true; readings: MeterReading[] } | { ok: false; errors: FieldError[] };

/**
 * What each meter of the event's type reads from its data. An event that a meter cannot read
 * (value missing, or not a decimal number) is rejected as a whole: storing it half-metered
 * would under-bill silently.
 *
 * Sign rule: a SUM meter adds credits and corrections, so its values may be negative (the unit
 * and markup prices turn a negative total into a credit). MAX, MIN, LATEST and AVG meters read
 * gauges (seats, devices, gigabytes) that cannot go below zero, and the prices they feed have no
 * meaning for a negative figure: a negative value there is refused at the door, not at rating.
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
        if (decimal.value.startsWith('-') && meter.aggregation !== 'SUM') {
          errors.push({
            path: where,
            message: `meter ${meter.key} (${meter.aggregation}) takes values of 0 or more, got ${decimal.value}; only SUM meters take negative values (credits, corrections)`,
          });
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
