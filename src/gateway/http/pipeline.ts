import type { AlertRaiser } from '../../alerts/index.js';
import { redactHeaders } from '../../audit/redact.js';
import type { ReasonCode } from '../../errors/index.js';
import { authorizeHttp } from '../../core/authorize.js';
import type { DataPlaneCore, Resolution, TokenKeyMemo } from '../../core/data-plane-core.js';
import { dropClientCopies } from '../../core/services/credential.js';
import { GATEWAY_METHODS, readMethodOverride } from '../../policy/index.js';
import { MAX_TOKEN_LENGTH } from '../../token/index.js';
import { forwardedForUpstream, type ClientAddressResolver } from './client-address.js';
import { pushForwardedFields, requestIdOf } from './upstream-facing.js';
import type { Exchange, Outcome } from './exchange.js';
import { identityHeadersOf } from './identity.js';
import { scanRequestHeaders } from './request-headers.js';
import { route, type ServiceLocator } from './route.js';

export interface PipelineOptions {
  readonly core: DataPlaneCore;
  /** Where a honeytoken's use is raised, with the request's details (credentials redacted). */
  readonly alerts?: AlertRaiser;
  readonly clients: ClientAddressResolver;
  readonly maxHeaders: number;
  /** The MCP adapter (src/mcp/), handed the requests of `mcp` services once their token is admitted. */
  readonly mcp?: BodyProtocol;
}

/**
 * A protocol carried on HTTP and authorized on its body (MCP): its services'
 * refusals are written its way, and once the core has admitted the token it
 * authorizes, runs the core's gate and limit, forwards and records itself.
 */
export interface BodyProtocol {
  readonly outcome: Outcome;
  admitted(ex: Exchange): void;
}

/**
 * The HTTP adapter's request pipeline: the HTTP stages, then the core's
 * (src/core/data-plane-core.ts). Each stage and what it refuses with:
 *
 *   route       404 service_unknown, 403 request_ambiguous (target, path, path the service's matching cannot fold)
 *   method      403 request_ambiguous (not one a permission can grant)
 *   headers     403 request_ambiguous (duplicate credential or Host, odd Host, too many, _ in a name
 *               where the service refuses it), 413 body_too_large
 *   override    403 request_ambiguous (method overrides that disagree or name no method)
 *   token       401 token_missing, token_malformed (too long or empty)
 *   resolve     401 token_malformed (checksum; no lookup), 503 store_unavailable        (core)
 *   admit       401 token_unknown (also honeytokens), token_revoked, token_disabled,    (core)
 *               token_expired, token_not_yet_valid; 403 env_mismatch, ip_not_allowed
 *   authorize   403 permission_denied (an overridden method needs both the sent and the overriding one)
 *   gate        503 audit_unavailable, 502 upstream_credential_missing                    (core)
 *   limit       429 concurrency_limited (Retry-After: 1), rate_limited (Retry-After),      (core)
 *               usage_exhausted
 *   forward     502 upstream_unreachable, 504 upstream_timeout
 *
 * A service of kind mcp leaves after admit for its adapter (src/mcp/adapter.ts),
 * which authorizes each JSON-RPC message of the body and answers in JSON-RPC.
 *
 * Node's parser rejects malformed HTTP before the first stage (400, 408, 431).
 * The stages are synchronous on a cache hit; only a cache miss and a Redis
 * limit check wait.
 */
export class Pipeline {
  readonly #core: DataPlaneCore;
  readonly #clients: ClientAddressResolver;
  readonly #maxHeaders: number;
  readonly #alerts: AlertRaiser | undefined;
  #mcp: BodyProtocol | undefined;
  readonly #memos = new WeakMap<object, TokenKeyMemo>();

  constructor(options: PipelineOptions) {
    this.#mcp = options.mcp;
    this.#core = options.core;
    this.#alerts = options.alerts;
    this.#clients = options.clients;
    this.#maxHeaders = options.maxHeaders;
  }

