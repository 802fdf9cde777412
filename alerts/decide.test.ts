import { describe, expect, it } from 'vitest';
import { decideBudget, decideForecast, decideSpike, decideThresholds, enterPeriod, type RuleState } from './decide.js';
import { detectSpike } from './detectors/spike.js';

const P1 = '2026-11-01T00:00:00.000Z';
const P2 = '2026-12-01T00:00:00.000Z';
const fresh = (): RuleState => enterPeriod(undefined, P1, '2026-11-02T00:00:00.000Z').state;

describe('thresholds over a period', () => {
  it('reports each threshold once even when spend dips and rises again', () => {
    let state = fresh();
    const steps: Array<[string, string[]]> = [
      ['120', ['100']],
      ['90', []],
      ['130', []],
      ['620', ['500']],
      ['2100', ['1000', '1500', '2000']],
    ];
    for (const [value, expected] of steps) {
      const decision = decideThresholds(state, value, ['100', '500'], '500');
      expect(decision.fire.map((f) => f.threshold)).toEqual(expected);
      expect(decision.fire.map((f) => f.key)).toEqual(expected.map((t) => ['threshold', t]));
      state = decision.state;
    }
    expect(state.high).toBe('2100');
  });

  it('starts again in a new period and resolves the old period’s alerts without a notification', () => {
    const state: RuleState = { ...fresh(), high: '700', periodAlerts: ['alr_a', 'alr_b'] };
    const same = enterPeriod(state, P1, '2026-11-03T00:00:00.000Z');
    expect(same.resolve).toEqual([]);
    expect(same.state.high).toBe('700');
    const next = enterPeriod(state, P2, '2026-12-01T00:01:00.000Z');
    expect(next.resolve).toEqual([
      { alertId: 'alr_a', resolution: 'the billing period ended', notify: false },
      { alertId: 'alr_b', resolution: 'the billing period ended', notify: false },
    ]);
    expect(next.state.high).toBeUndefined();
    expect(decideThresholds(next.state, '150', ['100'], undefined).fire.map((f) => f.threshold)).toEqual(['100']);
  });

  it('reports budget percentages with their amounts', () => {
    const decision = decideBudget(fresh(), '850', '1000', [50, 80, 100]);
    expect(decision.fire).toEqual([
      { key: ['budget', '50'], threshold: '500', percentage: '50' },
      { key: ['budget', '80'], threshold: '800', percentage: '80' },
    ]);
    expect(decideBudget(decision.state, '999.99', '1000', [50, 80, 100]).fire).toEqual([]);
  });
});

describe('forecast', () => {
  it('fires once while above, resolves with a notification when back under, and fires again on a new rise', () => {
    let state = fresh();
    const run = (projected: string) => {
      const decision = decideForecast(state, projected, '1000');
      state = decision.fire.length > 0 ? { ...decision.state, firingAlertId: `alr_${decision.state.forecastRises}` } : decision.state;
      return decision;
    };
    expect(run('900').fire).toEqual([]);
    expect(run('1200').fire).toEqual([{ key: ['forecast', '1'] }]);
    expect(run('1300').fire).toEqual([]);
    expect(run('1000').resolve).toEqual([{ alertId: 'alr_1', resolution: 'the forecast fell back under the budget', notify: true }]);
    expect(run('1000.01').fire).toEqual([{ key: ['forecast', '2'] }]);
  });

  it('resolves a firing forecast silently when the period ends', () => {
    const state: RuleState = { ...fresh(), forecastAbove: true, forecastRises: 1, firingAlertId: 'alr_f' };
    const next = enterPeriod(state, P2, '2026-12-01T00:01:00.000Z');
    expect(next.resolve).toEqual([{ alertId: 'alr_f', resolution: 'the billing period ended', notify: false }]);
    expect(next.state).toMatchObject({ forecastAbove: false, forecastRises: 0 });
    expect(next.state.firingAlertId).toBeUndefined();
  });
});

describe('spike episodes', () => {
  const spike = (current: string, firing: boolean) =>
    detectSpike({ current, baseline: ['10', '10', '10'], ratio: '3', resolveRatio: '1.5', minIncrease: '5', firing });

  it('numbers each episode, keeps firing between the bounds, and resolves with a notification', () => {
    let state = fresh();
    const run = (current: string) => {
      const decision = decideSpike(state, spike(current, state.spikeFiring));
      state = decision.fire.length > 0 ? { ...decision.state, firingAlertId: `alr_s${decision.state.spikeFires}` } : decision.state;
      return decision;
    };
    expect(run('29').fire).toEqual([]);
    expect(run('30').fire).toEqual([{ key: ['spike', '1'] }]);
    expect(run('20').resolve).toEqual([]);
    expect(run('14').resolve).toEqual([{ alertId: 'alr_s1', resolution: 'the cost fell back towards its baseline', notify: true }]);
    expect(run('50').fire).toEqual([{ key: ['spike', '2'] }]);
  });

  it('carries a firing spike into the next period', () => {
    const state: RuleState = { ...fresh(), spikeFiring: true, spikeFires: 3, firingAlertId: 'alr_s3' };
    const next = enterPeriod(state, P2, '2026-12-01T00:01:00.000Z');
    expect(next.resolve).toEqual([]);
    expect(next.state).toMatchObject({ spikeFiring: true, spikeFires: 3, firingAlertId: 'alr_s3' });
  });
});
