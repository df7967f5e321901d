// Installing the command from the clone, as the README says (issue 17): after
// `npm install -g .` the `latchkey` on PATH works from any directory. A
// throwaway prefix stands in for the global one.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

describe('npm install -g from the clone', { timeout: 180_000 }, () => {
  const prefix = mkdtempSync(join(tmpdir(), 'latchkey-prefix-'));
  const elsewhere = mkdtempSync(join(tmpdir(), 'latchkey-elsewhere-'));
  afterAll(() => {
    rmSync(prefix, { recursive: true, force: true });
    rmSync(elsewhere, { recursive: true, force: true });
  });

  it('puts a working latchkey on PATH', () => {
    // `npm install -g .` also runs `prepare` (npm run build), which rewrites dist/ in place, file by file, while
    // other test files run the built command: one of them once read a half-written module. `npm test` has built
    // dist/ already, so the link is made without the rebuild.
    const installed = spawnSync('npm', ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', '--ignore-scripts', '.'], { cwd: resolve('.'), encoding: 'utf8', timeout: 170_000 });
    expect(installed.status, installed.stderr).toBe(0);
    const env = { ...process.env, PATH: `${join(prefix, 'bin')}:${process.env.PATH ?? ''}` };
    const version = spawnSync('latchkey', ['--version'], { cwd: elsewhere, env, encoding: 'utf8' });
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const init = spawnSync('latchkey', ['init', '--data', join(elsewhere, 'data'), '--json'], { cwd: elsewhere, env, encoding: 'utf8' });
    expect(init.status, init.stderr).toBe(0);
    expect((JSON.parse(init.stdout) as { adminToken: string }).adminToken).toMatch(/^lk_prod_/);
  });
});
