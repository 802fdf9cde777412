import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createServer } from 'node:net';

const ROOT = new URL('../..', import.meta.url).pathname;

export interface RunningService {
  readonly child: ChildProcessWithoutNullStreams;
  /** Everything the process wrote, stdout and stderr interleaved. */
  readonly output: () => string;
  /** Only what it wrote to stdout (the JSON log stream). */
  readonly stdout: () => string;
  /** Only what it wrote to stderr. */
  readonly stderr: () => string;
  readonly exited: Promise<number | null>;
  readonly signal: () => NodeJS.Signals | null;
}

/** Starts `server/main.ts` as its own process, as an operator would, with only the given environment. */
export function runService(env: Record<string, string>, args: readonly string[] = []): RunningService {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts', ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
  });
  let output = '';
  let stdout = '';
  let stderr = '';
  let signal: NodeJS.Signals | null = null;
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code, sig) => {
      signal = sig;
      resolve(code);
    }),
  );
  return { child, output: () => output, stdout: () => stdout, stderr: () => stderr, exited, signal: () => signal };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Polls a condition until it holds; never a fixed sleep. */
export async function waitFor<T>(check: () => Promise<T | undefined>, what: string, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${lastError instanceof Error ? ` (last error: ${lastError.message})` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
