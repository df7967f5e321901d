// `latchkey serve` as the operator runs it: the built bin (run `npm run build`
// first) in a child process of its own, so that a test can kill -9 it, restart
// it on the same data directory, and read everything it wrote to stdout and
// stderr. Plus the admin API and the command line as a client sees them.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { request } from 'undici';

export const LATCHKEY_BIN = resolve('bin/latchkey.js');

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** One `latchkey ...` command, run to completion. */
export function runCli(args: readonly string[], env: Record<string, string> = {}): CliResult {
  const result = spawnSync(process.execPath, [LATCHKEY_BIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 30_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** `latchkey init --data DIR [--store URL] --json`; returns the first admin token. */
export function initDataDir(dataDir: string, store?: string): string {
  const args = ['init', '--data', dataDir, '--json', ...(store === undefined ? [] : ['--store', store])];
  const result = runCli(args);
  if (result.code !== 0) throw new Error(`latchkey init failed (${result.code}): ${result.stderr}`);
  return (JSON.parse(result.stdout) as { adminToken: string }).adminToken;
}

export interface ServeProcessOptions {
  readonly dataDir: string;
  /** A postgres:// URL; default the SQLite file in the data directory. */
  readonly store?: string;
  readonly configFile?: string;
  /** Added to the child's environment (upstream credentials, LATCHKEY_LOG_LEVEL...). */
  readonly env?: Record<string, string>;
}

export interface ServeProcess {
  readonly child: ChildProcess;
  readonly adminUrl: string;
  readonly gatewayUrl: string;
  stdout(): string;
  stderr(): string;
  /** kill -9: no shutdown, no final flush, no last checkpoint. Resolves once the process is gone. */
  kill9(): Promise<void>;
  /** SIGTERM, the graceful shutdown; resolves with the exit code. */
  stop(): Promise<number | null>;
}

const LISTENING = /admin API and console\s+(http:\/\/\S+)\n\s+HTTP gateway\s+(http:\/\/\S+)/;

export async function startServeProcess(options: ServeProcessOptions): Promise<ServeProcess> {
  const args = [LATCHKEY_BIN, 'serve', '--data', options.dataDir, '--admin', '127.0.0.1:0', '--gateway', '127.0.0.1:0', '--auth', '127.0.0.1:0', '--pg', '127.0.0.1:0'];
  if (options.store !== undefined) args.push('--store', options.store);
  if (options.configFile !== undefined) args.push('--config', options.configFile);
  const child = spawn(process.execPath, args, {
    env: { ...process.env, LATCHKEY_LOG_LEVEL: 'warn', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  const urls = await new Promise<[string, string]>((done, fail) => {
    const timer = setTimeout(() => {
      clearInterval(poll);
      child.kill('SIGKILL');
      fail(new Error(`serve did not start within 20 s: ${out}${err}`));
    }, 20_000);
    const poll = setInterval(() => {
      const match = LISTENING.exec(out);
      if (match === null) return;
      clearInterval(poll);
      clearTimeout(timer);
      done([match[1]!, match[2]!]);
    }, 25);
    void exited.then((code) => {
      clearInterval(poll);
      clearTimeout(timer);
      fail(new Error(`serve exited with ${code} before listening: ${out}${err}`));
    });
  });
  const gone = async (signal: NodeJS.Signals): Promise<number | null> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    return exited;
  };
  return {
    child,
    adminUrl: urls[0],
    gatewayUrl: urls[1],
    stdout: () => out,
    stderr: () => err,
    kill9: async () => {
      await gone('SIGKILL');
    },
    stop: () => gone('SIGTERM'),
  };
}

export interface AdminReply<T> {
  readonly status: number;
  readonly body: T;
  readonly text: string;
}

/** A client of the admin API with one token: JSON in, JSON (or text) out. */
export function adminClient(url: string, token: string) {
  return async function call<T = any>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<AdminReply<T>> {
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await request(`${url}${path}`, { method, headers, body: body === undefined ? null : JSON.stringify(body) });
    const text = await response.body.text();
    let parsed: unknown = undefined;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    return { status: response.statusCode, body: parsed as T, text };
  };
}

export type AdminCall = ReturnType<typeof adminClient>;

/** Every audit event after seq `from` matching `query` (`&kind=decision...`), page by page through GET /v1/audit/events. */
export async function readAllAuditEvents<E extends { seq: number } = any>(call: AdminCall, query = '', from = 0): Promise<E[]> {
  const events: E[] = [];
  let after = from;
  for (;;) {
    const page = await call<{ items: E[]; nextAfter: number | null }>('GET', `/v1/audit/events?limit=1000&after=${after}${query}`);
    if (page.status !== 200) throw new Error(`GET /v1/audit/events: ${page.status} ${page.text}`);
    events.push(...page.body.items);
    if (page.body.nextAfter === null) return events;
    after = page.body.nextAfter;
  }
}

export interface LoopbackUpstream {
  readonly url: string;
  /** What reached the upstream, in arrival order. */
  readonly seen: Array<{ readonly method: string; readonly url: string; readonly headers: IncomingHttpHeaders; readonly body: string }>;
  close(): Promise<void>;
}

/** A real HTTP server on loopback behind the gateway: answers 200 with a small JSON body. */
export async function startLoopbackUpstream(options: { record?: boolean } = {}): Promise<LoopbackUpstream> {
  const seen: LoopbackUpstream['seen'] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => {
      if (options.record === true) chunks.push(chunk);
    });
    req.on('end', () => {
      if (options.record === true) {
        seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString() });
      }
      const body = JSON.stringify({ ok: true });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  server.keepAliveTimeout = 10_000;
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}

/** One sample of a Prometheus text exposition: the sum over every label set of `name`. */
export function metricValue(exposition: string, name: string): number {
  let total = 0;
  let found = false;
  for (const line of exposition.split('\n')) {
    if (line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (match === null || match[1] !== name) continue;
    found = true;
    total += Number(match[3]);
  }
  if (!found) throw new Error(`metric ${name} is not exposed`);
  return total;
}

/**
 * Waits until the gateway routes `path` (anything but 404): on PostgreSQL a
 * service created through the admin API reaches the gateway through
 * LISTEN/NOTIFY, a few milliseconds later.
 */
export async function untilRouted(gatewayUrl: string, path: string, headers: Record<string, string> = {}, ms = 5000): Promise<number> {
  const deadline = Date.now() + ms;
  for (;;) {
    const response = await fetch(`${gatewayUrl}${path}`, { headers });
    await response.text();
    if (response.status !== 404 || Date.now() > deadline) return response.status;
    await new Promise((done) => setTimeout(done, 20));
  }
}
