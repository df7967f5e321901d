// The README's quick start, run as written: the shell block under "Five-minute
// quick start" is read from README.md and each command is run in order, with
// only the placeholders a reader fills in (the tokens and the token id the
// earlier commands printed) replaced. What the README says each step answers
// is checked. The global install goes to a throwaway prefix, and the data
// directory to a temp one (LATCHKEY_DATA, as the README allows); the ports are
// the documented defaults, which no other test uses.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

/** The commands of the first ```sh block after the heading, continuation lines joined, comments dropped. */
export function quickStartCommands(readme: string, heading: string): string[] {
  const section = readme.slice(readme.indexOf(heading));
  const block = /```sh\n([\s\S]*?)```/.exec(section)![1]!;
  return block.replace(/\\\n\s*/g, '').split('\n')
    .map((line) => line.replace(/\s+#.*$/, '').trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

interface Background {
  readonly child: ChildProcess;
  output: string;
}

describe('the README quick start', { timeout: 300_000 }, () => {
  const root = resolve('.');
  const prefix = mkdtempSync(join(tmpdir(), 'latchkey-qs-prefix-'));
  const data = mkdtempSync(join(tmpdir(), 'latchkey-qs-data-'));
  const background: Background[] = [];
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    PATH: `${join(prefix, 'bin')}:${process.env.PATH ?? ''}`,
    LATCHKEY_DATA: data,
    LATCHKEY_LOG_LEVEL: 'warn',
  };
  delete env.LATCHKEY_TOKEN;
  delete env.LATCHKEY_URL;

  afterAll(async () => {
    for (const { child } of background) {
      if (child.exitCode === null && child.pid !== undefined) {
        const exited = new Promise((r) => child.once('exit', r));
        process.kill(-child.pid, 'SIGTERM');
        await exited;
      }
    }
    rmSync(prefix, { recursive: true, force: true });
    rmSync(data, { recursive: true, force: true });
  });

  it('runs as written and answers what it says', async () => {
    const commands = quickStartCommands(readFileSync(join(root, 'README.md'), 'utf8'), '## Five-minute quick start');
    expect(commands.length).toBeGreaterThanOrEqual(12);
    const filled: Record<string, string> = {};
    const fill = (command: string) => command
      .replace(/lk_prod_\.\.\./g, () => filled.admin!)
      .replace(/lk_dev_\.\.\./g, () => filled.token!)
      .replace(/tok_\.\.\./g, () => filled.id!);
    const outputs: Array<{ command: string; stdout: string; stderr: string; code: number | null }> = [];

    for (const written of commands) {
      let command = fill(written);
      // A throwaway prefix for the global one; no `prepare` rebuild of dist/ (built already by `npm test`), which
      // would rewrite it in place under the other test files running the built command (see install.test.ts).
      if (command === 'npm install -g .') command = `npm install -g --prefix ${prefix} --no-audit --no-fund --ignore-scripts .`;
      const exported = /^export (\w+)=(\S+)$/.exec(command);
      if (exported !== null) {
        env[exported[1]!] = exported[2]!;
        continue;
      }
      if (command.endsWith('&')) {
        const child = spawn('bash', ['-c', command.slice(0, -1)], { cwd: root, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
        const started: Background = { child, output: '' };
        child.stdout!.on('data', (chunk: Buffer) => (started.output += chunk.toString()));
        child.stderr!.on('data', (chunk: Buffer) => (started.output += chunk.toString()));
        background.push(started);
        // Each background command says when it is ready; the next command needs it.
        await expect.poll(() => started.output, { timeout: 60_000, interval: 100 }).toMatch(/latchkey serving|upstream on 127\.0\.0\.1:9000/);
        continue;
      }
      const ran = spawnSync('bash', ['-c', command], { cwd: root, env, encoding: 'utf8', timeout: 170_000 });
      outputs.push({ command: written, stdout: ran.stdout, stderr: ran.stderr, code: ran.status });
      // `latchkey check` exits 3 for a request it would refuse, as the README says.
      expect(ran.status, `${written}\n${ran.stderr}`).toBe(written.startsWith('latchkey check') ? 3 : 0);
      if (written === 'latchkey init') filled.admin = /lk_prod_[0-9A-Za-z]{38}/.exec(ran.stdout)![0];
      if (written.startsWith('latchkey token create')) {
        filled.token = /lk_dev_[0-9A-Za-z]{38}/.exec(ran.stdout)![0];
        filled.id = /tok_[0-9a-f]+/.exec(ran.stdout)![0];
      }
    }

    const answers = outputs.filter((o) => o.command.startsWith('curl')).map((o) => JSON.parse(o.stdout) as Record<string, unknown>);
    expect(answers).toEqual([
      { path: '/v1/orders/7', authorization: 'Bearer the-real-secret' },
      expect.objectContaining({ error: 'permission_denied' }),
      expect.objectContaining({ error: 'token_revoked' }),
    ]);
    const check = outputs.find((o) => o.command.startsWith('latchkey check'))!;
    expect(check.stdout).toMatch(/^DENIED\n/);
    expect(outputs.find((o) => o.command.startsWith('latchkey token list'))!.stdout).toContain(filled.id!);
    expect(outputs.find((o) => o.command === 'latchkey status')!.stdout).toMatch(/^admin API: +http:\/\/127\.0\.0\.1:7700 /);

    // "Or: step 3 from a file" describes exactly what step 3 made, so applying it now changes nothing
    // (src/cli/apply.test.ts runs the same block on a fresh server).
    for (const written of quickStartCommands(readFileSync(join(root, 'README.md'), 'utf8'), '### Or: step 3 from a file')) {
      const ran = spawnSync('bash', ['-c', written], { cwd: root, env, encoding: 'utf8', timeout: 170_000 });
      expect(ran.status, `${written}\n${ran.stderr}`).toBe(0);
      expect(ran.stdout).toMatch(/^No changes: the server matches examples\/latchkey\.yaml\.\n/);
    }
  });
});
