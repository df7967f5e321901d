// Issue 13's cascade across processes (built command line, `npm run build`
// first): `latchkey serve` and two `latchkey gateway --env prod` processes on
// one PostgreSQL store. A depth-3 tree of child tokens is derived through the
// admin API with each parent's own token (`latchkey token derive`); revoking
// the root, or disabling it, refuses every descendant on both nodes.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../store/index.js';
import { createTestDatabase, type TestDatabase } from '../test-support/postgres.js';
import { initDataDir, LATCHKEY_BIN, runCli, startServeProcess, type ServeProcess } from '../test-support/serve-process.js';
import { startUpstream, type TestUpstream } from './testing/upstream.js';

let db: TestDatabase;
let dataDir: string;
let serve: ServeProcess;
let upstream: TestUpstream;
let adminToken: string;
const nodes: Array<{ child: ChildProcess; url: string }> = [];

function cli(args: string[], token = adminToken): any {
  const result = runCli([...args, '--json'], { LATCHKEY_URL: serve.adminUrl, LATCHKEY_TOKEN: token });
  if (result.code !== 0) throw new Error(`latchkey ${args.join(' ')}: ${result.stderr}`);
  return JSON.parse(result.stdout);
}

async function startNode(): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [LATCHKEY_BIN, 'gateway', '--env', 'prod', '--data', dataDir, '--store', db.url, '--gateway', '127.0.0.1:0', '--ops', '127.0.0.1:0'],
    { env: { ...process.env, LATCHKEY_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const poll = setInterval(() => {
      const match = /HTTP gateway\s+(http:\/\/\S+)/.exec(out);
      if (match !== null) {
        clearInterval(poll);
        resolve(match[1]!);
      }
    }, 25);
    child.once('exit', (code) => {
      clearInterval(poll);
      reject(new Error(`latchkey gateway exited with ${code}: ${out}`));
    });
  });
  return { child, url };
}

/**
 * One request on a connection of its own (`reset`): cli() blocks this process in spawnSync, under load
 * longer than the gateway's 5 s keep-alive, so a pooled connection could be closed by the gateway while
 * this process cannot see it, and be reused for the next request ("other side closed").
 */
async function status(base: string, token: string): Promise<number> {
  const reply = await request(`${base}/orders/v1/orders/7`, { headers: { authorization: `Bearer ${token}` }, reset: true });
  await reply.body.dump();
  return reply.statusCode;
}

async function untilStatus(base: string, token: string, expected: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  while ((await status(base, token)) !== expected) {
    if (Date.now() > deadline) throw new Error(`${base} never answered ${expected}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

beforeAll(async () => {
  if (!existsSync(join(LATCHKEY_BIN, '../../dist/cli/main.js'))) throw new Error('build first: npm run build');
  db = await createTestDatabase();
  dataDir = mkdtempSync(join(tmpdir(), 'lk-cascade-'));
  adminToken = initDataDir(dataDir, db.url);
  upstream = await startUpstream();
  serve = await startServeProcess({ dataDir, store: db.url });
  cli(['service', 'add', 'orders', '--kind', 'http', '--env', 'prod', '--upstream', upstream.url]);
  nodes.push(await startNode(), await startNode());
}, 120_000);

afterAll(async () => {
  for (const node of nodes) {
    node.child.kill('SIGTERM');
    await new Promise((resolve) => node.child.once('exit', resolve));
  }
  await serve?.stop();
  await upstream?.close();
  await db?.drop();
  rmSync(dataDir, { recursive: true, force: true });
}, 60_000);

function tree(): Array<{ id: string; token: string }> {
  const root = cli(['token', 'create', '--name', 'root', '--env', 'prod', '--allow', 'latchkey:tokens.derive', '--allow', 'orders:read:/v1/**', '--ttl', '1h']);
  const chain = [root];
  for (let depth = 1; depth <= 3; depth++) {
    chain.push(cli(['token', 'derive', '--name', `level-${depth}`, '--allow', 'latchkey:tokens.derive', '--allow', 'orders:GET:/v1/orders/*'], chain.at(-1)!.token));
  }
  return chain;
}

describe('a depth-3 tree of child tokens on two gateway nodes', () => {
  it('revoking the root refuses every descendant on both nodes', async () => {
    const chain = tree();
    for (const node of nodes) for (const t of chain) await untilStatus(node.url, t.token, 200);
    expect(cli(['token', 'revoke', chain[0]!.id]).changed).toHaveLength(4);
    for (const node of nodes) for (const t of chain) await untilStatus(node.url, t.token, 401);
  }, 60_000);

  it('disabling the root refuses every descendant on both nodes, enabling it restores them', async () => {
    const chain = tree();
    for (const node of nodes) for (const t of chain) await untilStatus(node.url, t.token, 200);
    cli(['token', 'disable', chain[0]!.id]);
    for (const node of nodes) for (const t of chain) await untilStatus(node.url, t.token, 401);
    cli(['token', 'enable', chain[0]!.id]);
    for (const node of nodes) for (const t of chain) await untilStatus(node.url, t.token, 200);
  }, 60_000);

  it('usage counted on both nodes adds up in the shared totals', async () => {
    const t = cli(['token', 'create', '--name', 'counted', '--env', 'prod', '--allow', 'orders:read:/v1/**', '--ttl', '1h']);
    for (const node of nodes) await untilStatus(node.url, t.token, 200);
    for (let i = 0; i < 5; i++) expect(await status(nodes[0]!.url, t.token)).toBe(200);
    for (let i = 0; i < 7; i++) expect(await status(nodes[1]!.url, t.token)).toBe(200);
    const store = await openStore(db.url);
    try {
      // Every allowed request is audited before it is answered: the totals must reach exactly that count (never more).
      const audited = (await store.readAudit({ kind: 'decision', tokenId: t.id, limit: 1000 })).filter((e) => (e.detail as { decision: string }).decision === 'allow').length;
      expect(audited).toBeGreaterThanOrEqual(14);
      const deadline = Date.now() + 30_000;
      let total = 0;
      while (Date.now() < deadline) {
        total = (await store.listUsage(t.id)).reduce((n, u) => n + u.count, 0);
        if (total >= audited) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(total).toBe(audited);
    } finally {
      await store.close();
    }
  }, 60_000);
});
