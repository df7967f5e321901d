import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { spawnGatewayProcess, type NodeProcess } from '../gateway/testing/node-process.js';
import { BENCH_PATH, GATEWAY_ENV, NODE_MAIN, prepareSqliteGateway, SELF } from './gateway.js';
import { median } from './wrk.js';

// `npm run bench -- instructions`: what each request costs the proxy in
// instructions, counted by valgrind's callgrind, for the bare undici proxy and
// the gateway (audit on, and audit discarded), in front of the same upstream.
// Unlike CPU time under wrk, an instruction count does not move with what else
// the machine is doing. It does move with when V8 works: a round that a major
// GC or a compilation lands in counts more, and which rounds those are differs
// from run to run (the gateway's median ranged 252,000–313,000 per request over
// runs of the same code). So each proxy's node runs V8 single-threaded
// (--single-threaded: compiler and GC work on the main thread, where the
// program's own progress, not a helper thread's timing, decides when), and the
// quietest round is reported beside the median: over three runs of the same
// code it repeated within 2 % (bare 128,572–130,841, gateway 249,975–250,939,
// audit discarded 181,519–182,306), where the gateway's median moved by 8 %.
// Each proxy runs alone under callgrind; the upstream and this client run
// natively. Per round:
// counters zeroed, exactly REQUESTS requests at CONCURRENCY in flight, counters
// dumped. Kernel work (system calls, the socket writes) is not counted: that is
// what `npm run bench -- gateway` adds. Each proxy's node runs with
// --perf-basic-prof, so that JIT-compiled code, which callgrind knows only by
// address, is named from V8's map of it (/tmp/perf-<pid>.map): the JavaScript
// function and its file, every tier of it as one.

const ROUNDS = Number(process.env.LATCHKEY_BENCH_ROUNDS ?? 5);
const REQUESTS = Number(process.env.LATCHKEY_BENCH_REQUESTS ?? 2000);
/**
 * Warm-up: at least MIN_WARMUP_ROUNDS rounds of REQUESTS, then more until the
 * last SETTLED_ROUNDS are within 2 % of each other (V8's compiler tiers have
 * settled), at most MAX_WARMUP_ROUNDS. One round close to the one before is not
 * enough: a tier-up can land between two quiet rounds.
 */
const MIN_WARMUP_ROUNDS = 5;
const SETTLED_ROUNDS = 3;
const MAX_WARMUP_ROUNDS = Number(process.env.LATCHKEY_BENCH_WARMUP_ROUNDS ?? 20);
const CONCURRENCY = Number(process.env.LATCHKEY_BENCH_CONCURRENCY ?? 32);

export function valgrindAvailable(): boolean {
  return spawnSync('valgrind', ['--version'], { encoding: 'utf8' }).error === undefined;
}

