import { describe, expect, it } from 'vitest';
import { buildMetrics } from './metrics.js';

describe('buildMetrics', () => {
  it('names no gauge or histogram with a counter\'s "_total" suffix (promtool check metrics)', async () => {
    const metrics = await buildMetrics().registry.getMetricsAsJSON();
    // prom-client's typings declare a numeric enum; at run time the type is Prometheus' own word.
    const misnamed = metrics.filter((metric) => String(metric.type) !== 'counter' && metric.name.endsWith('_total')).map((metric) => metric.name);
    expect(misnamed).toEqual([]);
    expect(metrics.map((metric) => metric.name)).toContain('meterline_nodejs_active_handles');
  });
});
