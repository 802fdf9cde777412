import { describe, expect, it } from 'vitest';
import { AGGREGATIONS, combineFigures, limitClause, periodWhere, subjectFiguresRow, usageSettings, valueColumnsRow, valueOf, type SubjectFigures } from './usage-queries.js';
import { meterUsageRow } from './usage.js';

const row = { v_sum: '10.5', v_count: '4', v_max: '7', v_min: '0.5', v_unique: '3', v_latest: '2' };
const figures = (overrides: Partial<SubjectFigures>): SubjectFigures => ({
  ...row,
  subject: 's',
  meter_key: 'm',
  v_latest_time: '2026-11-01 00:00:00.000',
  ...overrides,
});

describe('periodWhere', () => {
  it('scopes by tenant and the half-open minute range, with query parameters only', () => {
    const where = periodWhere({ meters: 'one', subjects: 'all' });
    expect(where).toMatch(/^tenant_id = \{tenantId:String\} AND meter_key = \{meterKey:String\}\s/);
    expect(where).toContain("toStartOfMinute(time) >= {from:DateTime64(3, 'UTC')} AND toStartOfMinute(time) < {to:DateTime64(3, 'UTC')}");
    expect(where).not.toContain('subject IN');
  });

  it('filters by many meters and the listed subjects when asked', () => {
    const where = periodWhere({ meters: 'many', subjects: 'listed' });
    expect(where).toContain('meter_key IN {meterKeys:Array(String)} AND subject IN {subjects:Array(String)}');
  });
});

describe('usageSettings and limitClause', () => {
  it('always asks for the projection and adds the engine timeout in seconds', () => {
    expect(usageSettings(undefined)).toBe(' SETTINGS optimize_use_projections = 1');
    expect(usageSettings(2_500)).toBe(" SETTINGS optimize_use_projections = 1, max_execution_time = 2.5, timeout_overflow_mode = 'throw'");
  });

  it('renders a row limit and refuses one that is not a positive integer', () => {
    expect(limitClause(undefined)).toBe('');
    expect(limitClause(1_001)).toBe('LIMIT 1001');
    expect(() => limitClause(0)).toThrow(/not a row limit/);
    expect(() => limitClause(1.5)).toThrow(/not a row limit/);
  });
});

describe('the aggregation switch', () => {
  it('picks each aggregation from the value columns', () => {
    expect(valueOf('SUM', row)).toBe('10.5');
    expect(valueOf('COUNT', row)).toBe('4');
    expect(valueOf('MAX', row)).toBe('7');
    expect(valueOf('MIN', row)).toBe('0.5');
    expect(valueOf('UNIQUE_COUNT', row)).toBe('3');
    expect(valueOf('LATEST', row)).toBe('2');
    expect(valueOf('AVG', row)).toBe('2.625');
  });

  it('covers every aggregation once', () => {
    expect(Object.keys(AGGREGATIONS).sort()).toEqual(['AVG', 'COUNT', 'LATEST', 'MAX', 'MIN', 'SUM', 'UNIQUE_COUNT']);
  });

  it('combines subjects exactly as one read over all of them would', () => {
    const a = figures({ v_sum: '99999999999999999999999999999.5', v_count: '1', v_max: '3', v_min: '-1', v_latest: 'a', v_latest_time: '2026-11-02 00:00:00.000' });
    const b = figures({ v_sum: '0.5', v_count: '3', v_max: '9', v_min: '2', v_latest: 'b', v_latest_time: '2026-11-01 00:00:00.000' });
    expect(combineFigures('SUM', [a, b])).toBe('100000000000000000000000000000');
    expect(combineFigures('COUNT', [a, b])).toBe('4');
    expect(combineFigures('MAX', [a, b])).toBe('9');
    expect(combineFigures('MIN', [a, b])).toBe('-1');
    expect(combineFigures('LATEST', [b, a])).toBe('a');
    expect(combineFigures('AVG', [figures({ v_sum: '1', v_count: '1' }), figures({ v_sum: '2', v_count: '2' })])).toBe('1');
  });

  it('answers zero without figures and refuses to add distinct counts across subjects', () => {
    expect(combineFigures('MAX', [])).toBe('0');
    expect(combineFigures('UNIQUE_COUNT', [figures({ v_unique: '5' })])).toBe('5');
    expect(combineFigures('UNIQUE_COUNT', [figures({}), figures({})])).toBeUndefined();
  });
});

describe('row schemas', () => {
  it('refuses value columns that are not text (a number would lose decimals)', () => {
    expect(valueColumnsRow.safeParse(row).success).toBe(true);
    expect(valueColumnsRow.safeParse({ ...row, v_sum: 10.5 }).success).toBe(false);
    expect(valueColumnsRow.safeParse({ ...row, v_latest: undefined }).success).toBe(false);
    expect(subjectFiguresRow.safeParse({ ...row, subject: 's', meter_key: 'm' }).success).toBe(false);
  });

  it('shapes a meter-usage row after what the query splits by', () => {
    const split = meterUsageRow({ windowSize: 'DAY', bySubject: true, groupBy: ['region'] });
    expect(split.parse({ ...row, window_start: 1_700_000_000, subject: 's1', dim0: null })).toMatchObject({ window_start: 1_700_000_000, dim0: null });
    expect(split.safeParse({ ...row, window_start: '1700000000', subject: 's1', dim0: 'eu' }).success).toBe(false);
    expect(split.safeParse({ ...row, window_start: 1_700_000_000, dim0: 'eu' }).success).toBe(false);
    const total = meterUsageRow({ bySubject: false, groupBy: [] });
    expect(total.safeParse(row).success).toBe(true);
  });
});
