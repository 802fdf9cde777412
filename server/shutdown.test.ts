import { describe, expect, it } from 'vitest';
import { createShutdown, SHUTDOWN_ORDER, type PartName, type ShutdownLog } from './shutdown.js';

function silentLog(): { errors: PartName[]; log: ShutdownLog } {
  const errors: PartName[] = [];
  return { errors, log: { error: (fields) => errors.push(fields.part) } };
}

describe('createShutdown', () => {
  it('closes parts in the shutdown order, not in the order they started', async () => {
    const { log } = silentLog();
    const shutdown = createShutdown(log);
    const closed: PartName[] = [];
    const started: PartName[] = ['store', 'key usage', 'event writer', 'rater', 'alert outbox', 'alert engine', 'http'];
    for (const name of started) {
      shutdown.add(name, async () => {
        closed.push(name);
      });
    }
    await shutdown.close();
    expect(closed).toEqual(['http', 'rater', 'alert engine', 'alert outbox', 'event writer', 'key usage', 'store']);
  });

  it('stops taking requests first and closes the store last', () => {
    expect(SHUTDOWN_ORDER[0]).toBe('http');
    expect(SHUTDOWN_ORDER.at(-1)).toBe('store');
  });

  it('closes the other parts when one fails, and logs which one failed', async () => {
    const { log, errors } = silentLog();
    const shutdown = createShutdown(log);
    const closed: PartName[] = [];
    shutdown.add('store', async () => {
      closed.push('store');
    });
    shutdown.add('rater', async () => {
      throw new Error('stuck');
    });
    shutdown.add('http', async () => {
      closed.push('http');
    });
    await shutdown.close();
    expect(closed).toEqual(['http', 'store']);
    expect(errors).toEqual(['rater']);
  });

  it('closes each part once however often it is asked', async () => {
    const { log } = silentLog();
    const shutdown = createShutdown(log);
    let closes = 0;
    shutdown.add('store', async () => {
      closes += 1;
    });
    await Promise.all([shutdown.close(), shutdown.close()]);
    await shutdown.close();
    expect(closes).toBe(1);
  });
});
