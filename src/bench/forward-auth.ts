import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pino from 'pino';
import { Registry } from 'prom-client';
import { createAuditRecorder } from '../audit/index.js';
import { startForwardAuth } from '../forward-auth/index.js';
import { nginxAuthConfig } from '../forward-auth/testing/nginx-auth.js';
import { startHttpGateway } from '../gateway/index.js';
import { spawnGatewayProcess, type NodeProcess } from '../gateway/testing/node-process.js';
import { aToken } from '../store/contract/fixtures.js';
import { openSqliteStore } from '../store/index.js';
import { SYSTEM_ACTOR } from '../store/records.js';
import { generateToken, TokenHasher } from '../token/index.js';
import { median, runWrk, wrkAvailable, type WrkResult } from './wrk.js';
import { nginxAvailable, startNginx, startNginxWith, type NginxProxy } from './nginx.js';

// `npm run bench -- forward-auth`: requests/s of nginx alone (proxy_pass),
// nginx with auth_request to Latchkey's forward-auth endpoint (the
// configuration of examples/nginx.conf, no caching of answers in nginx), and
// Latchkey's own gateway, in front of the same upstream, same run, wrk on
// loopback. Latchkey (gateway and endpoint on one data plane, SQLite, audit on)
// runs in its own process; nginx with one worker.

const SELF = fileURLToPath(import.meta.url);
const UPSTREAM_SCRIPT = fileURLToPath(new URL('./gateway.js', import.meta.url));
const ROUNDS = Number(process.env.LATCHKEY_BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.LATCHKEY_BENCH_SECONDS ?? 4);
const CONNECTIONS = Number(process.env.LATCHKEY_BENCH_CONNECTIONS ?? 32);
const PATH = '/v1/orders/42';

interface LatchkeyChildOptions {
  readonly file: string;
  readonly hashKey: string;
}

/** The child: gateway and forward-auth endpoint on one data plane. Prints the gateway's port and, as `opsPort`, the endpoint's. */
async function runLatchkey(options: LatchkeyChildOptions): Promise<void> {
  const logger = pino({ level: 'silent' });
  const store = await openSqliteStore({ file: options.file });
  const recorder = createAuditRecorder({ store, failMode: 'closed', logger });
  const gateway = await startHttpGateway({
    store, hasher: new TokenHasher(Buffer.from(options.hashKey, 'base64')), env: 'prod', recorder, metrics: new Registry(), logger,
    listen: { host: '127.0.0.1', port: 0 }, nodeName: 'bench', feed: 'local',
  });
  const auth = await startForwardAuth({ plane: gateway.plane, listen: { host: '127.0.0.1', port: 0 }, trustedProxies: ['127.0.0.0/8'], secret: null, credentialServices: ['orders'], logger });
  process.on('message', (message: { cmd?: string }) => {
    if (message.cmd === 'cpu') process.send?.({ cpu: process.cpuUsage() });
  });
  process.once('SIGTERM', () => {
    void (async () => {
      await auth.close();
      await gateway.stopAccepting();
      await recorder.close();
      await gateway.close();
      await store.close();
      process.exit(0);
    })();
  });
  process.stdout.write(`${JSON.stringify({ listening: true, port: gateway.address.port, opsPort: auth.address.port })}\n`);
}

