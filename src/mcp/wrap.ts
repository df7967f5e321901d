import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { readBody } from './body.js';

// `latchkey mcp-wrap`: a stdio MCP server behind a loopback Streamable HTTP
// endpoint, so a service binding can point at it and the gateway protects it
// like any other. A 2025-11-25 client's `initialize` starts a process of its
// own for its session (Mcp-Session-Id); 2026-07-28 requests, which carry no
// session, share one process. Request ids and progress tokens are renumbered
// on the way in, so concurrent clients of one process cannot answer for each
// other, and put back on the way out. Every POST that holds a request is
// answered as an event stream, each message sent as the process writes it.

const MAX_BODY = 4 * 1024 * 1024;

type Message = Record<string, unknown>;
type Id = string | number;

interface Waiting {
  readonly res: ServerResponse;
  readonly id: Id;
  readonly progress: Id | undefined;
}

class StdioProcess {
  readonly #child: ChildProcess;
  readonly #waiting = new Map<number, Waiting>();
  readonly #progress = new Map<number, { res: ServerResponse; token: Id }>();
  #next = 1;
  /** The GET stream of a 2025 session: where messages not answering a request go. */
  stream: ServerResponse | null = null;
  closed = false;

  constructor(command: string, args: readonly string[]) {
    this.#child = spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'] });
    this.#child.on('exit', () => {
      this.closed = true;
      for (const waiting of this.#waiting.values()) waiting.res.end();
      this.#waiting.clear();
    });
    this.#child.on('error', () => {
      this.closed = true;
    });
    createInterface({ input: this.#child.stdout! }).on('line', (line) => this.#fromProcess(line));
  }

  /** Sends the client's messages; the requests among them are answered on `res` (an event stream). */
  send(messages: readonly Message[], res: ServerResponse): number {
    let requests = 0;
    for (const message of messages) {
      const out = { ...message };
      if (typeof message.method === 'string' && (typeof message.id === 'string' || typeof message.id === 'number')) {
        const id = this.#next++;
        const params = message.params as Message | undefined;
        const meta = params?._meta as Message | undefined;
        const token = meta?.progressToken as Id | undefined;
        let progress: Id | undefined;
        if (token !== undefined) {
          progress = this.#next++;
          this.#progress.set(progress, { res, token });
          out.params = { ...params, _meta: { ...meta, progressToken: progress } };
        }
        this.#waiting.set(id, { res, id: message.id, progress });
        out.id = id;
        requests++;
      }
      this.#child.stdin!.write(`${JSON.stringify(out)}\n`);
    }
    return requests;
  }

  #fromProcess(line: string): void {
    let message: Message;
    try {
      message = JSON.parse(line) as Message;
    } catch {
      return;
    }
    if (message.method === undefined && typeof message.id === 'number') {
      const waiting = this.#waiting.get(message.id);
      if (waiting === undefined) return;
      this.#waiting.delete(message.id);
      if (waiting.progress !== undefined) this.#progress.delete(waiting.progress as number);
      writeEvent(waiting.res, { ...message, id: waiting.id });
      if (![...this.#waiting.values()].some((other) => other.res === waiting.res)) waiting.res.end();
      return;
    }
    if (message.method === 'notifications/progress') {
      const params = message.params as Message | undefined;
      const target = this.#progress.get(params?.progressToken as number);
      if (target !== undefined) return writeEvent(target.res, { ...message, params: { ...params, progressToken: target.token } });
    }
    // A notification or a request of the server's own: the GET stream if there is one, else every open answer.
    if (this.stream !== null) return writeEvent(this.stream, message);
    for (const res of new Set([...this.#waiting.values()].map((waiting) => waiting.res))) writeEvent(res, message);
  }

  close(): void {
    this.closed = true;
    this.#child.kill();
  }
}

function writeEvent(res: ServerResponse, message: Message): void {
  if (!res.headersSent) res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
  if (!res.writableEnded) res.write(`event: message\ndata: ${JSON.stringify(message)}\n\n`);
}

function jsonError(res: ServerResponse, status: number, message: string): void {
  const body = JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32600, message } });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

export interface StdioBridge {
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

export interface StdioBridgeOptions {
  readonly command: string;
  readonly args: readonly string[];
  readonly host?: string;
  readonly port?: number;
}

export async function startStdioBridge(options: StdioBridgeOptions): Promise<StdioBridge> {
  const sessions = new Map<string, StdioProcess>();
  let shared: StdioProcess | null = null;
  const sharedProcess = (): StdioProcess => {
    if (shared === null || shared.closed) shared = new StdioProcess(options.command, options.args);
    return shared;
  };

  const onRequest = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const sessionId = req.headers['mcp-session-id'] as string | undefined;
    const session = sessionId === undefined ? undefined : sessions.get(sessionId);
    if (sessionId !== undefined && session === undefined) return jsonError(res, 404, 'unknown or ended session');
    if (req.method === 'DELETE') {
      if (session === undefined) return jsonError(res, 400, 'DELETE needs an Mcp-Session-Id');
      session.close();
      sessions.delete(sessionId!);
      res.writeHead(204).end();
      return;
    }
    if (req.method === 'GET') {
      if (session === undefined) return jsonError(res, 405, 'a GET stream belongs to a session');
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', 'mcp-session-id': sessionId! });
      res.flushHeaders();
      session.stream = res;
      res.once('close', () => {
        if (session.stream === res) session.stream = null;
      });
      return;
    }
    if (req.method !== 'POST') return jsonError(res, 405, 'POST, GET or DELETE');
    const body = await readBody(req, MAX_BODY);
    if (body === null) return jsonError(res, 413, 'body too large');
    let value: unknown;
    try {
      value = JSON.parse(body.toString('utf8'));
    } catch {
      return jsonError(res, 400, 'not JSON');
    }
    const messages = (Array.isArray(value) ? value : [value]) as Message[];
    let target = session;
    if (target === undefined && messages.some((message) => message.method === 'initialize')) {
      const id = randomUUID();
      target = new StdioProcess(options.command, options.args);
      sessions.set(id, target);
      res.setHeader('mcp-session-id', id);
    } else if (target !== undefined) {
      res.setHeader('mcp-session-id', sessionId!);
    }
    target ??= sharedProcess();
    const requests = target.send(messages, res);
    if (requests === 0) {
      res.writeHead(202).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
    res.flushHeaders();
  };

  const server = createServer((req, res) => {
    onRequest(req, res).catch(() => res.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 0 }, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}/`,
    server,
    close: async () => {
      for (const session of sessions.values()) session.close();
      shared?.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