/** Sends exactly `count` GETs with `concurrency` in flight on keep-alive connections; every answer must be a 200. */
async function drive(pool: Pool, path: string, headers: Record<string, string>, count: number, concurrency: number): Promise<void> {
  let sent = 0;
  const failures: string[] = [];
  const worker = async (): Promise<void> => {
    while (sent < count) {
      sent++;
      const reply = await pool.request({ path, method: 'GET', headers });
      await reply.body.dump();
      if (reply.statusCode !== 200) failures.push(String(reply.statusCode));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  if (failures.length > 0) throw new Error(`${failures.length} of ${count} requests were not answered 200 (${failures.slice(0, 5).join(', ')})`);
}

function callgrindControl(pid: number, flag: '-z' | '-d'): void {
  const run = spawnSync('callgrind_control', [flag, String(pid)], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`callgrind_control ${flag} ${pid} failed: ${run.stderr}${run.stdout}`);
}

/**
 * The files of the newest dump callgrind wrote in `dir`, one per thread
 * (`--separate-threads=yes`: `cg.out.<dump>-<thread>`, thread 01 the main one).
 */
function newestDump(dir: string): string[] {
  const files = readdirSync(dir)
    .map((name) => ({ name, part: Number(/^cg\.out\.(\d+)-\d+$/.exec(name)?.[1] ?? Number.NaN) }))
    .filter((file) => Number.isFinite(file.part));
  if (files.length === 0) throw new Error(`callgrind wrote no dump in ${dir}`);
  const newest = Math.max(...files.map((file) => file.part));
  return files.filter((file) => file.part === newest).map((file) => join(dir, file.name)).sort();
}

/** Where an instruction was spent, by the function and object callgrind names for it. */
const BUCKETS: ReadonlyArray<readonly [string, RegExp]> = [
  // JIT-compiled JavaScript, named from V8's perf map (jitNames): by whose file it is.
  ["JS: Latchkey's own (build/)", /^JS: .* file:\/\/.*\/build\//],
  ['JS: undici', /^JS: .*undici/],
  ['JS: node (http, net, streams, events)', /^JS: .* node:/],
  ['JS: other (the bench, libraries)', /^JS: /],
  ['regular expressions (JIT)', /^RegExp:/],
  ['SQLite', /better_sqlite3\.node|sqlite3/],
  ['OpenSSL (SHA-256, HMAC)', /sha256|sha512|SHA256|HMAC|EVP_|ossl_|OPENSSL|libcrypto/],
  ['V8 garbage collector', /Heap|Scaveng|MarkCompact|Sweep|Marking|Evacuat|cppgc|::GC|Collector|WriteBarrier/],
  ['JIT code V8 did not name', /^\?\?\?|^0x[0-9a-f]+ /],
  ['V8 builtins and interpreter', /Builtins_/],
  ['V8 runtime (parsing, compiling, ICs)', /v8::|icu_/],
  ['node and libuv (C++)', /node::|uv_|uv__|llhttp|nghttp|simdutf|ada::/],
  ['libc and the loader', /libc\.so|libm\.so|ld-linux|libstdc\+\+/],
];

export interface InstructionProfile {
  readonly total: number;
  /** What the main thread (the event loop) ran, of total. */
  readonly main: number;
  /** The main thread's instructions by part and by function: V8's compiler and GC helper threads land when they will, and would blur the picture. */
  readonly buckets: ReadonlyMap<string, number>;
  readonly functions: ReadonlyMap<string, number>;
}

/**
 * Self cost per function of one callgrind dump (a file per thread), summed into BUCKETS. A cost
 * line belongs to the function named by the last `fn=`, except the line right
 * after `calls=`, which is the inclusive cost of that call. Names are given
 * once as `(id) name` and then as `(id)` alone.
 */
export function readProfile(files: readonly string[], jit: JitNames = NO_JIT_NAMES): InstructionProfile {
  const functions = new Map<string, number>();
  let total = 0;
  let main = 0;
  for (const file of files) {
    const isMain = file.endsWith('-01');
    const cost = readDump(file, isMain ? functions : null, jit);
    total += cost;
    if (isMain) main += cost;
  }
  const buckets = new Map<string, number>();
  for (const [name, cost] of functions) {
    const bucket = BUCKETS.find(([, pattern]) => pattern.test(name))?.[0] ?? 'other';
    buckets.set(bucket, (buckets.get(bucket) ?? 0) + cost);
  }
  return { total, main, buckets, functions };
}

/** JIT-compiled code by address, from V8's perf map: sorted starts, the end and the name of each. */
export interface JitNames {
  readonly starts: readonly number[];
  readonly ends: readonly number[];
  readonly names: readonly string[];
}

const NO_JIT_NAMES: JitNames = { starts: [], ends: [], names: [] };

/**
 * V8's perf map (`--perf-basic-prof`: lines of `start size name`, hex), code
 * of every tier of a function under one name: `JS:*f file:line:col` (and ~ ^ +
 * for the other tiers) as `JS: f file:line`. Later lines win where code was
 * moved or its space reused.
 */
export function readJitNames(file: string): JitNames {
  if (!existsSync(file)) return NO_JIT_NAMES;
  const byStart = new Map<number, { end: number; name: string }>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const match = /^([0-9a-f]+) ([0-9a-f]+) (.*)$/.exec(line);
    if (match === null) continue;
    const start = Number.parseInt(match[1]!, 16);
    const name = match[3]!.replace(/^JS:[*~^+]?/, 'JS: ').replace(/^(JS: .*):\d+$/, '$1');
    byStart.set(start, { end: start + Number.parseInt(match[2]!, 16), name });
  }
  const starts = [...byStart.keys()].sort((a, b) => a - b);
  return { starts, ends: starts.map((start) => byStart.get(start)!.end), names: starts.map((start) => byStart.get(start)!.name) };
}

/** The name of the JIT code at `address`, or undefined. */
function jitName(jit: JitNames, address: number): string | undefined {
  let low = 0;
  let high = jit.starts.length - 1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    if (jit.starts[middle]! <= address) low = middle + 1;
    else high = middle - 1;
  }
  return high >= 0 && address < jit.ends[high]! ? jit.names[high] : undefined;
}

/** Adds one thread's dump into `functions` (null: only its total is wanted); returns its total. Code callgrind names by address alone is named from `jit`. */
function readDump(file: string, functions: Map<string, number> | null, jit: JitNames): number {
  const text = readFileSync(file, 'utf8');
  const names = { ob: new Map<string, string>(), fn: new Map<string, string>() };
  const resolve = (kind: 'ob' | 'fn', value: string): string => {
    const match = /^\((\d+)\)(?: (.*))?$/.exec(value);
    if (match === null) return value;
    if (match[2] !== undefined) names[kind].set(match[1]!, match[2]);
    return names[kind].get(match[1]!) ?? value;
  };
  let object = '???';
  let fn = '???';
  const keys = new Map<string, string>();
  const named = (name: string, of: string): string => {
    const id = `${name} [${of}]`;
    let key = keys.get(id);
    if (key === undefined) {
      key = (/^0x[0-9a-f]+$/.test(name) ? jitName(jit, Number.parseInt(name, 16)) : undefined) ?? id;
      keys.set(id, key);
    }
    return key;
  };
  let callCost = false;
  let total = 0;
  for (const line of text.split('\n')) {
    const first = line.charCodeAt(0);
    if ((first >= 48 && first <= 57) || line[0] === '+' || line[0] === '-' || line[0] === '*') {
      if (callCost) {
        callCost = false;
        continue;
      }
      const cost = Number(line.split(' ')[1] ?? 0);
      total += cost;
      if (functions === null) continue;
      const key = named(fn, object);
      functions.set(key, (functions.get(key) ?? 0) + cost);
      continue;
    }
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    const kind = line.slice(0, eq);
    const value = line.slice(eq + 1);
    if (kind === 'ob') object = resolve('ob', value);
    else if (kind === 'fn') fn = resolve('fn', value);
    else if (kind === 'cob') resolve('ob', value);
    else if (kind === 'cfn') resolve('fn', value);
    else if (kind === 'calls') callCost = true;
  }
  return total;
}

interface Target {
  readonly name: string;
  readonly label: string;
  readonly start: (wrapper: readonly [string, ...string[]] | undefined, nodeArgs?: readonly string[]) => Promise<NodeProcess>;
  readonly path: string;
}

interface Counted {
  readonly perRequest: number[];
  /** The main thread's share of perRequest, round by round. */
  readonly mainPerRequest: number[];
  /** Instructions per request of each warm-up round. */
  readonly warmup: number[];
  readonly profile: InstructionProfile;
}

async function countInstructions(target: Target, dir: string, headers: Record<string, string>): Promise<Counted> {
  const out = join(dir, target.name);
  mkdirSync(out);
  const proxy = await target.start(['valgrind', '--tool=callgrind', `--callgrind-out-file=${join(out, 'cg.out')}`, '--dump-instr=no', '--compress-strings=no', '--separate-threads=yes'], ['--perf-basic-prof', '--single-threaded']);
  // Under valgrind node keeps its pid (the tool runs in the same process), and so names its map by it.
  const perfMap = `/tmp/perf-${proxy.child.pid!}.map`;
  const pool = new Pool(`http://127.0.0.1:${proxy.port}`, { connections: CONCURRENCY, headersTimeout: 120_000, bodyTimeout: 120_000 });
  try {
    const round = async (): Promise<InstructionProfile> => {
      callgrindControl(proxy.child.pid!, '-z');
      await drive(pool, target.path, headers, REQUESTS, CONCURRENCY);
      callgrindControl(proxy.child.pid!, '-d');
      const dump = newestDump(out);
      const profile = readProfile(dump, readJitNames(perfMap));
      for (const file of dump) rmSync(file);
      return profile;
    };
    const warmup: number[] = [];
    while (warmup.length < MAX_WARMUP_ROUNDS) {
      warmup.push((await round()).total / REQUESTS);
      const recent = warmup.slice(-SETTLED_ROUNDS);
      if (warmup.length >= MIN_WARMUP_ROUNDS && Math.max(...recent) <= 1.02 * Math.min(...recent)) break;
    }
    const profiles: InstructionProfile[] = [];
    for (let i = 0; i < ROUNDS; i++) profiles.push(await round());
    // The breakdown is the quietest round's (fewest instructions on the main thread): a round that a major GC or a
    // compilation lands in is spread, not the picture. With V8 single-threaded that round repeats between runs.
    const byMain = [...profiles].sort((a, b) => a.main - b.main);
    return {
      perRequest: profiles.map((profile) => profile.total / REQUESTS),
      mainPerRequest: profiles.map((profile) => profile.main / REQUESTS),
      warmup,
      profile: byMain[0]!,
    };
  } finally {
    await pool.close();
    await proxy.stop();
    rmSync(perfMap, { force: true });
  }
}

/** The bare proxy's own user CPU per request, run natively, for converting instructions into time on this machine. */
async function nativeUserMicros(target: Target, headers: Record<string, string>): Promise<number> {
  const proxy = await target.start(undefined);
  const pool = new Pool(`http://127.0.0.1:${proxy.port}`, { connections: CONCURRENCY });
  try {
    await drive(pool, target.path, headers, REQUESTS * 5, CONCURRENCY);
    const samples: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const before = (await proxy.cpu()).user;
      await drive(pool, target.path, headers, REQUESTS * 5, CONCURRENCY);
      samples.push(((await proxy.cpu()).user - before) / (REQUESTS * 5));
    }
    return median(samples);
  } finally {
    await pool.close();
    await proxy.stop();
  }
}

