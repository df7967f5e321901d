// What the audit trail costs the gateway: HTTP gateway throughput, latency and
// CPU per request with audit on versus off, in the same run, against the same
// SQLite store, token, path and upstream. Each gateway is a process of its own
// (build/gateway/testing/node-main.js, started with spawnGatewayProcess), so nothing
// shares an event loop with what is measured. Audit on is the real batch
// recorder (failMode closed, every decision committed to SQLite); audit off is
// node-main's `benchDiscardAudit`, a recorder that discards every event and
// always accepts. Load from wrk (`apt-get install -y wrk`); without wrk the
// comparison is skipped.
//
//   npm run bench -- audit-overhead
//   LATCHKEY_BENCH_SECONDS (default 5), LATCHKEY_BENCH_CONNECTIONS (default 32),
//   LATCHKEY_BENCH_ROUNDS (default 3; rounds alternate which side goes first; medians reported)
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { spawnGatewayProcess, type NodeProcess } from '../gateway/testing/node-process.js';
import { mintToken } from '../lifecycle/index.js';
import { openStore } from '../store/index.js';
import { SYSTEM_ACTOR } from '../store/records.js';
import { TokenHasher } from '../token/index.js';

const SECONDS = Number(process.env.LATCHKEY_BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.LATCHKEY_BENCH_CONNECTIONS ?? 32);
const ROUNDS = Math.max(1, Number(process.env.LATCHKEY_BENCH_ROUNDS ?? 3));
const WARMUP_SECONDS = 1;
const PATH = '/orders/v1/items/42';
const NODE_MAIN = fileURLToPath(new URL('../gateway/testing/node-main.js', import.meta.url));

// The upstream, through `node -e` (CommonJS): a small JSON answer; speaks spawnGatewayProcess' `listening` line.
const UPSTREAM = `
const http = require('node:http');
const body = Buffer.from('{"id":42,"status":"shipped"}');
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
  });
});
server.keepAliveTimeout = 60000;
process.once('SIGTERM', () => process.exit(0));
server.listen(0, '127.0.0.1', () => process.stdout.write(JSON.stringify({ listening: true, port: server.address().port }) + '\\n'));
`;

interface LoadResult {
  readonly requests: number;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Non-2xx responses and socket errors: a run with any is not a fair figure. */
  readonly failures: number;
  /** The gateway process' CPU time (user + system) per request. */
  readonly cpuUsPerRequest: number;
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 };

