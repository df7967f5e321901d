import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import pino from 'pino';
import { Registry } from 'prom-client';
import { Pool } from 'undici';
import { createAuditRecorder } from '../audit/index.js';
import { startHttpGateway } from '../gateway/index.js';
import { startMcpUpstream } from '../mcp/testing/http-upstream.js';
import { aToken } from '../store/contract/fixtures.js';
import { openSqliteStore } from '../store/index.js';
import { SYSTEM_ACTOR } from '../store/records.js';
import { generateToken, TokenHasher } from '../token/index.js';

// `npm run bench -- mcp`: MCP tool calls per second and p50/p99 latency,
// directly to the SDK's own MCP server (createMcpHandler, 2025 stateless) and
// through the gateway (SQLite store, audit on, a token granted
// `gh:call:list_*`, the call authorized on its body), alternating rounds in one
// run. The load is undici keep-alive pools with N concurrent callers
// (not the SDK client, whose per-call overhead would be measured instead),
// each sending `tools/call list_repos`. The SDK server runs in a child
// process; the load and the gateway share this one (on a 2-core machine the
// three compete for CPU, which weighs on the gateway's side).

const SELF = fileURLToPath(import.meta.url);

const ROUNDS = Number(process.env.LATCHKEY_BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.LATCHKEY_BENCH_SECONDS ?? 4);
const CONCURRENCY = Number(process.env.LATCHKEY_BENCH_CONNECTIONS ?? 16);
const BODY = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'list_repos', arguments: {} } });

interface RoundResult {
  readonly callsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
}

async function round(url: URL, headers: Record<string, string>): Promise<RoundResult> {
  const pool = new Pool(url.origin, { connections: CONCURRENCY, pipelining: 1 });
  const latencies: number[] = [];
  let errors = 0;
  const end = performance.now() + SECONDS * 1000;
  const caller = async (): Promise<void> => {
    while (performance.now() < end) {
      const started = performance.now();
      const reply = await pool.request({ path: url.pathname, method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers }, body: BODY });
      const text = await reply.body.text();
      if (reply.statusCode !== 200 || !text.includes('acme/web')) errors++;
      latencies.push(performance.now() - started);
    }
  };
  const began = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, caller));
  const elapsed = (performance.now() - began) / 1000;
  await pool.close();
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return { callsPerSecond: latencies.length / elapsed, p50Ms: at(0.5), p99Ms: at(0.99), errors };
}

function medianOf(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

export async function runMcpBench(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-bench-mcp-'));
  const logger = pino({ level: 'silent' });
  const child = fork(SELF, ['--upstream'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const upstreamUrl = await new Promise<string>((resolve, reject) => {
    child.once('message', (message: { url?: string }) => (message.url === undefined ? reject(new Error('no upstream')) : resolve(message.url)));
    child.once('exit', () => reject(new Error('the upstream exited')));
  });
  const upstream = { url: upstreamUrl, close: async () => { child.kill('SIGTERM'); } };
  const store = await openSqliteStore({ file: join(dir, 'latchkey.db') });
  const hasher = new TokenHasher(TokenHasher.generateKey());
  const now = Date.now();
  await store.createEnvironment({ name: 'prod', maxTtlMs: 86_400_000, createdAt: now }, SYSTEM_ACTOR);
  await store.createService({ name: 'gh', kind: 'mcp', bindings: [{ env: 'prod', upstream: upstream.url, credential: { from: 'none' } }], tokenHeader: null, maxBodyBytes: 1_048_576, paths: 'exact', headerUnderscores: 'drop', sqlFunctions: [], hiddenTools: [], createdAt: now, updatedAt: now }, SYSTEM_ACTOR);
  // The same upstream as a plain http service: what the HTTP adapter alone costs, without the MCP stages.
  await store.createService({ name: 'plain', kind: 'http', bindings: [{ env: 'prod', upstream: upstream.url, credential: { from: 'none' } }], tokenHeader: null, maxBodyBytes: 1_048_576, paths: 'exact', headerUnderscores: 'drop', sqlFunctions: [], hiddenTools: [], createdAt: now, updatedAt: now }, SYSTEM_ACTOR);
  const token = generateToken('prod');
  await store.createToken(aToken({ name: 'bench', env: 'prod', roles: [], permissions: ['gh:call:list_*', 'plain:POST:/'], expiresAt: now + 3_600_000, createdAt: now, updatedAt: now }, { token, hasher }), SYSTEM_ACTOR);
  const recorder = createAuditRecorder({ store, failMode: 'closed', logger });
  const gateway = await startHttpGateway({ store, hasher, env: 'prod', recorder, metrics: new Registry(), logger, listen: { host: '127.0.0.1', port: 0 }, nodeName: 'bench', feed: 'local' });
  const direct = new URL(upstream.url);
  const through = new URL(`http://127.0.0.1:${gateway.address.port}/gh/mcp`);
  const asHttp = new URL(`http://127.0.0.1:${gateway.address.port}/plain`);
  const results = { direct: [] as RoundResult[], gateway: [] as RoundResult[], http: [] as RoundResult[] };
  try {
    // Warm both paths (token cache, pools, JIT).
    await round(direct, {});
    await round(through, { authorization: `Bearer ${token}` });
    for (let i = 0; i < ROUNDS; i++) {
      results.direct.push(await round(direct, {}));
      results.gateway.push(await round(through, { authorization: `Bearer ${token}` }));
      results.http.push(await round(asHttp, { authorization: `Bearer ${token}` }));
    }
  } finally {
    await gateway.stopAccepting();
    await recorder.close();
    await gateway.close();
    await store.close();
    await upstream.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const summary = (rounds: RoundResult[]) => ({
    callsPerSecond: Math.round(medianOf(rounds.map((r) => r.callsPerSecond))),
    p50Ms: Number(medianOf(rounds.map((r) => r.p50Ms)).toFixed(3)),
    p99Ms: Number(medianOf(rounds.map((r) => r.p99Ms)).toFixed(3)),
    errors: rounds.reduce((sum, r) => sum + r.errors, 0),
  });
  const d = summary(results.direct);
  const g = summary(results.gateway);
  process.stdout.write(`\nmcp: tools/call list_repos, ${CONCURRENCY} concurrent callers (undici keep-alive), ${ROUNDS} rounds of ${SECONDS}s, medians\n`);
  process.stdout.write(`  direct to the SDK server   ${String(d.callsPerSecond).padStart(6)} calls/s  p50 ${d.p50Ms} ms  p99 ${d.p99Ms} ms  errors ${d.errors}\n`);
  process.stdout.write(`  through the gateway        ${String(g.callsPerSecond).padStart(6)} calls/s  p50 ${g.p50Ms} ms  p99 ${g.p99Ms} ms  errors ${g.errors}\n`);
  const h = summary(results.http);
  process.stdout.write(`  same upstream as http service ${String(h.callsPerSecond).padStart(6)} calls/s  p50 ${h.p50Ms} ms  p99 ${h.p99Ms} ms  errors ${h.errors}  (HTTP adapter only, no MCP stages)\n`);
  process.stdout.write(`  ratio ${(g.callsPerSecond / d.callsPerSecond).toFixed(3)} of direct calls/s, p50 added ${(g.p50Ms - d.p50Ms).toFixed(3)} ms\n`);
}

if (process.argv.includes('--upstream') && pathToFileURL(process.argv[1] ?? '').href === import.meta.url) {
  const upstream = await startMcpUpstream();
  process.send?.({ url: upstream.url });
  process.once('SIGTERM', () => void upstream.close().then(() => process.exit(0)));
}
