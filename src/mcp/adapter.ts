import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { once } from 'node:events';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { DecisionContext } from '../core/decision.js';
import type { DataPlaneCore } from '../core/data-plane-core.js';
import type { ReasonCode } from '../errors/index.js';
import { poolOf } from '../gateway/http/connector.js';
import type { Exchange, Outcome } from '../gateway/http/exchange.js';
import type { BodyProtocol, Pipeline } from '../gateway/http/pipeline.js';
import { responseHeaders } from '../gateway/http/response-headers.js';
import { compileGlob } from '../policy/index.js';
import { readBody } from './body.js';
import { checkMirroredHeaders } from './headers.js';
import { parseMessages, type JsonRpcMessage } from './messages.js';
import { classifyMessage, wholeServiceAllow, type ListKind } from '../policy/index.js';
import { RPC_INVALID_REQUEST, RPC_PARSE_ERROR, RPC_REFUSED, writeMcpRefusal, type RefusalTarget } from './refusal.js';
import { SessionOwners } from './sessions.js';
import { SseRewriter } from './sse.js';
import { filterListResponse, type Audience } from './visibility.js';

// The MCP stages, run once the core has admitted the token (pipeline.ts runs
// route, headers, token, resolve and admit first), each with its refusal:
//
//   method      403 request_ambiguous (not POST, GET or DELETE; a method override)
//   origin      403 request_ambiguous (a browser Origin other than the gateway's own host)
//   session     403 permission_denied (an Mcp-Session-Id opened by another token)
//   body        413 body_too_large (the service's maxBodyBytes), 400 invalid_request (not JSON-RPC,
//               an empty or oversized batch, a method name with odd characters, a call with no name)
//   authorize   403 permission_denied per message (a batch is refused whole if one is), naming the
//               argument an argument constraint refused; request_ambiguous when the mirrored
//               headers (Mcp-Method, Mcp-Name, Mcp-Param-*) disagree with the body
//   gate, limit (core)
//   forward     the body as read; the answer streamed back, list results filtered per event
//
// A refused message is never forwarded.

export interface McpAdapterOptions {
  readonly core: DataPlaneCore;
  readonly pipeline: Pipeline;
}

/** What a forwarded request needs to answer: the ids of requests whose results are lists, and of which kind. */
interface Forwarded {
  /** The upstream's base path + the path as routed + the query as sent. */
  readonly path: string;
  readonly body: Buffer | null;
  readonly lists: ReadonlyMap<string | number, ListKind>;
  /** A subscriptions/listen request: its answer is a stream held open, whatever its content type. */
  readonly listens: boolean;
}

const MAX_LIST_RESPONSE = 16 * 1024 * 1024;
const ALLOWED_METHODS = new Set(['POST', 'GET', 'DELETE']);

class Refused extends Error {
  constructor(readonly code: ReasonCode, readonly detail: string | null) {
    super(code);
  }
}

export class McpAdapter implements BodyProtocol {
  readonly #core: DataPlaneCore;
  readonly #pipeline: Pipeline;
  readonly #targets = new WeakMap<Exchange, RefusalTarget>();
  readonly #sessions = new SessionOwners();
  readonly #hidden = new WeakMap<readonly string[], (tool: string) => boolean>();
  readonly outcome: Outcome;

  constructor(options: McpAdapterOptions) {
    this.#core = options.core;
    this.#pipeline = options.pipeline;
    this.outcome = { refuse: (ex, code) => this.refuse(ex, code), forward: () => undefined };
  }

  refuse(ex: Exchange, code: ReasonCode): void {
    this.#pipeline.record(ex, 'deny', code);
    const target = this.#targets.get(ex) ?? { ids: [null], batch: false, rpcCode: RPC_REFUSED };
    void this.#pipeline.durable(ex).then(() => writeMcpRefusal(ex.res!, code, ex.detail, ex.retryAfterSeconds, target, ex.hasBody && !ex.req.complete));
  }

