import type { Socket } from 'node:net';
import type { DecisionContext } from '../../core/decision.js';
import type { Resolution, TokenKeyMemo } from '../../core/data-plane-core.js';
import type { ServiceRoute } from '../../core/services/service-table.js';
import type { CacheEntry, TokenEntry } from '../../core/tokens/token-entry.js';
import type { ReasonCode } from '../../errors/index.js';
import type { CompiledGrant } from '../../policy/types.js';
import type { SqlScope, SqlVerdict } from '../sql/index.js';
import type { UpstreamSession } from '../upstream/connect.js';
import { parseFrontend } from '../wire/frontend-parser.js';
import { ProtocolViolation, type Frame, type FrontendMessage } from '../wire/messages.js';
import { backend, frontend } from '../wire/serializer.js';
import { auditResource, decisionAt, describeStatements } from './decision.js';
import type { SessionDeps } from './deps.js';
import { pending, type Pending } from './pending.js';
import { PROTOCOL_VIOLATION, refusal, REFUSED_STATEMENT } from './refusal.js';
import { BackendRelay } from './relay.js';
import { scopeFor } from './scopes.js';
import type { Established } from './startup.js';
import { SessionStatements, type PreparedStatement } from './statements.js';

// The session after startup: every client message, in order, and what it can be refused with:
//
//   token       FATAL token_revoked, token_disabled, token_expired, env_mismatch, ... (the token
//               is looked up before each chunk read from the client, a synchronous cache hit;
//               a refusing change ends the session)
//   Query       42501 permission_denied, invalid_request (the analyzer's verdict on the whole string)
//   Parse       42501 as Query; the statement is remembered with the grant it was checked under
//   Bind        42501 invalid_request (a statement not prepared through the gateway), permission_denied
//               (re-checked: prepared under a grant since changed)
//   Execute     as Bind, for the portal's statement
//   FunctionCall 42501 permission_denied (functions are called through SQL, where they are analyzed)
//   anything    FATAL 08P01 (malformed, unknown or oversize)
//
// A refused statement is replaced upstream by text that fails to parse, so the
// upstream's transaction aborts and its extended-protocol batch is skipped
// until Sync exactly as PostgreSQL would; the relay swallows that error and
// sends the gateway's refusal in its place. After a refusal in the extended
// protocol the gateway discards messages until Sync too.

/** Marks where a chunk from the socket begins in the inbox: the token is checked there. */
const CHECK_TOKEN: Frame = { type: -1, bytes: Buffer.alloc(0), bodyStart: 0 };

export class Session {
  readonly #deps: SessionDeps;
  readonly #client: Socket;
  readonly #upstream: UpstreamSession;
  readonly #token: string;
  /** The token's cache key, hashed once for the session (see TokenKeyMemo). */
  readonly #tokenKey: TokenKeyMemo = { token: null, key: '' };
  readonly #service: ServiceRoute;
  readonly #functions: readonly string[];
  readonly #decision: DecisionContext;
  readonly #statements = new SessionStatements();
  readonly #relay: BackendRelay;
  readonly #inbox: Frame[] = [];
  #found: CacheEntry;
  #entry: TokenEntry;
  #grant: CompiledGrant;
  #scope: SqlScope;
  #waiting = false;
  /** Inside #pump: what is forwarded waits in #outbox for one write at its end. */
  #pumping = false;
  #outbox: Buffer[] = [];
  #skipping = false;
  #ended = false;
  readonly #onEnd: () => void;

