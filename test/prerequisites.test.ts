import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

// The script that `npm test` runs first (pretest) on a machine that may lack the test tools.
const script = new URL('./support/prerequisites.sh', import.meta.url).pathname;
const bash = execFileSync('bash', ['-c', 'command -v bash']).toString().trim();

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A PATH holding only the named real tools, plus stand-ins that record how they were called. */
function machine(present: readonly string[]): { path: string; calls: () => string } {
  const dir = mkdtempSync(join(tmpdir(), 'prereq-'));
  dirs.push(dir);
  const log = join(dir, 'calls.log');
  for (const tool of ['id', 'grep', 'cat']) {
    const real = execFileSync('bash', ['-c', `command -v ${tool}`]).toString().trim();
    symlinkSync(real, join(dir, tool));
  }
  const recorder = (name: string) => {
    writeFileSync(join(dir, name), `#!${bash}\necho "${name} $*" >> '${log}'\n`);
    chmodSync(join(dir, name), 0o755);
  };
  for (const name of ['apt-get', 'service', ...present]) recorder(name);
  return { path: dir, calls: () => (existsSync(log) ? readFileSync(log, 'utf8') : '') };
}

describe('test prerequisites (npm pretest)', () => {
  it('is what npm test runs first', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.pretest).toBe('bash test/support/prerequisites.sh');
  });

  it('installs promtool, Java and Maven when they are missing', () => {
    const fresh = machine([]);
    const run = spawnSync(bash, [script], { env: { PATH: fresh.path }, encoding: 'utf8' });
    if (process.getuid?.() !== 0) {
      // Not root: it names the packages and fails rather than pretending.
      expect(run.status).toBe(1);
      expect(run.stderr).toContain('prometheus');
      return;
    }
    expect(run.status, run.stderr).toBe(0);
    const install = fresh.calls().split('\n').find((line) => line.includes(' install '));
    expect(install).toBeDefined();
    expect(install).toContain('prometheus');
    expect(install).toContain('maven');
    expect(install).toContain('default-jre-headless');
  });

  it('installs only what is missing', () => {
    const partial = machine(['java', 'mvn']);
    const run = spawnSync(bash, [script], { env: { PATH: partial.path }, encoding: 'utf8' });
    if (process.getuid?.() !== 0) return expect(run.status).toBe(1);
    expect(run.status, run.stderr).toBe(0);
    const install = partial.calls().split('\n').find((line) => line.includes(' install '));
    expect(install).toContain('prometheus');
    expect(install).not.toContain('maven');
  });

  it('does nothing on a machine that has everything', () => {
    const ready = machine(['java', 'mvn', 'promtool']);
    const run = spawnSync(bash, [script], { env: { PATH: ready.path }, encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    expect(ready.calls()).toBe('');
  });
});
