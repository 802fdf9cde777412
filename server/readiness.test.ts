import { describe, expect, it } from 'vitest';
import { createReadiness, type ReadyState } from './readiness.js';

/** A check the test resolves by hand, counting how often it was started. */
function manualCheck() {
  const pending: Array<(state: ReadyState) => void> = [];
  return {
    check: () => new Promise<ReadyState>((resolve) => pending.push(resolve)),
    started: () => pending.length,
    settle: (index: number, state: ReadyState) => pending[index]?.(state),
  };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('createReadiness', () => {
  it('waits for the first check, then answers from it while a renewal runs', async () => {
    let clock = 0;
    const manual = manualCheck();
    const ready = createReadiness(manual.check, { maxAgeMs: 10_000, refreshMs: 1_000, now: () => clock });
    const first = ready();
    manual.settle(0, { ok: true });
    await expect(first).resolves.toEqual({ ok: true });
    clock = 5_000;
    // The renewal is started but never settles: the probe still answers at once.
    await expect(ready()).resolves.toEqual({ ok: true });
    await expect(ready()).resolves.toEqual({ ok: true });
    expect(manual.started()).toBe(2);
  });

  it('waits again once the last success is older than maxAge', async () => {
    let clock = 0;
    const manual = manualCheck();
    const ready = createReadiness(manual.check, { maxAgeMs: 10_000, now: () => clock });
    const first = ready();
    manual.settle(0, { ok: true });
    await first;
    clock = 10_000;
    let answered = false;
    const late = ready().then((state) => {
      answered = true;
      return state;
    });
    await tick();
    expect(answered).toBe(false);
    manual.settle(1, { ok: false, reason: 'store unreachable' });
    await expect(late).resolves.toEqual({ ok: false, reason: 'store unreachable' });
  });

  it('does not answer ready from an old success once a check failed, and recovers with the next', async () => {
    let clock = 0;
    let state: ReadyState = { ok: true };
    const ready = createReadiness(async () => state, { maxAgeMs: 10_000, refreshMs: 1_000, now: () => clock });
    await expect(ready()).resolves.toEqual({ ok: true });
    state = { ok: false, reason: 'schema not migrated' };
    clock = 1_000;
    await ready(); // starts the renewal, answers the previous success
    await tick();
    await expect(ready()).resolves.toEqual({ ok: false, reason: 'schema not migrated' });
    state = { ok: true };
    await expect(ready()).resolves.toEqual({ ok: true });
  });

  it('turns a check that throws into not ready with its message', async () => {
    const ready = createReadiness(async () => Promise.reject(new Error('connection refused')), { maxAgeMs: 1_000 });
    await expect(ready()).resolves.toEqual({ ok: false, reason: 'connection refused' });
  });
});