/** wrk's `--latency` report: requests, Requests/sec, the 50% and 99% lines, non-2xx and socket errors. */
export function parseWrk(report: string): Omit<LoadResult, 'cpuUsPerRequest'> {
  const latency = (pct: string): number => {
    const match = new RegExp(`^\\s*${pct}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(report);
    if (match === null) throw new Error(`wrk printed no ${pct}% latency:\n${report}`);
    return Number(match[1]) * UNIT_MS[match[2]!]!;
  };
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(report);
  const requests = /(\d+) requests in/.exec(report);
  if (rps === null || requests === null) throw new Error(`unexpected wrk output:\n${report}`);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(report)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(report);
  const socketErrors = socket === null ? 0 : socket.slice(1).reduce((n, count) => n + Number(count), 0);
  return { requests: Number(requests[1]), rps: Number(rps[1]), p50Ms: latency('50'), p99Ms: latency('99'), failures: non2xx + socketErrors };
}

async function load(gateway: NodeProcess, token: string, seconds: number): Promise<LoadResult> {
  const url = `http://127.0.0.1:${gateway.port}${PATH}`;
  const before = await gateway.cpu();
  const wrk = spawnSync('wrk', ['-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency', '-H', `authorization: Bearer ${token}`, url], { encoding: 'utf8' });
  const after = await gateway.cpu();
  if (wrk.status !== 0) throw new Error(`wrk failed (${wrk.status}): ${wrk.stderr}`);
  const result = parseWrk(wrk.stdout);
  const cpuUs = after.user + after.system - before.user - before.system;
  return { ...result, cpuUsPerRequest: cpuUs / Math.max(1, result.requests) };
}

function line(label: string, text: string): void {
  process.stdout.write(`${label.padEnd(28)} ${text}\n`);
}

function describe(result: Pick<LoadResult, 'rps' | 'p50Ms' | 'p99Ms' | 'cpuUsPerRequest'>): string {
  return `${Math.round(result.rps).toLocaleString('en-US').padStart(7)} req/s   p50 ${result.p50Ms.toFixed(2)} ms   ` +
    `p99 ${result.p99Ms.toFixed(2)} ms   CPU ${result.cpuUsPerRequest.toFixed(1)} µs/req`;
}

/** Each figure's median over the rounds: one run disturbed by the rest of the machine does not move it. */
function median(results: readonly LoadResult[]): Pick<LoadResult, 'rps' | 'p50Ms' | 'p99Ms' | 'cpuUsPerRequest'> {
  const of = (key: 'rps' | 'p50Ms' | 'p99Ms' | 'cpuUsPerRequest') => {
    const sorted = results.map((result) => result[key]).sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  };
  return { rps: of('rps'), p50Ms: of('p50Ms'), p99Ms: of('p99Ms'), cpuUsPerRequest: of('cpuUsPerRequest') };
}

export async function runAuditOverheadBench(): Promise<void> {
  if (spawnSync('wrk', ['--version'], { encoding: 'utf8' }).error !== undefined) {
    process.stdout.write('wrk is not installed (apt-get install -y wrk): skipping the audit on/off comparison\n');
    return;
  }
  process.stdout.write(
    `gateway with audit on versus off; node ${process.version}, wrk -t1 -c${CONNECTIONS}, ${SECONDS} s per run, ${ROUNDS} round(s)\n` +
      'audit on: the batch recorder committing every decision to SQLite (failMode closed)\n' +
      'audit off: the same gateway with a recorder that discards every event (node-main benchDiscardAudit)\n',
  );
  const dir = await mkdtemp(join(tmpdir(), 'latchkey-bench-audit-overhead-'));
  const file = join(dir, 'latchkey.db');
  const children: NodeProcess[] = [];
  try {
    const upstream = await spawnGatewayProcess('-e', null, { args: [UPSTREAM] });
    children.push(upstream);
    const key = TokenHasher.generateKey();
    const store = await openStore(file);
    let token: string;
    let setupEvents: number;
    try {
      const now = Date.now();
      await store.createEnvironment({ name: 'prod', maxTtlMs: 86_400_000, createdAt: now }, SYSTEM_ACTOR);
      await store.createService({
        name: 'orders', kind: 'http', tokenHeader: null, maxBodyBytes: 1_048_576, paths: 'exact', headerUnderscores: 'drop', sqlFunctions: [], hiddenTools: [], createdAt: now, updatedAt: now,
        bindings: [{ env: 'prod', upstream: `http://127.0.0.1:${upstream.port}`, credential: { from: 'none' } }],
      }, SYSTEM_ACTOR);
      ({ token } = await mintToken(store, new TokenHasher(key), {
        name: 'bench', env: 'prod', owner: 'bench', roles: [], permissions: ['orders:read:/v1/**'], expiresAt: now + 3_600_000,
        notBefore: null, cidrs: [], rate: null, maxUses: null, honey: false, metadata: {}, parentId: null,
      }, SYSTEM_ACTOR, now, null));
      setupEvents = (await store.auditHead()).seq;
    } finally {
      await store.close();
    }

    const node = (discard: boolean) => spawnGatewayProcess(NODE_MAIN, {
      env: 'prod', store: file, hashKey: key.toString('base64'), listen: { host: '127.0.0.1', port: 0 },
      nodeName: discard ? 'bench-audit-off' : 'bench-audit-on', ...(discard && { benchDiscardAudit: true }),
    });
    const sides = { on: await node(false), off: await node(true) };
    children.push(sides.on, sides.off);
    let audited = 0;
    for (const side of ['on', 'off'] as const) {
      const warm = await load(sides[side], token, WARMUP_SECONDS);
      if (side === 'on') audited += warm.requests;
    }

    const results: Record<'on' | 'off', LoadResult[]> = { on: [], off: [] };
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? (['on', 'off'] as const) : (['off', 'on'] as const);
      for (const side of order) {
        const result = await load(sides[side], token, SECONDS);
        if (result.failures > 0) throw new Error(`audit ${side}: ${result.failures} failed requests; the figures would not be comparable`);
        if (side === 'on') audited += result.requests;
        results[side].push(result);
        line(`audit ${side}${ROUNDS > 1 ? ` (round ${round + 1})` : ''}`, describe(result));
      }
    }
    const on = median(results.on);
    const off = median(results.off);
    if (ROUNDS > 1) {
      line('audit on (median)', describe(on));
      line('audit off (median)', describe(off));
    }
    line('audit on / off', `throughput ${(on.rps / off.rps).toFixed(3)}   p50 ${(on.p50Ms / off.p50Ms).toFixed(2)}x   ` +
      `p99 ${(on.p99Ms / off.p99Ms).toFixed(2)}x   CPU +${(on.cpuUsPerRequest - off.cpuUsPerRequest).toFixed(1)} µs/req`);

    // A graceful stop flushes the audit-on node's queue; then its events are counted in the store.
    for (const child of children.splice(1)) await child.stop();
    const after = await openStore(file);
    try {
      const events = (await after.auditHead()).seq - setupEvents;
      line('audit on: events committed', `${events.toLocaleString('en-US')} for ${audited.toLocaleString('en-US')} requests (wrk counts completed ones only)`);
    } finally {
      await after.close();
    }
  } finally {
    for (const child of children.reverse()) await child.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runAuditOverheadBench();
}
