import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pg from 'pg';
import { Pool, type Dispatcher } from 'undici';
import { openPostgresStore, openSqliteStore } from '../store/index.js';
import { aToken } from '../store/contract/fixtures.js';
import { nginxAvailable, startNginx, type NginxProxy } from './nginx.js';
import { median, runWrk, wrkAvailable, type WrkResult } from './wrk.js';
import { SYSTEM_ACTOR, type TokenRecord } from '../store/records.js';
import type { Store } from '../store/store.js';
import { spawnGatewayProcess, type NodeProcess } from '../gateway/testing/node-process.js';
import { generateToken, TokenHasher } from '../token/index.js';
import { printProfileBreakdowns } from './cpu-profile.js';
import { idleShare, machineTicks } from './machine-idle.js';

// `npm run bench -- gateway`: the HTTP gateway against a bare node:http + undici
// proxy (no checks), both in front of the same upstream, each in its own
// process, driven by wrk in the same run; then the revocation propagation
// delay across two gateway processes on PostgreSQL (LISTEN/NOTIFY).

/** This file, run as the upstream (`--upstream`) or the bare proxy (`--bare PORT`). */
export const SELF = fileURLToPath(import.meta.url);
export const NODE_MAIN = fileURLToPath(new URL('../gateway/testing/node-main.js', import.meta.url));
const ROUNDS = Number(process.env.LATCHKEY_BENCH_ROUNDS ?? 5);
const SECONDS = Number(process.env.LATCHKEY_BENCH_SECONDS ?? 4);
/** Load shapes, each measured on its own: wrk's connections (the gap shows at -c50). */
const SHAPES = (process.env.LATCHKEY_BENCH_CONNECTIONS ?? '32,50').split(',').map(Number);
/** Where the proxies write V8 CPU profiles (--cpu-prof), broken down after the run (cpu-profile.ts); unset: none. */
const profileDir = process.env.LATCHKEY_BENCH_PROFILE;
const PG_ADMIN_URL = process.env.LATCHKEY_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const SERVICE_SECRET = 'bench-upstream-secret';

function answerCpu(): void {
  process.on('message', (message: { cmd?: string }) => {
    if (message.cmd === 'cpu') process.send?.({ cpu: process.cpuUsage() });
  });
  process.once('SIGTERM', () => process.exit(0));
}

/** The upstream: a small JSON answer, as an API would give. */
async function runUpstream(): Promise<void> {
  const body = Buffer.from(JSON.stringify({ id: 42, status: 'shipped', items: [1, 2, 3] }));
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  answerCpu();
  process.stdout.write(`${JSON.stringify({ listening: true, port: (server.address() as AddressInfo).port })}\n`);
}

const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'host', 'upgrade', 'te', 'trailer', 'proxy-connection', 'expect']);

