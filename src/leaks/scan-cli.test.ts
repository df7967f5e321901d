// `latchkey scan` end to end: a real git repository in a temp dir, a real admin
// API on loopback over SQLite, the command line run in-process.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../cli/main.js';
import { startAdminHarness, type AdminHarness } from '../test-support/admin-harness.js';
import { displayHint } from '../token/index.js';
import type { RawFinding } from './finding.js';
import { scanGitHistory } from './index.js';

function git(repo: string, ...args: string[]): string {
  return execFileSync('git', ['-C', repo, '-c', 'user.name=t', '-c', 'user.email=t@example.com', '-c', 'commit.gpgsign=false', ...args], { encoding: 'utf8' }).trim();
}

async function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => { stdout += String(chunk); return true; });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => { stderr += String(chunk); return true; });
  try {
    const code = await main(['node', 'latchkey', ...args]);
    return { code, stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
    process.exitCode = undefined;
  }
}

describe('latchkey scan', () => {
  let harness: AdminHarness;
  let repo: string;
  let live: string;
  let introduced: string;

  beforeAll(async () => {
    harness = await startAdminHarness('sqlite');
    live = await harness.mint(['latchkey:audit.read']);
    repo = mkdtempSync(join(tmpdir(), 'latchkey-git-'));
    git(repo, 'init', '-q', '-b', 'main');
    writeFileSync(join(repo, 'README.md'), 'hello\n');
    git(repo, 'add', '.');
    git(repo, 'commit', '-q', '-m', 'first');
    writeFileSync(join(repo, 'config.env'), `# service settings\nORDERS_URL=http://orders\nLATCHKEY_TOKEN=${live}\n`);
    git(repo, 'add', '.');
    git(repo, 'commit', '-q', '-m', 'oops');
    introduced = git(repo, 'rev-parse', 'HEAD');
    writeFileSync(join(repo, 'config.env'), '# service settings\nORDERS_URL=http://orders\n');
    git(repo, 'commit', '-q', '-am', 'remove the token');
  }, 60_000);
  afterAll(async () => {
    await harness.close();
    if (repo !== undefined) rmSync(repo, { recursive: true, force: true });
  });
  afterEach(() => { process.exitCode = undefined; });

  it('finds a token committed then removed, with the commit that introduced it', async () => {
    expect(readFileSync(join(repo, 'config.env'), 'utf8')).not.toContain('lk_');
    const found: RawFinding[] = [];
    const result = await scanGitHistory(repo, (finding) => found.push(finding));
    expect(result.blobs).toBeGreaterThanOrEqual(3);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ commit: introduced, line: 3, col: 16, file: `${introduced.slice(0, 12)}:config.env`, token: live });
  });

  it('the working tree alone shows nothing; --git shows it live, exit 1, hint only', async () => {
    const tree = await runCli(['scan', repo, '--json', '--url', harness.url, '--token', harness.adminToken]);
    expect(tree.code).toBe(0);
    expect(JSON.parse(tree.stdout).findings).toEqual([]);

    const history = await runCli(['scan', '--git', repo, '--json', '--url', harness.url, '--token', harness.adminToken]);
    expect(history.code).toBe(1);
    expect(history.stdout).not.toContain(live);
    const report = JSON.parse(history.stdout);
    expect(report.findings).toEqual([expect.objectContaining({ commit: introduced, hint: displayHint(live), state: 'active', live: true, revoked: false })]);
  });

  it('with no admin token it still reports, liveness not checked, and fails closed: exit 1', async () => {
    const saved = process.env.LATCHKEY_TOKEN;
    delete process.env.LATCHKEY_TOKEN;
    try {
      const result = await runCli(['scan', '--git', repo]);
      expect(result.code).toBe(1);
      expect(result.stdout).toContain(`config.env:3:16  ${displayHint(live)}  liveness not checked`);
    } finally {
      if (saved !== undefined) process.env.LATCHKEY_TOKEN = saved;
    }
  });

  it('a path that does not exist is an error: exit 2', async () => {
    const result = await runCli(['scan', join(repo, 'nope'), '--url', harness.url, '--token', harness.adminToken]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/ENOENT/);
  });

  it('--revoke revokes it, records where it was found, and no plaintext is left in logs, audit or the SQLite file', async () => {
    const result = await runCli(['scan', '--git', repo, '--revoke', '--json', '--url', harness.url, '--token', harness.adminToken]);
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout);
    expect(report.revoked).toHaveLength(1);
    const record = await harness.store.getToken(report.revoked[0]);
    expect(record?.status).toBe('revoked');
    const events = await harness.store.readAudit({ kind: 'admin', limit: 1000 });
    const actions = events.map((event) => event.kind === 'admin' ? event.detail.action : '');
    expect(actions).toEqual(expect.arrayContaining(['leak.checked', 'token.revoke', 'leak.reported']));
    const reported = events.find((event) => event.kind === 'admin' && event.detail.action === 'leak.reported');
    expect(JSON.stringify(reported)).toContain(`${introduced.slice(0, 12)}:config.env:3:16`);

    const again = await runCli(['scan', '--git', repo, '--json', '--url', harness.url, '--token', harness.adminToken]);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout).findings[0]).toMatchObject({ state: 'revoked', live: false });

    // The plaintext went to the server three times (status twice, revoke by id): nowhere does it stay.
    expect(harness.logs()).toContain('leak status asked');
    expect(harness.logs()).not.toContain(live);
    expect(JSON.stringify(events)).not.toContain(live);
    const secretPart = live.slice(-20);
    for (const file of readdirSync(harness.dataDir).filter((name) => name.startsWith('latchkey.db'))) {
      const bytes = readFileSync(join(harness.dataDir, file));
      expect(bytes.includes(live), file).toBe(false);
      expect(bytes.includes(secretPart), file).toBe(false);
    }
  });
});