const thousands = (n: number) => Math.round(n).toLocaleString('en-US');
/** `median (min–max)` of per-request counts. */
const spread = (values: readonly number[]) => `${thousands(median(values)).padStart(9)} (${thousands(Math.min(...values))}–${thousands(Math.max(...values))})`;

export async function runInstructionsBench(): Promise<void> {
  if (!valgrindAvailable()) {
    process.stdout.write('valgrind is not installed (apt-get install -y valgrind): skipping the instruction counts\n');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-instructions-'));
  const children: NodeProcess[] = [];
  try {
    const upstream = await spawnGatewayProcess(SELF, null, { args: ['--upstream'] });
    children.push(upstream);
    const { token, nodeOptions } = await prepareSqliteGateway(dir, upstream.port);
    const headers = { authorization: `Bearer ${token}` };
    const slow = { startTimeoutMs: 300_000 };
    const targets: Target[] = [
      { name: 'bare', label: 'bare undici proxy', path: BENCH_PATH, start: (wrapper, nodeArgs = []) => spawnGatewayProcess(SELF, null, { args: ['--bare', String(upstream.port)], nodeArgs, ...(wrapper ? { wrapper } : {}), ...slow }) },
      { name: 'gateway', label: 'gateway (audit on, SQLite)', path: `/bench${BENCH_PATH}`, start: (wrapper, nodeArgs = []) => spawnGatewayProcess(NODE_MAIN, nodeOptions(), { env: GATEWAY_ENV, nodeArgs, ...(wrapper ? { wrapper } : {}), ...slow }) },
      { name: 'unaudited', label: 'gateway (audit discarded)', path: `/bench${BENCH_PATH}`, start: (wrapper, nodeArgs = []) => spawnGatewayProcess(NODE_MAIN, nodeOptions({ benchDiscardAudit: true }), { env: GATEWAY_ENV, nodeArgs, ...(wrapper ? { wrapper } : {}), ...slow }) },
    ];
    process.stdout.write(
      `callgrind, each proxy alone: rounds of exactly ${REQUESTS} requests, at least ${MIN_WARMUP_ROUNDS} warm-up rounds, more until the last ${SETTLED_ROUNDS} are within 2 % of each other (at most ${MAX_WARMUP_ROUNDS}), then ${ROUNDS} measured (GET ${targets[1]!.path}, ${CONCURRENCY} in flight); ` +
        `instructions per request in user space, the proxy's every thread and its main thread alone (median, spread min–max)\n`,
    );
    const counted = new Map<string, Counted>();
    for (const target of targets) {
      const result = await countInstructions(target, dir, headers);
      counted.set(target.name, result);
      process.stdout.write(
        `${target.label.padEnd(28)} ${spread(result.perRequest)} instructions/request, main thread ${spread(result.mainPerRequest)}; warm-up ${result.warmup.map(thousands).join(', ')}\n`,
      );
    }
    const per = (name: string) => median(counted.get(name)!.perRequest);
    const mainPer = (name: string) => median(counted.get(name)!.mainPerRequest);
    const quietest = (name: string) => Math.min(...counted.get(name)!.mainPerRequest);
    const split = (of: (name: string) => number) =>
      `${thousands(of('gateway') - of('bare'))}; of which the audit log ${thousands(of('gateway') - of('unaudited'))}, checks and forwarding ${thousands(of('unaudited') - of('bare'))}`;
    const added = per('gateway') - per('bare');
    const userMicros = await nativeUserMicros(targets[0]!, headers);
    const perMicro = per('bare') / userMicros;
    process.stdout.write(
      `added by the gateway: ${split(per)} instructions/request\n` +
        `  on the main thread (the event loop) alone: ${split(mainPer)}\n` +
        `  in the quietest round (the least disturbed by GC and compilation; it repeated within 2 % between runs here): ${split(quietest)}\n` +
        `  at the bare proxy's native rate on this machine (${perMicro.toFixed(0)} instructions per µs of its user CPU, ${userMicros.toFixed(1)} µs/request): about ${(added / perMicro).toFixed(1)} µs of user CPU per request\n`,
    );
    const names = [...new Set(targets.flatMap((target) => [...counted.get(target.name)!.profile.buckets.keys()]))];
    const bucket = (name: string, key: string) => (counted.get(name)!.profile.buckets.get(key) ?? 0) / REQUESTS;
    process.stdout.write(`\nwhere the main thread's instructions of each request go (the quietest round), and what the gateway adds:\n${'part'.padEnd(40)}${'bare'.padStart(10)}${'unaudited'.padStart(11)}${'gateway'.padStart(10)}${'added'.padStart(10)}\n`);
    for (const key of names.sort((a, b) => bucket('gateway', b) - bucket('gateway', a))) {
      process.stdout.write(
        `${key.padEnd(40)}${thousands(bucket('bare', key)).padStart(10)}${thousands(bucket('unaudited', key)).padStart(11)}${thousands(bucket('gateway', key)).padStart(10)}${thousands(bucket('gateway', key) - bucket('bare', key)).padStart(10)}\n`,
      );
    }
    const fn = (name: string, key: string) => (counted.get(name)!.profile.functions.get(key) ?? 0) / REQUESTS;
    const topAdded = (more: string, less: string, what: string) => {
      const keys = new Set([...counted.get(more)!.profile.functions.keys(), ...counted.get(less)!.profile.functions.keys()]);
      const top = [...keys].map((key) => ({ key, added: fn(more, key) - fn(less, key) })).sort((a, b) => b.added - a.added).slice(0, 20);
      process.stdout.write(`\nthe 20 functions that add most on the main thread, ${what}, instructions/request:\n`);
      for (const { key, added: count } of top) process.stdout.write(`${thousands(count).padStart(8)}  ${key.length > 120 ? `${key.slice(0, 117)}...` : key}\n`);
    };
    topAdded('gateway', 'bare', 'gateway (audit on) minus bare');
    topAdded('unaudited', 'bare', 'checks and forwarding: gateway (audit discarded) minus bare');
    topAdded('gateway', 'unaudited', 'the audit log: gateway (audit on) minus gateway (audit discarded)');
  } finally {
    for (const child of children.reverse()) await child.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
