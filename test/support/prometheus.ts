/**
 * Just enough of the Prometheus exposition format and of PromQL to tell whether a query only
 * names metrics a running service exports.
 */

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

/** Metric families declared by `# TYPE` lines: a family exists even before its first sample. */
export function metricFamilies(exposition: string): Map<string, MetricType> {
  const families = new Map<string, MetricType>();
  for (const line of exposition.split('\n')) {
    const match = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)\s*$/.exec(line);
    if (match) families.set(match[1] as string, match[2] as MetricType);
  }
  return families;
}

/**
 * Whether a series name is exported: a family of that exact name, or a histogram's
 * `_bucket` / `_sum` / `_count` series, or a summary's `_sum` / `_count` series. A suffix is
 * only stripped when the remaining family has that type: a counter that happens to end in
 * `_count` is matched by its own name, and a histogram's bare family name is no series at all.
 */
export function isExported(name: string, families: ReadonlyMap<string, MetricType>): boolean {
  const exact = families.get(name);
  if (exact !== undefined) return exact !== 'histogram' && exact !== 'summary';
  const suffix = /^(.+)_(bucket|sum|count)$/.exec(name);
  if (!suffix) return false;
  const type = families.get(suffix[1] as string);
  if (type === 'histogram') return true;
  return type === 'summary' && suffix[2] !== 'bucket';
}

/** PromQL words that look like identifiers but name no metric. */
const KEYWORDS = new Set([
  'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless',
  'offset', 'inf', 'nan', 'atan2', 'start', 'end',
]);

/**
 * The metric names a PromQL expression selects. Strings, label matchers, range and subquery
 * brackets, grouping label lists and Grafana's $variables are removed first; what is left and
 * is not followed by "(" (a function or an aggregation) or a PromQL keyword names a metric.
 * `{__name__="x"}` selectors are not supported and fail loudly.
 */
export function metricNamesInPromQL(expr: string): string[] {
  if (/__name__/.test(expr)) throw new Error(`selectors by __name__ are not supported: ${expr}`);
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\$\{?\w+\}?/g, ' ');
  const names = new Set<string>();
  const identifier = /[A-Za-z_:][A-Za-z0-9_:]*/g;
  let match: RegExpExecArray | null;
  while ((match = identifier.exec(stripped)) !== null) {
    const word = match[0];
    const before = stripped[match.index - 1];
    // Digits glued to letters belong to a number such as 1e3 or 0x1f, not a name.
    if (before !== undefined && /[0-9.]/.test(before)) continue;
    if (KEYWORDS.has(word.toLowerCase())) continue;
    const rest = stripped.slice(match.index + word.length);
    if (/^\s*\(/.test(rest)) continue;
    names.add(word);
  }
  return [...names];
}

/** The metric of a Grafana Prometheus variable query such as label_values(metric{...}, label). */
export function metricNamesInVariableQuery(query: string): string[] {
  const labelValues = /^\s*label_values\(\s*(.*),\s*\w+\s*\)\s*$/.exec(query);
  if (labelValues) return metricNamesInPromQL(labelValues[1] as string);
  const queryResult = /^\s*query_result\((.*)\)\s*$/.exec(query);
  if (queryResult) return metricNamesInPromQL(queryResult[1] as string);
  throw new Error(`not a Prometheus variable query this test reads: ${query}`);
}