  constructor(deps: SessionDeps, client: Socket, established: Established, functions: readonly string[], onEnd: () => void) {
    this.#deps = deps;
    this.#client = client;
    this.#upstream = established.upstream;
    this.#token = established.token;
    this.#service = established.service;
    this.#functions = functions;
    this.#decision = established.decision;
    this.#found = established.found;
    this.#entry = established.entry;
    this.#grant = established.entry.grant!;
    this.#scope = scopeFor(this.#grant, this.#service.name, functions);
    this.#onEnd = onEnd;
    this.#relay = new BackendRelay({
      client,
      upstream: established.upstream,
      log: deps.plane.core.log,
      statements: this.#statements,
      onFatal: (reason, detail) => this.end(reason, detail),
    });
  }

  /**
   * Frames cut from the client's stream, handled in order; a wait (a cache
   * miss) holds the rest back. The token is checked before the first frame of
   * every chunk read from the socket: what arrives after a revocation is seen
   * as arriving after it, whole.
   */
  receive(frames: readonly Frame[]): void {
    if (frames.length === 0) return;
    this.#inbox.push(CHECK_TOKEN);
    for (const frame of frames) this.#inbox.push(frame);
    this.#pump();
  }

  #pump(): void {
    if (this.#waiting || this.#ended) return;
    const upstream = this.#upstream.socket;
    this.#pumping = true;
    try {
      while (this.#inbox.length > 0 && !this.#ended) {
        const frame = this.#inbox.shift()!;
        if (frame !== CHECK_TOKEN) {
          this.#dispatch(frame);
          continue;
        }
        const checked = this.#checkToken();
        if (checked === true) continue;
        this.#waiting = true;
        this.#client.pause();
        void checked.then((ok) => {
          this.#waiting = false;
          if (!ok || this.#ended) return;
          this.#client.resume();
          this.#pump();
        }).catch((err: unknown) => this.fail(err));
        return;
      }
    } finally {
      this.#pumping = false;
      this.#flushUpstream();
    }
    if (upstream.writableNeedDrain) {
      this.#client.pause();
      upstream.once('drain', () => this.#client.resume());
    }
  }

  /** True on the fast path (the same cached entry, unexpired); else a promise of whether the session goes on. */
  #checkToken(): true | Promise<boolean> {
    const now = this.#deps.clock();
    const found = this.#deps.plane.core.resolve(this.#token, now, this.#tokenKey);
    if (found === this.#found && now < this.#entry.expiresAt) return true;
    return Promise.resolve(found).then((resolved) => this.#readmit(resolved));
  }

  #readmit(found: Resolution): boolean {
    if (this.#ended) return false;
    if (typeof found === 'string') return this.end(found), false;
    const check = decisionAt(this.#deps.clock, this.#client.remoteAddress, 'session');
    const service = this.#deps.plane.services.get(this.#service.name);
    if (service === undefined) return this.end('service_unknown'), false;
    check.service = service;
    const refused = this.#deps.plane.core.admit(check, found);
    if (refused !== null) {
      check.resource = service.name;
      this.#deps.plane.core.log.record(check, 'deny', refused);
      return this.end(refused), false;
    }
    this.#found = found;
    this.#entry = check.entry!;
    if (this.#entry.grant === null) return this.end('permission_denied'), false;
    if (this.#entry.grant !== this.#grant) {
      this.#grant = this.#entry.grant;
      this.#scope = scopeFor(this.#grant, this.#service.name, this.#functions);
    }
    return true;
  }

  #dispatch(frame: Frame): void {
    const message: FrontendMessage = parseFrontend(frame);
    if (message.name === 'terminate') return this.close();
    if (message.name === 'sync') {
      this.#skipping = false;
      return this.#forward(frame, pending('sync'));
    }
    if (this.#skipping) return;
    switch (message.name) {
      case 'query': {
        this.#statements.dropUnnamed();
        const verdict = this.#scope.authorize(message.sql);
        if (!verdict.allowed) return this.#refuse('query', verdict);
        return this.#forward(frame, pending('query', { decision: this.#statementDecision(verdict) }));
      }
      case 'parse': {
        const verdict = this.#scope.authorize(message.sql);
        if (!verdict.allowed) return this.#refuse('parse', verdict);
        const undo = this.#statements.prepare(message.statement, { sql: message.sql, grant: this.#grant, statements: verdict.statements, fingerprint: verdict.fingerprint });
        return this.#forward(frame, pending('parse', { undo }));
      }
      case 'bind': {
        const statement = this.#current(this.#statements.statement(message.statement), `prepared statement ${JSON.stringify(message.statement.slice(0, 63))}`);
        if (statement === null) return;
        return this.#forward(frame, pending('bind', { undo: this.#statements.bind(message.portal, statement) }));
      }
      case 'execute': {
        const statement = this.#current(this.#statements.portal(message.portal), `portal ${JSON.stringify(message.portal.slice(0, 63))}`);
        if (statement === null) return;
        const decision = this.#statementDecision({ allowed: true, statements: statement.statements, fingerprint: statement.fingerprint, needsWrite: false });
        return this.#forward(frame, pending('execute', { decision }));
      }
      case 'describe':
        return this.#forward(frame, pending('describe'));
      case 'close':
        return this.#forward(frame, pending('close', { undo: this.#statements.close(message.target, message.object) }));
      case 'flush':
      case 'copyData':
      case 'copyDone':
      case 'copyFail':
        return this.#forward(frame, null);
      case 'functionCall':
        return this.#refuse('query', { allowed: false, reason: 'permission_denied', detail: 'FunctionCall messages are refused; call functions in SQL, where they are analyzed', kind: 'function_call', table: null, fingerprint: null });
      case 'password':
        return this.end('invalid_request', 'a password message after startup');
    }
  }

  /**
   * The statement a Bind or Execute uses, re-checked when the grant it was
   * authorized under is no longer the token's; null when refused (and answered).
   */
  #current(statement: PreparedStatement | undefined, what: string): PreparedStatement | null {
    if (statement === undefined) {
      this.#refuse('parse', { allowed: false, reason: 'invalid_request', detail: `${what} was not prepared through the gateway`, kind: 'bind', table: null, fingerprint: null });
      return null;
    }
    if (statement.grant === this.#grant) return statement;
    const verdict = this.#scope.authorize(statement.sql);
    if (!verdict.allowed) {
      this.#refuse('parse', verdict);
      return null;
    }
    statement.grant = this.#grant;
    statement.statements = verdict.statements;
    statement.fingerprint = verdict.fingerprint;
    return statement;
  }

  #statementDecision(verdict: Extract<SqlVerdict, { allowed: true }>): DecisionContext {
    const { action, tables } = describeStatements(verdict.statements);
    const decision = this.#contextFor(action);
    decision.resource = auditResource(tables, verdict.fingerprint);
    return decision;
  }

  #contextFor(action: string): DecisionContext {
    const decision = decisionAt(this.#deps.clock, this.#client.remoteAddress, action);
    decision.service = this.#service;
    decision.entry = this.#entry;
    decision.binding = this.#decision.binding;
    return decision;
  }

  /** Audits the refusal, and has the upstream fail in its place (see the header). */
  #refuse(kind: 'query' | 'parse', verdict: Extract<SqlVerdict, { allowed: false }>): void {
    const decision = this.#contextFor(verdict.kind);
    decision.resource = auditResource(verdict.table ?? '', verdict.fingerprint);
    decision.detail = verdict.detail;
    this.#deps.plane.core.log.record(decision, 'deny', verdict.reason);
    this.#relay.recorded();
    const answer = refusal('ERROR', verdict.reason, verdict.detail);
    if (kind === 'query') {
      this.#forward(frontend.query(REFUSED_STATEMENT), pending('query', { refusal: answer }));
    } else {
      this.#skipping = true;
      this.#forward(frontend.parse('', REFUSED_STATEMENT), pending('parse', { refusal: answer }));
    }
  }

  #forward(bytes: Frame | Buffer, expected: Pending | null): void {
    if (expected !== null) this.#relay.expect(expected);
    const buffer = Buffer.isBuffer(bytes) ? bytes : bytes.bytes;
    if (!this.#pumping) return void this.#upstream.socket.write(buffer);
    // Frames forwarded as they came lie side by side in the chunk they were cut from: one run, one write.
    const last = this.#outbox.at(-1);
    if (last !== undefined && last.buffer === buffer.buffer && last.byteOffset + last.length === buffer.byteOffset) {
      this.#outbox[this.#outbox.length - 1] = Buffer.from(last.buffer, last.byteOffset, last.length + buffer.length);
    } else {
      this.#outbox.push(buffer);
    }
  }

  /** What one pump forwarded, in one write. */
  #flushUpstream(): void {
    const out = this.#outbox;
    if (out.length === 0) return;
    this.#outbox = [];
    if (this.#upstream.socket.destroyed) return;
    this.#upstream.socket.write(out.length === 1 ? out[0]! : Buffer.concat(out));
  }

  /** A frame that could not be read ends the session with 08P01; anything else is a bug, answered internal_error. */
  fail(err: unknown): void {
    if (this.#ended) return;
    if (err instanceof ProtocolViolation) {
      const reason: ReasonCode = err.oversize ? 'body_too_large' : 'invalid_request';
      void this.#deps.plane.core.log.recordListenerRefusal(this.#client.remoteAddress, 'protocol', err.message.slice(0, 128), reason);
      this.#client.write(backend.error('FATAL', PROTOCOL_VIOLATION, `latchkey: ${reason}: ${err.message}`));
      return this.close();
    }
    this.#deps.logger.error({ err }, 'postgres session failed');
    this.end('internal_error');
  }

  /** Ends the session with a FATAL refusal (audited by the caller where it is a decision). */
  end(reason: ReasonCode, detail?: string): void {
    if (this.#ended) return;
    this.#client.write(refusal('FATAL', reason, detail ?? null));
    this.close();
  }

  close(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#relay.close();
    // What this pump already forwarded goes before the Terminate, as it would have unbatched.
    this.#flushUpstream();
    if (!this.#upstream.socket.destroyed) this.#upstream.socket.end(frontend.terminate());
    this.#client.end();
    this.#deps.plane.core.log.release(this.#decision);
    this.#onEnd();
  }
}
