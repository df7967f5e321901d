// The deployment of issue 4, end to end with the built command line (run
// `npm run build` first, as `npm test` does): `latchkey serve` as the admin
// process and two `latchkey gateway --env prod` processes on one PostgreSQL
// store and Redis. Services and tokens are made, and tokens revoked, through
// the admin API with the CLI; what the nodes do is observed from outside.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../test-support/postgres.js';
import { initDataDir, LATCHKEY_BIN, runCli, startServeProcess, type ServeProcess } from '../test-support/serve-process.js';
import { startUpstream, type TestUpstream } from './testing/upstream.js';

const SECRET = 'cluster-upstream-secret';
let db: TestDatabase;
let dataDir: string;
let serve: ServeProcess;
let upstream: TestUpstream;
let cli: (args: string[]) => string;
const nodes: Array<{ child: ChildProcess; url: string }> = [];

async function startNode(): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    process.execPath,
    [LATCHKEY_BIN, 'gateway', '--env', 'prod', '--data', dataDir, '--store', db.url, '--gateway', '127.0.0.1:0', '--ops', '127.0.0.1:0', '--redis', 'redis://127.0.0.1:6379'],
    { env: { ...process.env, PROD_ORDERS_SECRET: SECRET, LATCHKEY_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
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
      reject(new Error(`latchkey gateway exited with ${code}: ${out}${err}`));
    });
  });
  return { child, url };
}

/** On a connection of its own (`reset`): runCli blocks this process, and a pooled connection the gateway closed meanwhile would be reused. */
async function status(base: string, token: string): Promise<number> {
  const reply = await request(`${base}/orders/v1/orders/7`, { headers: { authorization: `Bearer ${token}` }, reset: true });
  await reply.body.dump();
  return reply.statusCode;
}

beforeAll(async () => {
  if (!existsSync(join(LATCHKEY_BIN, '../../dist/cli/main.js'))) throw new Error('build first: npm run build');
  db = await createTestDatabase();
  dataDir = mkdtempSync(join(tmpdir(), 'lk-cluster-'));
  const adminToken = initDataDir(dataDir, db.url);
  upstream = await startUpstream();
  serve = await startServeProcess({ dataDir, store: db.url, env: { PROD_ORDERS_SECRET: SECRET } });
  cli = (args) => {
    const result = runCli([...args, '--json'], { LATCHKEY_URL: serve.adminUrl, LATCHKEY_TOKEN: adminToken });
    if (result.code !== 0) throw new Error(`latchkey ${args.join(' ')}: ${result.stderr}`);
    return result.stdout;
  };
  cli(['service', 'add', 'orders', '--kind', 'http', '--env', 'prod', '--upstream', `${upstream.url}/api`, '--credential-env', 'PROD_ORDERS_SECRET']);
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

function createToken(...extra: string[]): { id: string; token: string } {
  return JSON.parse(cli(['token', 'create', '--name', 'cluster', '--env', 'prod', '--allow', 'orders:read:/v1/**', '--ttl', '1h', ...extra])) as { id: string; token: string };
}

describe('an admin process and two latchkey gateway processes', () => {
  it('both nodes forward with the injected credential', async () => {
    const { token } = createToken();
    for (const node of nodes) expect(await status(node.url, token)).toBe(200);
    expect(upstream.seen.at(-1)!.headers.authorization).toBe(`Bearer ${SECRET}`);
    expect(upstream.seen.at(-1)!.url).toBe('/api/v1/orders/7');
  });

  it('a token revoked through the admin API is refused on both nodes at once', async () => {
    for (let i = 0; i < 3; i++) {
      const { id, token } = createToken();
      for (const node of nodes) expect(await status(node.url, token)).toBe(200);
      cli(['token', 'revoke', id]);
      const refusedAfter = await Promise.all(
        nodes.map(async (node) => {
          const started = performance.now();
          while ((await status(node.url, token)) !== 401) if (performance.now() - started > 2000) return Number.POSITIVE_INFINITY;
          return performance.now() - started;
        }),
      );
      // From the CLI's return (after the commit) to a refusal, request time included, on a shared machine.
      for (const delay of refusedAfter) expect(delay).toBeLessThan(500);
    }
  });

  it('a usage cap holds exactly across both nodes', async () => {
    const { token } = createToken('--max-uses', '15');
    const statuses = await Promise.all(Array.from({ length: 60 }, (_, i) => status(nodes[i % 2]!.url, token)));
    expect(statuses.filter((s) => s === 200)).toHaveLength(15);
  });
});