  #refuseWith(ex: Exchange, code: ReasonCode, detail: string | null): void {
    ex.detail = detail;
    this.refuse(ex, code);
  }

  admitted(ex: Exchange): void {
    const method = ex.method;
    if (!ALLOWED_METHODS.has(method) || ex.override !== null) {
      return this.#refuseWith(ex, 'request_ambiguous', `MCP over Streamable HTTP uses POST, GET and DELETE${ex.override !== null ? ', without a method override' : ''}`);
    }
    const origin = ex.req.headers.origin;
    if (origin !== undefined && !sameOrigin(origin, ex.req.headers.host)) {
      return this.#refuseWith(ex, 'request_ambiguous', `Origin ${origin.slice(0, 100)} is not this gateway's; browser pages of other origins may not call MCP services`);
    }
    const session = single(ex.req.headers['mcp-session-id']);
    if (session !== undefined && !this.#sessions.mayUse(session, ex.entry!.id)) {
      return this.#refuseWith(ex, 'permission_denied', 'this MCP session was opened with another token');
    }
    const path = ex.binding!.target.basePath + ex.resource + ex.query;
    if (method !== 'POST') {
      ex.resource = method === 'GET' ? '(stream)' : '(end session)';
      return this.#proceed(ex, { path, body: null, lists: new Map(), listens: false });
    }
    if (ex.expectsContinue) ex.res!.writeContinue();
    readBody(ex.req, ex.service!.maxBodyBytes).then(
      (body) => (body === null ? this.#refuseWith(ex, 'body_too_large', null) : this.#authorize(ex, path, body)),
      () => ex.res!.destroy(),
    );
  }

  #authorize(ex: Exchange, path: string, body: Buffer): void {
    const parsed = parseMessages(body);
    if (!parsed.ok) {
      this.#targets.set(ex, { ids: [null], batch: false, rpcCode: parsed.rpcCode === -32700 ? RPC_PARSE_ERROR : RPC_INVALID_REQUEST });
      return this.#refuseWith(ex, 'invalid_request', parsed.detail);
    }
    const { messages, batch } = parsed;
    const requestIds = messages.filter((m) => m.method !== undefined && m.id !== undefined).map((m) => m.id as string | number | null);
    this.#targets.set(ex, { ids: requestIds.length === 0 ? [null] : requestIds, batch, rpcCode: RPC_REFUSED });
    const lists = new Map<string | number, ListKind>();
    const audited: DecisionContext[] = [];
    try {
      const mirrored = checkMirroredHeaders(ex.req.headers, messages, batch);
      if (mirrored !== null) throw new Refused('request_ambiguous', mirrored);
      for (let index = 0; index < messages.length; index++) {
        const message = messages[index]!;
        const context = index === 0 ? ex : this.#messageContext(ex);
        this.#authorizeMessage(ex, context, message, lists);
        if (index > 0) audited.push(context);
      }
    } catch (err) {
      if (!(err instanceof Refused)) throw err;
      if (err.code === 'invalid_request') this.#targets.set(ex, { ids: requestIds.length === 0 ? [null] : requestIds, batch, rpcCode: RPC_INVALID_REQUEST });
      for (const context of audited) this.#core.log.record(context, 'deny', err.code);
      return this.#refuseWith(ex, err.code, err.detail);
    }
    this.#proceed(ex, { path, body, lists, listens: messages.some((m) => m.method === 'subscriptions/listen') }, audited);
  }

  /** Authorizes one message; sets what the audit says of it on `context`. Throws Refused. */
  #authorizeMessage(ex: Exchange, context: DecisionContext, message: JsonRpcMessage, lists: Map<string | number, ListKind>): void {
    const target = classifyMessage(message);
    const service = ex.service!;
    context.action = message.method ?? '(answer)';
    if (target.kind === 'invalid') throw new Refused('invalid_request', target.detail);
    if (target.kind === 'pass') {
      context.resource = '';
      if (target.list !== null && message.id !== undefined && message.id !== null) lists.set(message.id, target.list);
      return;
    }
    const grant = ex.entry!.grant;
    if (target.kind === 'other') {
      context.resource = '';
      const whole = grant === null ? null : wholeServiceAllow(grant, service.name);
      if (whole === null) throw new Refused('permission_denied', `method ${message.method} is granted only by ${service.name}:* (every action and resource)`);
      context.matched = whole.text;
      return;
    }
    context.resource = target.args === undefined ? target.name : `${target.name} args=${Object.keys(target.args).slice(0, 32).join(',')} bytes=${message.bytes}`;
    if (target.action === 'call' && this.#hiddenOf(service.hiddenTools)(target.name)) throw new Refused('permission_denied', `tool ${target.name} is hidden by the service`);
    const decision = grant === null ? null : grant.decideMcp(service.name, target.action, target.name, target.args);
    context.matched = decision?.matched ?? null;
    if (decision === null || !decision.allowed) {
      throw new Refused('permission_denied', decision?.argument !== undefined ? `argument ${decision.argument} of ${target.name} is outside what the token allows` : null);
    }
  }

  #messageContext(ex: Exchange): DecisionContext {
    const context = new DecisionContext(ex.time, ex.startedAt, ex.peer, '');
    context.client = ex.client;
    context.service = ex.service;
    context.binding = ex.binding;
    context.entry = ex.entry;
    return context;
  }

  #hiddenOf(patterns: readonly string[]): (tool: string) => boolean {
    let hidden = this.#hidden.get(patterns);
    if (hidden === undefined) {
      const matchers = patterns.map(compileGlob);
      hidden = (tool) => matchers.some((matches) => matches(tool));
      this.#hidden.set(patterns, hidden);
    }
    return hidden;
  }

  #proceed(ex: Exchange, forwarded: Forwarded, audited: readonly DecisionContext[] = []): void {
    const gated = this.#core.gate(ex);
    if (gated !== null) return this.refuse(ex, gated);
    const limited = this.#core.limit(ex);
    const go = (reason: ReasonCode | null): void => {
      for (const context of audited) this.#core.log.record(context, reason === null ? 'allow' : 'deny', reason ?? 'allowed');
      if (reason !== null) return this.refuse(ex, reason);
      void this.#forward(ex, forwarded);
    };
    if (limited instanceof Promise) limited.then(go, () => go('internal_error'));
    else go(limited);
  }

  async #forward(ex: Exchange, forwarded: Forwarded): Promise<void> {
    const res = ex.res!;
    const binding = ex.binding!;
    const headers = withoutLength(this.#pipeline.upstreamHeaders(ex));
    if (forwarded.body !== null) headers.push('content-length', String(forwarded.body.length));
    const abort = new AbortController();
    let done = false;
    res.once('close', () => {
      if (!done) abort.abort();
    });
    let answer: Dispatcher.ResponseData;
    try {
      answer = await poolOf(binding).request({
        path: forwarded.path,
        method: ex.method as Dispatcher.HttpMethod,
        headers,
        body: forwarded.body,
        signal: abort.signal,
      });
    } catch (err) {
      done = true;
      if (abort.signal.aborted) return this.#pipeline.record(ex, 'allow', 'allowed');
      return this.refuse(ex, upstreamFailure(err as Error & { code?: string }));
    }
    ex.upstreamStatus = answer.statusCode;
    this.#noteSession(ex, answer.headers);
    const head = responseHeaders(answer.headers);
    const filtering = forwarded.lists.size > 0 && answer.statusCode < 300;
    let held: Buffer | null = null;
    try {
      if (filtering) await this.#filtered(ex, answer, head, forwarded.lists);
      else held = await this.#streamed(ex, answer.body, answer.statusCode, head, forwarded.listens);
    } catch {
      done = true;
      answer.body.destroy();
      // A client that closes a stream it no longer wants (a GET or a listen stream) is how such streams end.
      this.#pipeline.record(ex, 'allow', abort.signal.aborted || res.destroyed ? 'allowed' : 'upstream_unreachable');
      res.destroy();
      return;
    }
    done = true;
    this.#pipeline.record(ex, 'allow', 'allowed');
    const durable = await this.#pipeline.durable();
    if (res.destroyed) return;
    if (durable || this.#pipeline.auditFailsOpen) {
      if (!res.headersSent) res.writeHead(answer.statusCode, head);
      res.end(held ?? undefined);
      return;
    }
    // Nothing of the answer went out yet: say why, in JSON-RPC. Otherwise the only honest signal is a cut.
    if (res.headersSent) res.destroy();
    else writeMcpRefusal(res, 'audit_unavailable', null, null, this.#targets.get(ex) ?? { ids: [null], batch: false, rpcCode: RPC_REFUSED }, false);
  }

  /**
   * Passes the answer through as it comes, with backpressure. An event stream
   * (or the answer to subscriptions/listen, which a server may frame as lines
   * of JSON) goes out as it comes; any other body is sent one chunk behind (the
   * head with the first of them), so that a one-chunk answer can still be
   * replaced by a refusal if its audit event cannot be written. Gives back the chunk held.
   */
  async #streamed(ex: Exchange, body: Readable, status: number, head: OutgoingHttpHeaders, listens: boolean): Promise<Buffer | null> {
    const res = ex.res!;
    const stream = listens || String(head['content-type'] ?? '').startsWith('text/event-stream');
    if (stream) {
      res.writeHead(status, head);
      // A GET or listen stream may stay quiet for long: its client must see it open. Other heads go with the first event.
      if (ex.method === 'GET' || listens) res.flushHeaders();
    }
    let held: Buffer | null = null;
    for await (const chunk of body) {
      if (res.destroyed) throw new Error('client gone');
      let out = chunk as Buffer;
      if (!stream) {
        const previous = held;
        held = out;
        if (previous === null) continue;
        if (!res.headersSent) res.writeHead(status, head);
        out = previous;
      }
      if (!res.write(out)) await once(res, 'drain');
    }
    return held;
  }

  async #filtered(ex: Exchange, answer: Dispatcher.ResponseData, head: OutgoingHttpHeaders, lists: ReadonlyMap<string | number, ListKind>): Promise<void> {
    const audience: Audience = { grant: ex.entry!.grant!, service: ex.service!.name, hidden: this.#hiddenOf(ex.service!.hiddenTools) };
    const rewrite = (text: string): string => {
      const value: unknown = JSON.parse(text);
      for (const message of Array.isArray(value) ? value : [value]) {
        const id = (message as { id?: unknown } | null)?.id;
        const kind = typeof id === 'string' || typeof id === 'number' ? lists.get(id) : undefined;
        if (kind !== undefined) filterListResponse(message, kind, audience);
      }
      return JSON.stringify(value);
    };
    delete head['content-length'];
    // Per token: never cached by anyone else.
    head['cache-control'] = 'private, no-store';
    const res = ex.res!;
    const type = String(answer.headers['content-type'] ?? '');
    if (type.startsWith('text/event-stream')) {
      res.writeHead(answer.statusCode, head);
      res.flushHeaders();
      const events = answer.body.pipe(new SseRewriter((data) => (data.trim() === '' ? data : rewrite(data))));
      answer.body.on('error', (err) => events.destroy(err));
      for await (const chunk of events) if (!res.write(chunk as string)) await once(res, 'drain');
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of answer.body) {
      size += (chunk as Buffer).length;
      if (size > MAX_LIST_RESPONSE) throw new Error('list response too large to filter');
      chunks.push(chunk as Buffer);
    }
    const text = Buffer.concat(chunks).toString('utf8');
    let out: Buffer;
    try {
      out = Buffer.from(rewrite(text));
    } catch {
      // Not JSON: nothing to filter, nothing listed. An unreadable list is not passed on unfiltered.
      out = Buffer.alloc(0);
    }
    head['content-length'] = out.length;
    res.writeHead(answer.statusCode, head);
    res.write(out);
  }

  #noteSession(ex: Exchange, headers: IncomingHttpHeaders): void {
    const session = single(headers['mcp-session-id']);
    if (session !== undefined) this.#sessions.open(session, ex.entry!.id);
    const asked = single(ex.req.headers['mcp-session-id']);
    if (ex.method === 'DELETE' && asked !== undefined && (ex.upstreamStatus ?? 500) < 300) this.#sessions.close(asked);
  }
}

/** The body is sent as read: its length is stated anew. */
function withoutLength(headers: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) if (headers[i]!.toLowerCase() !== 'content-length') out.push(headers[i]!, headers[i + 1]!);
  return out;
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** A browser sends Origin; the page must be served from the gateway's own host (what DNS rebinding defeats otherwise). */
function sameOrigin(origin: string, host: string | undefined): boolean {
  if (host === undefined) return false;
  return origin === `http://${host}` || origin === `https://${host}`;
}

function upstreamFailure(err: Error & { code?: string }): ReasonCode {
  return err.code === 'UND_ERR_HEADERS_TIMEOUT' || err.code === 'UND_ERR_BODY_TIMEOUT' ? 'upstream_timeout' : 'upstream_unreachable';
}