/** The baseline: forwards every request as is, with the same undici pool and dispatch style as the gateway. */
async function runBareProxy(upstreamPort: number): Promise<void> {
  const pool = new Pool(`http://127.0.0.1:${upstreamPort}`, { connections: 256, pipelining: 1 });
  const server = createServer((req, res) => {
    const headers: string[] = [];
    const raw = req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) if (!HOP.has(raw[i]!.toLowerCase())) headers.push(raw[i]!, raw[i + 1]!);
    const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
    pool.dispatch(
      { path: req.url!, method: req.method as Dispatcher.HttpMethod, headers, body: hasBody ? req : null },
      {
        onRequestStart() {},
        onResponseStart(controller, statusCode, upstreamHeaders: IncomingHttpHeaders) {
          const out: Record<string, string | string[]> = {};
          for (const name in upstreamHeaders) if (!HOP.has(name)) out[name] = upstreamHeaders[name]!;
          res.writeHead(statusCode, out);
          res.on('drain', () => controller.resume());
        },
        onResponseData(controller, chunk) {
          if (!res.write(chunk)) controller.pause();
        },
        onResponseEnd() {
          res.end();
        },
        onResponseError(_controller, err) {
          if (!res.headersSent) res.writeHead(502).end(err.message);
          else res.destroy();
        },
      },
    );
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  answerCpu();
  process.stdout.write(`${JSON.stringify({ listening: true, port: (server.address() as AddressInfo).port })}\n`);
}

/** 20 permissions mixing literals, `*`, `**` and denies; the benchmarked path matches one allow and no deny. */
export const PERMISSIONS = [
  ...Array.from({ length: 15 }, (_, i) => `bench:GET:/v1/resource${i}/**`),
  'bench:POST:/v1/resource0/*',
  'bench:read:/v2/**',
  'bench:PUT:/v1/*/items/*',
  '!bench:DELETE:/v1/**',
  '!bench:GET:/v1/resource3/secret/**',
];
export const BENCH_PATH = '/v1/resource7/items/42';

function tokenRecord(hasher: TokenHasher, token: string, overrides: Partial<TokenRecord> = {}): TokenRecord {
  const now = Date.now();
  return aToken({
    name: 'bench',
    env: 'prod',
    owner: 'bench',
    roles: [],
    permissions: PERMISSIONS,
    expiresAt: now + 86_400_000,
    rate: { count: 100_000_000, periodMs: 1000 },
    createdAt: now,
    createdBy: 'bench',
    updatedAt: now,
    ...overrides,
  }, { token, hasher });
}

async function prepareStore(store: Store, upstreamPort: number): Promise<void> {
  const now = Date.now();
  for (const name of ['prod']) await store.createEnvironment({ name, maxTtlMs: 365 * 86_400_000, createdAt: now }, SYSTEM_ACTOR);
  await store.createService(
    {
      name: 'bench',
      kind: 'http',
      bindings: [{ env: 'prod', upstream: `http://127.0.0.1:${upstreamPort}`, credential: { from: 'env', variable: 'PROD_BENCH_UPSTREAM_SECRET', header: 'Authorization', scheme: 'Bearer' } }],
      tokenHeader: null,
      maxBodyBytes: 1_048_576,
      paths: 'exact',
      headerUnderscores: 'drop', sqlFunctions: [], hiddenTools: [],
      createdAt: now,
      updatedAt: now,
    },
    SYSTEM_ACTOR,
  );
}

/** The environment a gateway process needs: the service's upstream credential. */
export const GATEWAY_ENV: NodeJS.ProcessEnv = { ...process.env, PROD_BENCH_UPSTREAM_SECRET: SERVICE_SECRET };

/**
 * A SQLite store in `dir` with the bench service in front of the upstream and
 * one token for BENCH_PATH; `nodeOptions` gives a gateway process's options on
 * it (`extra`: `benchDiscardAudit` and the like).
 */
export async function prepareSqliteGateway(dir: string, upstreamPort: number): Promise<{ token: string; nodeOptions: (extra?: object) => object }> {
  const key = TokenHasher.generateKey();
  const hasher = new TokenHasher(key);
  const file = join(dir, 'latchkey.db');
  const store = await openSqliteStore({ file });
  const token = generateToken('prod');
  await prepareStore(store, upstreamPort);
  await store.createToken(tokenRecord(hasher, token), SYSTEM_ACTOR);
  await store.close();
  return {
    token,
    nodeOptions: (extra = {}) => ({ env: 'prod', store: file, hashKey: key.toString('base64'), listen: { host: '127.0.0.1', port: 0 }, nodeName: 'bench', ...extra }),
  };
}

/** A measured run's figures, and the share of the machine's CPU left idle meanwhile (null off Linux). */
type Measured = WrkResult & { cpuUsPerRequest: number; idle: number | null };

/** One measured run: wrk's figures and the proxy's CPU time per request (`cpuMicros` before and after), and the machine's idle share. */
async function measure(cpuMicros: () => Promise<number> | number, url: string, connections: number, headers: readonly string[]): Promise<Measured> {
  const before = await cpuMicros();
  const ticks = machineTicks();
  const result = runWrk(url, SECONDS, connections, headers);
  const idle = idleShare(ticks, machineTicks());
  const after = await cpuMicros();
  return { ...result, cpuUsPerRequest: (after - before) / Math.max(1, result.requests), idle };
}

const processCpu = (proxy: NodeProcess) => async () => {
  const usage = await proxy.cpu();
  return usage.user + usage.system;
};

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/**
 * Diagnostic (LATCHKEY_BENCH_SYSCALLS=1): the system calls a proxy process
 * makes per request during one 3 s wrk run, counted by `strace -c`. strace
 * slows what it traces: compare the counts, not the run's speed.
 */
async function syscallsPerRequest(label: string, pid: number, url: string, connections: number, headers: readonly string[]): Promise<void> {
  const out = join(tmpdir(), `latchkey-strace-${pid}-${Date.now()}.txt`);
  const tracer = spawn('strace', ['-c', '-f', '-q', '-o', out, '-p', String(pid)], { stdio: 'ignore' });
  await new Promise((resolve) => setTimeout(resolve, 500));
  const result = runWrk(url, 3, connections, headers);
  tracer.kill('SIGINT');
  await new Promise((resolve) => tracer.once('exit', resolve));
  const rows = readFileSync(out, 'utf8').split('\n').map((line) => line.trim().split(/\s+/)).filter((cols) => cols.length >= 5 && /^\d/.test(cols[3] ?? ''));
  rmSync(out, { force: true });
  const calls = rows.map((cols) => ({ name: cols.at(-1)!, calls: Number(cols[3]) })).filter((row) => row.name !== 'total').sort((a, b) => b.calls - a.calls);
  const per = (n: number) => (n / Math.max(1, result.requests)).toFixed(2);
  process.stdout.write(`syscalls per request, ${label}: ${calls.slice(0, 8).map((row) => `${row.name} ${per(row.calls)}`).join(', ')}; all ${per(calls.reduce((sum, row) => sum + row.calls, 0))}\n`);
}

async function throughputBench(): Promise<void> {
  if (!wrkAvailable()) {
    process.stdout.write('wrk is not installed (apt-get install -y wrk): skipping the throughput comparison\n');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-bench-'));
  const children: NodeProcess[] = [];
  let nginx: NginxProxy | undefined;
  // With LATCHKEY_BENCH_PROFILE: each profiled proxy and its CPU per request over every measured round.
  const profiled: Array<{ label: string; pid: number; cpuUsPerRequest: number }> = [];
  const cpuRounds = new Map<string, number[]>();
  try {
    const upstream = await spawnGatewayProcess(SELF, null, { args: ['--upstream'] });
    children.push(upstream);
    const profile = profileDir !== undefined ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
    const bare = await spawnGatewayProcess(SELF, null, { nodeArgs: profile, args: ['--bare', String(upstream.port)] });
    children.push(bare);
    const { token, nodeOptions } = await prepareSqliteGateway(dir, upstream.port);
    const gateway = await spawnGatewayProcess(NODE_MAIN, nodeOptions({}), { nodeArgs: profile, env: GATEWAY_ENV });
    children.push(gateway);
    // Attribution only: the same gateway with decision events dropped, so the audit log's share is visible.
    const unaudited = await spawnGatewayProcess(NODE_MAIN, nodeOptions({ benchDiscardAudit: true }), { nodeArgs: profile, env: GATEWAY_ENV });
    children.push(unaudited);
    const auth = [`Authorization: Bearer ${token}`];
    const targets: Array<{ name: string; label: string; url: string; cpu: () => Promise<number> | number; pid?: number }> = [
      { name: 'bare', label: 'bare undici proxy', url: `http://127.0.0.1:${bare.port}${BENCH_PATH}`, cpu: processCpu(bare), pid: bare.child.pid! },
      { name: 'gateway', label: 'gateway (audit on, SQLite)', url: `http://127.0.0.1:${gateway.port}/bench${BENCH_PATH}`, cpu: processCpu(gateway), pid: gateway.child.pid! },
      { name: 'unaudited', label: 'gateway (audit discarded)', url: `http://127.0.0.1:${unaudited.port}/bench${BENCH_PATH}`, cpu: processCpu(unaudited), pid: unaudited.child.pid! },
    ];
    if (nginxAvailable()) {
      nginx = await startNginx(dir, upstream.port);
      const proxy = nginx;
      targets.push({ name: 'nginx', label: 'nginx proxy_pass (1 worker)', url: `http://127.0.0.1:${proxy.port}${BENCH_PATH}`, cpu: () => proxy.cpuMicros() });
    } else {
      process.stdout.write('nginx is not installed (apt-get install -y nginx): its proxy_pass baseline is skipped\n');
    }
    process.stdout.write(
      `${ROUNDS} alternating rounds of ${SECONDS}s per load shape (medians, spread min–max); GET /bench${BENCH_PATH}, ` +
        `token with ${PERMISSIONS.length} permissions, rate limit on; each proxy in its own process\n`,
    );
    for (const connections of SHAPES) {
      // Warm each (JIT, pools, the token cache), then alternate measured rounds so drift hits all alike.
      for (const target of targets) runWrk(target.url, 2, connections, auth);
      if (process.env.LATCHKEY_BENCH_SYSCALLS === '1') for (const target of targets) if (target.pid !== undefined) await syscallsPerRequest(target.label, target.pid, target.url, connections, auth);
      const rounds = new Map(targets.map((target) => [target.name, [] as Measured[]]));
      for (let round = 0; round < ROUNDS; round++) {
        for (const target of targets) {
          const result = await measure(target.cpu, target.url, connections, auth);
          rounds.get(target.name)!.push(result);
          if (!cpuRounds.has(target.label)) cpuRounds.set(target.label, []);
          cpuRounds.get(target.label)!.push(result.cpuUsPerRequest);
        }
      }
      const summary = (name: string) => {
        const all = rounds.get(name)!;
        return {
          rps: median(all.map((r) => r.rps)),
          min: Math.min(...all.map((r) => r.rps)),
          max: Math.max(...all.map((r) => r.rps)),
          p50: median(all.map((r) => r.p50Ms)),
          p99: median(all.map((r) => r.p99Ms)),
          cpu: median(all.map((r) => r.cpuUsPerRequest)),
          non2xx: all.reduce((sum, r) => sum + r.non2xx, 0),
          idle: all.every((r) => r.idle !== null) ? median(all.map((r) => r.idle!)) : null,
        };
      };
      // The ratio per round (gateway and bare measured back to back), so its spread is visible too.
      const ratios = rounds.get('gateway')!.map((r, i) => r.rps / rounds.get('bare')![i]!.rps);
      process.stdout.write(`\nwrk -t${Math.min(2, connections)} -c${connections}\n`);
      for (const target of targets) {
        const x = summary(target.name);
        process.stdout.write(
          `${target.label.padEnd(28)} ${x.rps.toFixed(0).padStart(7)} req/s (${x.min.toFixed(0)}–${x.max.toFixed(0)})   p50 ${x.p50.toFixed(2)} ms   p99 ${x.p99.toFixed(2)} ms   CPU ${x.cpu.toFixed(1)} µs/req   non-2xx ${x.non2xx}` +
            // A proxy's one event loop at a full core while the machine has CPU to spare: the loop's own work is the limit.
            `${x.idle === null ? '' : `   machine idle ${(x.idle * 100).toFixed(0)}%`}\n`,
        );
      }
      const [b, g, u] = [summary('bare'), summary('gateway'), summary('unaudited')];
      process.stdout.write(
        `gateway/bare throughput ratio ${(g.rps / b.rps).toFixed(3)} (per round ${Math.min(...ratios).toFixed(3)}–${Math.max(...ratios).toFixed(3)})   ` +
          `added CPU ${(g.cpu - b.cpu).toFixed(1)} µs/request   p50 +${(g.p50 - b.p50).toFixed(2)} ms (audit on)\n`,
      );
      process.stdout.write(`  of which the audit log ${(g.cpu - u.cpu).toFixed(1)} µs; checks and forwarding ${(u.cpu - b.cpu).toFixed(1)} µs (ratio ${(u.rps / b.rps).toFixed(3)} without audit)\n`);
      if (rounds.has('nginx')) {
        const n = summary('nginx');
        process.stdout.write(`gateway/nginx ratio ${(g.rps / n.rps).toFixed(3)}; bare/nginx ${(b.rps / n.rps).toFixed(3)}\n`);
      }
    }
    if (profileDir !== undefined) {
      for (const target of targets) if (target.pid !== undefined) profiled.push({ label: target.label, pid: target.pid, cpuUsPerRequest: median(cpuRounds.get(target.label) ?? [0]) });
    }
  } finally {
    await nginx?.stop();
    // A profiled process writes its profile as it exits.
    for (const child of children.reverse()) await child.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  if (profileDir !== undefined) printProfileBreakdowns(profileDir, profiled);
}

async function propagationBench(): Promise<void> {
  const name = `latchkey_bench_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  try {
    await admin.connect();
  } catch (err) {
    process.stdout.write(`PostgreSQL unreachable at ${PG_ADMIN_URL} (${(err as Error).message}): skipping the propagation benchmark\n`);
    return;
  }
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  const children: NodeProcess[] = [];
  let store: Store | undefined;
  const pools: Pool[] = [];
  try {
    const upstream = await spawnGatewayProcess(SELF, null, { args: ['--upstream'] });
    children.push(upstream);
    store = await openPostgresStore({ url: url.toString() });
    await prepareStore(store, upstream.port);
    const key = TokenHasher.generateKey();
    const hasher = new TokenHasher(key);
    for (const nodeName of ['node-a', 'node-b']) {
      children.push(
        await spawnGatewayProcess(
          NODE_MAIN,
          { env: 'prod', store: url.toString(), hashKey: key.toString('base64'), listen: { host: '127.0.0.1', port: 0 }, nodeName },
          { env: GATEWAY_ENV },
        ),
      );
    }
    const nodes = children.slice(1).map((child) => new Pool(`http://127.0.0.1:${child.port}`, { connections: 4 }));
    pools.push(...nodes);
    const status = async (node: Pool, token: string): Promise<number> => {
      const reply = await node.request({ path: `/bench${BENCH_PATH}`, method: 'GET', headers: { authorization: `Bearer ${token}` } });
      await reply.body.dump();
      return reply.statusCode;
    };
    const delays: number[] = [];
    for (let i = 0; i < 100; i++) {
      const token = generateToken('prod');
      const record = tokenRecord(hasher, token, { rate: null });
      await store.createToken(record, SYSTEM_ACTOR);
      for (const node of nodes) while ((await status(node, token)) !== 200);
      await store.setTokenStatus(record.id, 'revoked', SYSTEM_ACTOR);
      const committed = performance.now();
      const perNode = await Promise.all(
        nodes.map(async (node) => {
          while ((await status(node, token)) !== 401) if (performance.now() - committed > 5000) return Number.POSITIVE_INFINITY;
          return performance.now() - committed;
        }),
      );
      delays.push(...perNode);
    }
    process.stdout.write(
      `revocation propagation, 100 revocations x 2 gateway processes (PostgreSQL LISTEN/NOTIFY), from the revoke's commit to the first refused request:\n` +
        `  p50 ${percentile(delays, 50).toFixed(1)} ms   p99 ${percentile(delays, 99).toFixed(1)} ms   max ${Math.max(...delays).toFixed(1)} ms\n`,
    );
  } finally {
    await Promise.all(pools.map((p) => p.close()));
    for (const child of children.reverse()) await child.stop();
    await store?.close();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
    await admin.end();
  }
}

export async function runGatewayBench(): Promise<void> {
  await throughputBench();
  await propagationBench();
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const role = process.argv[2];
  const run = role === '--upstream' ? runUpstream() : role === '--bare' ? runBareProxy(Number(process.argv[3])) : runGatewayBench();
  run.catch((err: Error) => {
    process.stderr.write(`gateway bench failed: ${err.stack ?? err.message}\n`);
    process.exit(1);
  });
}
