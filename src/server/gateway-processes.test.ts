// `latchkey gateway --processes 2` end to end with the built command line (run
// `npm run build` first, as `npm test` does): an admin process and one gateway
// command of two processes on a PostgreSQL store, observed from outside: both
// processes serve the one port, a revocation reaches both, every request has
// its audit event and the chain verifies, a process killed with -9 is
// replaced, and SIGTERM stops them all.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstream, type TestUpstream } from '../gateway/testing/upstream.js';
import { createTestDatabase, type TestDatabase } from '../test-support/postgres.js';
import {
  adminClient, initDataDir, LATCHKEY_BIN, metricValue, readAllAuditEvents, runCli, startServeProcess, untilRouted, type AdminCall, type ServeProcess,
} from '../test-support/serve-process.js';

const SECRET = 'processes-upstream-secret';
let db: TestDatabase;
let dataDir: string;
let serve: ServeProcess;
let upstream: TestUpstream;
let admin: AdminCall;
let cli: (args: string[]) => string;

interface Group {
  readonly child: ChildProcess;
  readonly url: string;
  readonly ops: string;
  readonly pids: number[];
  output(): string;
}

function gatewayArgs(...extra: string[]): string[] {
  return [LATCHKEY_BIN, 'gateway', '--env', 'prod', '--data', dataDir, '--gateway', '127.0.0.1:0', '--ops', '127.0.0.1:0', ...extra];
}

function spawnGateway(args: string[]): { child: ChildProcess; output(): string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, args, { env: { ...process.env, PROD_ORDERS_SECRET: SECRET, LATCHKEY_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

async function startGroup(): Promise<Group> {
  const { child, output, exited } = spawnGateway(gatewayArgs('--store', db.url, '--processes', '2'));
  const serving = /serving, 2 processes \(pids (\d+), (\d+)\)\n\s+HTTP gateway\s+(http:\/\/\S+)\n\s+metrics and health\s+(http:\/\/\S+)/;
  const match = await new Promise<RegExpExecArray>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`latchkey gateway --processes 2 did not start within 60 s: ${output()}`)), 60_000);
    const poll = setInterval(() => {
      const found = serving.exec(output());
      if (found === null) return;
      clearInterval(poll);
      clearTimeout(timer);
      resolve(found);
    }, 25);
    void exited.then((code) => {
      clearInterval(poll);
      clearTimeout(timer);
      reject(new Error(`latchkey gateway exited with ${code}: ${output()}`));
    });
  });
  return { child, output, url: match[3]!, ops: match[4]!, pids: [Number(match[1]), Number(match[2])] };
}

/** On a connection of its own: the primary hands each new connection to the next process. */
async function status(base: string, token: string): Promise<number> {
  const reply = await request(`${base}/orders/v1/orders/7`, { headers: { authorization: `Bearer ${token}` }, reset: true });
  await reply.body.dump();
  return reply.statusCode;
}

