// `latchkey token create --honey --plant FILE`, run in-process against a real admin API on SQLite.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../cli/main.js';
import { startAdminHarness, type AdminHarness } from '../test-support/admin-harness.js';
import { parseToken } from '../token/index.js';

async function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => { stdout += String(chunk); return true; });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => { stderr += String(chunk); return true; });
  try {
    return { code: await main(['node', 'latchkey', ...args]), stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
    process.exitCode = undefined;
  }
}

describe('token create --honey --plant', () => {
  let harness: AdminHarness;
  let dir: string;
  beforeAll(async () => {
    harness = await startAdminHarness('sqlite');
    dir = mkdtempSync(join(tmpdir(), 'latchkey-plant-'));
  });
  afterAll(async () => {
    await harness.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const create = (file: string, ...more: string[]) =>
    runCli(['token', 'create', '--name', 'deploy-prod', '--env', 'prod', '--ttl', '30d', '--honey', '--plant', file, '--json', '--url', harness.url, '--token', harness.adminToken, ...more]);
  const tokenCount = async () => (await harness.store.listTokens({ limit: 500 })).items.length;

  it('writes a decoy .env (mode 0600) holding a honeytoken, prints where, and a scan names it a honeytoken', async () => {
    const file = join(dir, '.env.production');
    const result = await create(file);
    expect(result.code).toBe(0);
    const printed = JSON.parse(result.stdout);
    expect(printed.planted).toBe(file);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const text = readFileSync(file, 'utf8');
    expect(text).toContain(`LATCHKEY_URL=${harness.url}\n`);
    const token = /^LATCHKEY_TOKEN=(\S+)$/m.exec(text)![1]!;
    expect(parseToken(token)?.env).toBe('prod');
    expect(result.stdout).not.toContain(token);
    const record = await harness.store.findTokenByHash(harness.hasher.hash(token));
    expect(record).toMatchObject({ id: printed.id, honey: true });

    const scan = await runCli(['scan', file, '--json', '--url', harness.url, '--token', harness.adminToken]);
    expect(scan.code).toBe(0); // a honeytoken is not live
    expect(JSON.parse(scan.stdout).findings).toEqual([expect.objectContaining({ line: 3, col: 16, state: 'honeytoken', live: false, id: printed.id })]);
  });

  it('refuses to overwrite an existing file without --force, and creates no token then', async () => {
    const file = join(dir, 'existing.env');
    writeFileSync(file, 'KEEP=me\n', { mode: 0o644 });
    const before = await tokenCount();
    const refused = await create(file);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/exists: pass --force/);
    expect(readFileSync(file, 'utf8')).toBe('KEEP=me\n');
    expect(await tokenCount()).toBe(before);

    const forced = await create(file, '--force');
    expect(forced.code).toBe(0);
    expect(readFileSync(file, 'utf8')).toMatch(/^LATCHKEY_TOKEN=lk_prod_/m);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('refuses --plant without --honey', async () => {
    const result = await runCli(['token', 'create', '--name', 'x', '--env', 'prod', '--ttl', '1h', '--allow', 'latchkey:audit.read', '--plant', join(dir, 'no.env'), '--url', harness.url, '--token', harness.adminToken]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/--plant needs --honey/);
  });
});