export async function runForwardAuthBench(): Promise<void> {
  if (!wrkAvailable()) {
    process.stdout.write('wrk is not installed (apt-get install -y wrk): skipping the forward-auth benchmark\n');
    return;
  }
  if (!nginxAvailable()) {
    process.stdout.write('nginx is not installed (apt-get install -y nginx-light): skipping the forward-auth benchmark\n');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-bench-fa-'));
  const children: NodeProcess[] = [];
  const proxies: NginxProxy[] = [];
  try {
    const upstream = await spawnGatewayProcess(UPSTREAM_SCRIPT, null, { args: ['--upstream'] });
    children.push(upstream);
    const hashKey = TokenHasher.generateKey();
    const hasher = new TokenHasher(hashKey);
    const file = join(dir, 'latchkey.db');
    const store = await openSqliteStore({ file });
    const now = Date.now();
    await store.createEnvironment({ name: 'prod', maxTtlMs: 365 * 86_400_000, createdAt: now }, SYSTEM_ACTOR);
    await store.createService({
      name: 'orders', kind: 'http', tokenHeader: null, maxBodyBytes: 1_048_576, paths: 'exact', headerUnderscores: 'drop', sqlFunctions: [], hiddenTools: [], createdAt: now, updatedAt: now,
      bindings: [{ env: 'prod', upstream: `http://127.0.0.1:${upstream.port}`, credential: { from: 'env', variable: 'PROD_BENCH_ORDERS_KEY', header: 'Authorization', scheme: 'Bearer' } }],
    }, SYSTEM_ACTOR);
    const token = generateToken('prod');
    await store.createToken(aToken({
      name: 'bench', env: 'prod', roles: [], permissions: ['orders:read:/v1/orders/*'], expiresAt: now + 86_400_000,
      rate: { count: 100_000_000, periodMs: 1000 }, createdAt: now, updatedAt: now,
    }, { token, hasher }), SYSTEM_ACTOR);
    await store.close();
    const latchkey = await spawnGatewayProcess(SELF, { file, hashKey: hashKey.toString('base64') }, { args: ['--latchkey'], env: { ...process.env, PROD_BENCH_ORDERS_KEY: 'bench-upstream-secret' } });
    children.push(latchkey);
    const aloneDir = join(dir, 'nginx-alone');
    const authDir = join(dir, 'nginx-auth');
    mkdirSync(aloneDir);
    mkdirSync(authDir);
    const alone = await startNginx(aloneDir, upstream.port);
    proxies.push(alone);
    const withAuth = await startNginxWith(authDir, (port) => nginxAuthConfig(authDir, port, { upstream: upstream.port, auth: latchkey.opsPort!, service: 'orders' }));
    proxies.push(withAuth);
    const targets = [
      { name: 'nginx alone (proxy_pass)', url: `http://127.0.0.1:${alone.port}${PATH}` },
      { name: 'nginx + auth_request', url: `http://127.0.0.1:${withAuth.port}${PATH}` },
      { name: 'Latchkey gateway', url: `http://127.0.0.1:${latchkey.port}/orders${PATH}` },
    ];
    const header = `Authorization: Bearer ${token}`;
    process.stdout.write(`${ROUNDS} alternating rounds of ${SECONDS}s, wrk -t2 -c${CONNECTIONS}, GET ${PATH}; nginx 1 worker; Latchkey one process (SQLite, audit on)\n`);
    for (const target of targets) runWrk(target.url, 2, CONNECTIONS, [header]);
    const rounds = targets.map(() => [] as WrkResult[]);
    for (let round = 0; round < ROUNDS; round++) targets.forEach((target, i) => rounds[i]!.push(runWrk(target.url, SECONDS, CONNECTIONS, [header])));
    const medians = rounds.map((all) => ({ rps: median(all.map((r) => r.rps)), min: Math.min(...all.map((r) => r.rps)), max: Math.max(...all.map((r) => r.rps)), p50: median(all.map((r) => r.p50Ms)), p99: median(all.map((r) => r.p99Ms)), non2xx: all.reduce((s, r) => s + r.non2xx, 0) }));
    targets.forEach((target, i) => {
      const m = medians[i]!;
      process.stdout.write(`${target.name.padEnd(26)} ${m.rps.toFixed(0).padStart(7)} req/s (${m.min.toFixed(0)}–${m.max.toFixed(0)})   p50 ${m.p50.toFixed(2)} ms   p99 ${m.p99.toFixed(2)} ms   non-2xx ${m.non2xx}\n`);
    });
    const [n, a, g] = medians as [typeof medians[0], typeof medians[0], typeof medians[0]];
    process.stdout.write(`nginx+auth_request / nginx alone ${(a.rps / n.rps).toFixed(3)}   gateway / nginx alone ${(g.rps / n.rps).toFixed(3)}   nginx+auth_request / gateway ${(a.rps / g.rps).toFixed(3)}\n`);
  } finally {
    for (const proxy of proxies) await proxy.stop();
    for (const child of children.reverse()) await child.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const run = process.argv[2] === '--latchkey' ? runLatchkey(JSON.parse(process.argv[3] ?? '{}') as LatchkeyChildOptions) : runForwardAuthBench();
  run.catch((err: Error) => {
    process.stderr.write(`forward-auth bench failed: ${err.stack ?? err.message}\n`);
    process.exit(1);
  });
}