  run(ex: Exchange, locate: ServiceLocator, outcome: Outcome): void {
    const routed = route(ex, locate);
    if (routed !== null) return outcome.refuse(ex, routed);
    const service = ex.service!;
    if (service.kind === 'mcp') {
      if (this.#mcp === undefined || ex.res === null) {
        ex.detail = 'an MCP service is reached over Streamable HTTP, not an upgrade';
        return outcome.refuse(ex, 'request_ambiguous');
      }
      outcome = this.#mcp.outcome;
    }
    const method = ex.method;
    if (!GATEWAY_METHODS.has(method)) {
      ex.detail = `method ${method.slice(0, 16)} is not one the gateway authorizes`;
      return outcome.refuse(ex, 'request_ambiguous');
    }
    const headers = scanRequestHeaders(ex.req.rawHeaders, service, this.#maxHeaders);
    ex.headers = headers;
    ex.requestId = requestIdOf(headers.requestId);
    if (headers.ambiguous !== null) {
      ex.detail = headers.ambiguous;
      return outcome.refuse(ex, 'request_ambiguous');
    }
    const override = readMethodOverride(headers.overrides, ex.query);
    if (override !== null) {
      if (!override.ok) {
        ex.detail = override.detail;
        return outcome.refuse(ex, 'request_ambiguous');
      }
      ex.action = override.method;
      ex.override = `${method} with ${override.via}`;
    }
    if (headers.contentLength > service.maxBodyBytes) return outcome.refuse(ex, 'body_too_large');
    const token = headers.token;
    if (token === null) return outcome.refuse(ex, 'token_missing');
    if (token.length > MAX_TOKEN_LENGTH || token.length === 0) return outcome.refuse(ex, 'token_malformed');
    ex.client = this.#clients.resolve(ex.peer, headers.forwardedFor);
    const resolved = this.#core.resolve(token, ex.time, this.#memoOf(ex));
    if (resolved instanceof Promise) {
      resolved.then((found) => this.#afterResolve(ex, found, outcome));
      return;
    }
    this.#afterResolve(ex, resolved, outcome);
  }

  /** The connection's token memo (see TokenKeyMemo), made on its first request. */
  #memoOf(ex: Exchange): TokenKeyMemo {
    const socket = ex.req.socket;
    let memo = this.#memos.get(socket);
    if (memo === undefined) {
      memo = { token: null, key: '' };
      this.#memos.set(socket, memo);
    }
    return memo;
  }

  #afterResolve(ex: Exchange, found: Resolution, outcome: Outcome): void {
    if (typeof found === 'string') return outcome.refuse(ex, found);
    const refused = this.#core.admit(ex, found);
    if (refused !== null) {
      if (ex.honeyId !== null) this.#honeytokenUsed(ex);
      return outcome.refuse(ex, refused);
    }
    const service = ex.service!;
    if (service.kind === 'mcp') return this.#mcp!.admitted(ex);
    const decision = authorizeHttp(ex.entry!.grant, service.name, ex.action, ex.method, ex.segments, service.paths);
    ex.matched = decision.matched;
    if (!decision.allowed) return outcome.refuse(ex, 'permission_denied');
    const gated = this.#core.gate(ex);
    if (gated !== null) return outcome.refuse(ex, gated);
    const limited = this.#core.limit(ex);
    if (limited instanceof Promise) {
      limited.then((reason) => (reason === null ? outcome.forward(ex) : outcome.refuse(ex, reason)));
      return;
    }
    if (limited !== null) return outcome.refuse(ex, limited);
    outcome.forward(ex);
  }

  /** Set once, by the gateway that builds both (the MCP adapter needs the pipeline's record and headers). */
  useMcp(mcp: BodyProtocol): void {
    this.#mcp = mcp;
  }

  #honeytokenUsed(ex: Exchange): void {
    this.#alerts?.raise('honeytoken_used', {
      via: 'gateway', client: ex.client, tokenId: ex.honeyId, service: ex.service?.name ?? null,
      method: ex.method, path: ex.resource, headers: redactHeaders(ex.req.headers),
    });
  }

  /** Gives back the exchange's in-flight slot, once (an open WebSocket when its tunnel closes). */
  release(ex: Exchange): void {
    this.#core.log.release(ex);
  }

  /** The upstream's headers: the client's end-to-end ones, then the credential, identity, X-Forwarded-* and X-Request-Id. */
  upstreamHeaders(ex: Exchange): string[] {
    const forwarded = ex.headers!.forward;
    const credential = ex.binding!.credential;
    if (credential !== null) {
      dropClientCopies(forwarded, credential.header);
      forwarded.push(credential.header, credential.value);
    }
    const identity = identityHeadersOf(ex.entry!);
    for (let i = 0; i < identity.length; i++) forwarded.push(identity[i]!);
    forwarded.push('x-forwarded-for', forwardedForUpstream(this.#clients, ex.peer, ex.headers!.forwardedFor));
    pushForwardedFields(forwarded, ex);
    return forwarded;
  }

  /** See DecisionLog.durable. */
  durable(ex?: Exchange): Promise<boolean> {
    return this.#core.log.durable(ex);
  }

  /** With failMode `open` a response is not held back for an audit log that cannot be written. */
  get auditFailsOpen(): boolean {
    return this.#core.log.failsOpen;
  }

  /** Counts and audits a finished request once; an HTTP exchange's upstream part is over, so its slot is given back. */
  record(ex: Exchange, decision: 'allow' | 'deny', reason: ReasonCode | 'allowed'): void {
    // An upgrade allowed to open keeps its slot while the tunnel is open.
    if (ex.res !== null || reason !== 'allowed') this.#core.log.release(ex);
    ex.client ??= this.#clients.resolve(ex.peer, ex.headers?.forwardedFor ?? null);
    this.#core.log.record(ex, decision, reason);
  }

  /** See DecisionLog.recordListenerRefusal. */
  recordListenerRefusal(peer: string | undefined, action: string, resource: string, reason: ReasonCode): Promise<boolean> {
    return this.#core.log.recordListenerRefusal(peer, action, resource, reason);
  }
}