async function ops(group: Group, path: string): Promise<{ status: number; body: string }> {
  const reply = await request(`${group.ops}${path}`);
  return { status: reply.statusCode, body: await reply.body.text() };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(check: () => Promise<boolean> | boolean, ms: number, what: string): Promise<void> {
  const started = performance.now();
  while (!(await check())) {
    if (performance.now() - started > ms) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function createToken(): { id: string; token: string } {
  return JSON.parse(cli(['token', 'create', '--name', 'processes', '--env', 'prod', '--allow', 'orders:read:/v1/**', '--ttl', '1h'])) as { id: string; token: string };
}

let group: Group;

beforeAll(async () => {
  if (!existsSync(join(LATCHKEY_BIN, '../../dist/cli/main.js'))) throw new Error('build first: npm run build');
  db = await createTestDatabase();
  dataDir = mkdtempSync(join(tmpdir(), 'lk-processes-'));
  const adminToken = initDataDir(dataDir, db.url);
  upstream = await startUpstream();
  serve = await startServeProcess({ dataDir, store: db.url, env: { PROD_ORDERS_SECRET: SECRET } });
  admin = adminClient(serve.adminUrl, adminToken);
  cli = (args) => {
    const result = runCli([...args, '--json'], { LATCHKEY_URL: serve.adminUrl, LATCHKEY_TOKEN: adminToken });
    if (result.code !== 0) throw new Error(`latchkey ${args.join(' ')}: ${result.stderr}`);
    return result.stdout;
  };
  cli(['service', 'add', 'orders', '--kind', 'http', '--env', 'prod', '--upstream', `${upstream.url}/api`, '--credential-env', 'PROD_ORDERS_SECRET']);
  group = await startGroup();
  await untilRouted(group.url, '/orders/v1/orders/7');
}, 120_000);

afterAll(async () => {
  if (group !== undefined && group.child.exitCode === null) {
    group.child.kill('SIGKILL');
    for (const pid of group.pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
  }
  await serve?.stop();
  await upstream?.close();
  await db?.drop();
  rmSync(dataDir, { recursive: true, force: true });
}, 60_000);

describe('latchkey gateway --processes 2 on a PostgreSQL store', () => {
  it('serves one port from two processes, each request audited by the process that served it, and the chain verifies', async () => {
    expect(new Set(group.pids).size).toBe(2);
    for (const pid of group.pids) expect(alive(pid)).toBe(true);
    const { id, token } = createToken();
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) statuses.push(await status(group.url, token));
    expect(statuses).toEqual(Array.from({ length: 20 }, () => 200));
    expect(upstream.seen.at(-1)!.headers.authorization).toBe(`Bearer ${SECRET}`);
    // Durable before each response: the events are there as soon as the answers are.
    const events = await readAllAuditEvents<{ seq: number; kind: string; detail: { tokenId: string; node: string; reason: string } }>(admin, `&token=${id}`);
    const served = events.filter((e) => e.kind === 'decision' && e.detail.reason === 'allowed');
    expect(served).toHaveLength(20);
    const nodes = new Set(served.map((e) => e.detail.node));
    expect(nodes.size).toBe(2);
    for (const node of nodes) expect(node).toMatch(/\/[12]$/);
    const verify = JSON.parse(cli(['audit', 'verify'])) as { ok: boolean };
    expect(verify.ok).toBe(true);
    // /metrics is the sum over both processes.
    const metrics = await ops(group, '/metrics');
    expect(metrics.status).toBe(200);
    expect(metricValue(metrics.body, 'latchkey_gateway_requests_total')).toBeGreaterThanOrEqual(20);
    const ready = await ops(group, '/readyz');
    expect(ready).toEqual({ status: 200, body: JSON.stringify({ ready: true, processes: [true, true] }) });
  });

  it("the primary's ops listener is one of Latchkey's own: no service reaches /metrics through it", async () => {
    cli(['service', 'add', 'opsloop', '--kind', 'http', '--env', 'prod', '--upstream', group.ops]);
    await untilRouted(group.url, '/opsloop/metrics');
    const { token } = JSON.parse(cli(['token', 'create', '--name', 'loop', '--env', 'prod', '--allow', 'opsloop:read:/**', '--ttl', '1h'])) as { token: string };
    // Every connection goes to the next process: both must refuse.
    for (let i = 0; i < 4; i++) {
      const reply = await request(`${group.url}/opsloop/metrics`, { headers: { authorization: `Bearer ${token}` }, reset: true });
      const body = await reply.body.text();
      expect([reply.statusCode, (JSON.parse(body) as { error: string }).error]).toEqual([502, 'upstream_unreachable']);
    }
  });

  it('a token revoked through the admin API is refused by both processes', async () => {
    const { id, token } = createToken();
    expect(await status(group.url, token)).toBe(200);
    cli(['token', 'revoke', id]);
    await until(async () => (await status(group.url, token)) === 401, 2000, 'the revocation reached a process');
    // Successive connections alternate between the two processes: none still lets the token through.
    const after: number[] = [];
    for (let i = 0; i < 10; i++) after.push(await status(group.url, token));
    expect(after).toEqual(Array.from({ length: 10 }, () => 401));
  });

  it('a process killed with -9 is replaced while the other goes on serving', async () => {
    const { token } = createToken();
    const [victim, survivor] = group.pids as [number, number];
    process.kill(victim, 'SIGKILL');
    const replaced = new RegExp(`gateway process ${victim} \\(\\d of 2\\) exited on SIGKILL; starting another`);
    // Logged once the primary has taken the dead process out of the round: from then on the survivor takes every connection.
    await until(() => replaced.test(group.output()), 5000, 'the primary saw the process die');
    expect(await status(group.url, token)).toBe(200);
    await until(async () => {
      const health = JSON.parse((await ops(group, '/healthz')).body) as { processes: number };
      return health.processes === 2 && (await ops(group, '/readyz')).status === 200;
    }, 30_000, 'a replacement serves');
    expect(alive(survivor)).toBe(true);
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push(await status(group.url, token));
    expect(statuses).toEqual(Array.from({ length: 6 }, () => 200));
  }, 60_000);

  it('SIGTERM stops every process and exits 0', async () => {
    const health = JSON.parse((await ops(group, '/healthz')).body) as { processes: number };
    expect(health.processes).toBe(2);
    const pids = await childPids(group.child.pid!);
    expect(pids).toHaveLength(2);
    const exited = new Promise<number | null>((resolve) => group.child.once('exit', (code) => resolve(code)));
    group.child.kill('SIGTERM');
    expect(await exited).toBe(0);
    for (const pid of pids) expect(alive(pid)).toBe(false);
  }, 60_000);
});

/** The node processes whose parent is `parent` (from /proc). */
async function childPids(parent: number): Promise<number[]> {
  const { readdirSync, readFileSync } = await import('node:fs');
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid ...: the fields after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === parent) pids.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

describe('latchkey gateway --processes refuses what it cannot do, before starting anything', () => {
  it.each([
    [['--processes', '0'], /--processes must be from 1 to 64, not 0/],
    [['--processes', 'two'], /--processes must be a whole number from 1 to 64, not "two"/],
    [['--processes', '65'], /--processes must be from 1 to 64, not 65/],
  ])('%j', async (extra, message) => {
    const { exited, output } = spawnGateway(gatewayArgs('--store', db.url, ...extra));
    expect(await exited).toBe(1);
    expect(output()).toMatch(message);
    expect(output()).not.toMatch(/serving/);
  });

  it('more than one process on a SQLite store', async () => {
    const { exited, output } = spawnGateway(gatewayArgs('--processes', '2', '--store', join(dataDir, 'other.db')));
    expect(await exited).toBe(1);
    expect(output()).toMatch(/--processes above 1 needs a postgres:\/\/ store/);
    expect(existsSync(join(dataDir, 'other.db'))).toBe(false);
  });
});
