import { describe, expect, it } from 'vitest';
import {
  createConcurrencyGate,
  HEAVY_GRACE_MS,
  LimitExceededError,
  limitsFor,
  QueryTimeoutError,
  runHeavy,
  TooManyQueriesError,
  type LimitsConfig,
} from './limits.js';

const CONFIG: LimitsConfig = {
  defaults: { maxMeters: 10, maxGroups: 20, maxWindows: 30, maxRows: 40, maxHeavyQueries: 2, maxEventBytes: 500 },
  tenants: { big: { maxRows: 1000 } },
  maxHeavyQueries: 3,
  queryTimeoutMs: 50,
};

describe('limitsFor', () => {
  it('lays a tenant override over the defaults and leaves other tenants on them', () => {
    expect(limitsFor(CONFIG, 'big')).toEqual({ ...CONFIG.defaults, maxRows: 1000 });
    expect(limitsFor(CONFIG, 'small')).toEqual(CONFIG.defaults);
    expect(limitsFor(CONFIG, 'constructor')).toEqual(CONFIG.defaults);
  });
});

describe('LimitExceededError', () => {
  it('names the limit, its value and the setting behind it', () => {
    const error = new LimitExceededError('maxWindows', 30, 'the query spans 31 windows', 'windowSize');
    expect(error.message).toBe('the query spans 31 windows (limit maxWindows = 30, set by METERLINE_MAX_WINDOWS or the tenant\'s override)');
    expect(error.path).toBe('windowSize');
  });
});

describe('createConcurrencyGate', () => {
  it('refuses past the process-wide cap and takes again once a slot is given back', () => {
    const gate = createConcurrencyGate(2, 3);
    const first = gate.acquire('a', 5);
    gate.acquire('b', 5);
    expect(() => gate.acquire('c', 5)).toThrow(TooManyQueriesError);
    try {
      gate.acquire('c', 5);
    } catch (error) {
      expect((error as TooManyQueriesError).retryAfterSeconds).toBe(3);
      expect((error as Error).message).toContain('METERLINE_MAX_HEAVY_QUERIES');
    }
    first();
    first();
    expect(gate.inFlight()).toBe(1);
    gate.acquire('c', 5);
    expect(gate.inFlight()).toBe(2);
  });

  it("caps one key below the process-wide cap, leaving room for the others", () => {
    const gate = createConcurrencyGate(3);
    gate.acquire('a', 1);
    expect(() => gate.acquire('a', 1)).toThrow(/PER_TENANT/);
    expect(() => gate.acquire('b', 1)).not.toThrow();
  });
});

describe('runHeavy', () => {
  it('answers with the work and gives the slot back', async () => {
    const gate = createConcurrencyGate(1);
    await expect(runHeavy(gate, 'a', 1, 50, async () => 'done')).resolves.toBe('done');
    expect(gate.inFlight()).toBe(0);
  });

  it('gives the slot back when the work fails', async () => {
    const gate = createConcurrencyGate(1);
    await expect(runHeavy(gate, 'a', 1, 50, async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(gate.inFlight()).toBe(0);
  });

  it('answers a timeout past the bound but holds the slot until the work ends', async () => {
    const gate = createConcurrencyGate(1);
    let finish: () => void = () => undefined;
    const work = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const started = performance.now();
    await expect(runHeavy(gate, 'a', 1, 20, () => work)).rejects.toBeInstanceOf(QueryTimeoutError);
    expect(performance.now() - started).toBeGreaterThanOrEqual(20 + HEAVY_GRACE_MS - 5);
    expect(gate.inFlight()).toBe(1);
    finish();
    await work;
    await new Promise((resolve) => setImmediate(resolve));
    expect(gate.inFlight()).toBe(0);
  });
});
