import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cloudEvent } from './support/fixtures.js';
import { freePort, runService as run, waitFor, type RunningService as Running } from './support/process.js';

/** The service as an operator runs it: a real process, its exit codes, its output, its signals. */

describe('the service process', () => {
  const started: Running[] = [];
  afterAll(() => {
    for (const running of started) running.child.kill('SIGKILL');
  });

  it('exits with code 2 and names the variable, value and rule for bad configuration', async () => {
    const running = run({ PORT: 'eighty', METERLINE_MAX_BODY: 'huge', METERLINE_ADMIN_KEY: 'short' });
    started.push(running);
    expect(await running.exited).toBe(2);
    const output = running.output();
    expect(output).toMatch(/PORT="eighty"/);
    expect(output).toMatch(/METERLINE_MAX_BODY="huge": a size such as 10MB/);
    expect(output).toMatch(/METERLINE_ADMIN_KEY=\(hidden\): at least 24 characters/);
    expect(output).not.toContain('short');
  });

  it('prints a generated operator key once, never logs it, finishes in-flight work on SIGTERM, and remembers ids after a restart', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'meterline-process-'));
    const port = await freePort();
    const env = { METERLINE_DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info' };
    const base = `http://127.0.0.1:${port}`;

    const first = run(env);
    started.push(first);
    await waitFor(async () => ((await fetch(`${base}/readyz`)).status === 200 ? true : undefined), 'readiness');
    const key = /(mlk_[0-9a-f]{24}_[A-Za-z0-9_-]{43})/.exec(first.output())?.[1];
    expect(key).toBeDefined();
    const auth = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
    const meter = { key: 'calls', name: 'Calls', eventType: 'api.call', aggregation: 'COUNT' };
    expect((await fetch(`${base}/v1/meters`, { method: 'POST', headers: auth, body: JSON.stringify(meter) })).status).toBe(201);

    const events = Array.from({ length: 2000 }, () => cloudEvent({ type: 'api.call' }));
    const inFlight = fetch(`${base}/v1/events`, { method: 'POST', headers: auth, body: JSON.stringify(events) });
    // The request is on its way; stop the process under it.
    await new Promise((resolve) => setTimeout(resolve, 20));
    first.child.kill('SIGTERM');
    const answer = await inFlight.then(
      async (response) => ({ status: response.status, body: (await response.json()) as { accepted?: number } }),
      () => undefined,
    );
    const firstExit = await first.exited;
    expect(firstExit, first.output().slice(-3000)).toBe(0);
    // The banner goes to stderr; stdout is the JSON log stream, every line of it JSON, without the key.
    expect(first.stderr()).toMatch(/Operator key[^\n]*\n\s*\n\s*mlk_\S+/);
    expect(first.stdout()).not.toContain(key);
    const logLines = first.stdout().split('\n').filter((line) => line.trim() !== '');
    expect(logLines.length).toBeGreaterThan(0);
    for (const line of logLines) expect(() => JSON.parse(line) as unknown, line).not.toThrow();
    expect(first.output().split(key as string)).toHaveLength(2);

    const second = run(env);
    started.push(second);
    await waitFor(async () => ((await fetch(`${base}/readyz`)).status === 200 ? true : undefined), 'readiness after restart');
    expect(second.output()).not.toMatch(/mlk_/);
    // The client re-sends whatever it was not told was accepted, and the service counts each event once.
    const resent = await fetch(`${base}/v1/events`, { method: 'POST', headers: auth, body: JSON.stringify(events) });
    const resentBody = (await resent.json()) as { accepted: number; duplicates: number };
    expect(resentBody.accepted + resentBody.duplicates).toBe(2000);
    if (answer?.status === 202) expect(resentBody.duplicates).toBe(2000);
    const usage = await fetch(`${base}/v1/meters/calls/query`, { headers: auth });
    const data = ((await usage.json()) as { data: Array<{ value: string }> }).data;
    expect(data.map((row) => row.value)).toEqual(['2000']);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });
});
