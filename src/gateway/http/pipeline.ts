import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { DECISION_FIELD_LIMITS, truncated } from '../../audit/bound.js';
import type { DecisionDetail } from '../../audit/event.js';
import type { AuditRecorder } from '../../audit/recorder.js';
import type { RefusalSummaries } from '../../audit/refusal-summary.js';
import type { ReasonCode } from '../../errors/index.js';
import { MAX_TOKEN_LENGTH, parseToken, type TokenHasher } from '../../token/index.js';
import { parseAddress } from '../../core/tokens/cidr.js';
import { cacheKeyOf, UNAVAILABLE, type TokenCache } from '../../core/tokens/token-cache.js';
import type { CacheEntry, TokenEntry } from '../../core/tokens/token-entry.js';
import { retryAfterSeconds, type InFlight, type LimitVerdict, type Limiter } from '../../core/limits/index.js';
import { UNKNOWN_SERVICE_LABEL, type GatewayMetrics } from '../../core/metrics.js';
import { dropClientCopies } from '../../core/services/credential.js';
import { checkToken } from './check-token.js';
import { forwardedForUpstream, type ClientAddressResolver } from './client-address.js';
import type { Exchange, Outcome } from './exchange.js';
import { GATEWAY_METHODS, readMethodOverride } from '../../policy/index.js';
import { scanRequestHeaders } from './request-headers.js';
import { route, type ServiceLocator } from './route.js';
import type { BindingRoute } from '../../core/services/service-table.js';

export interface PipelineOptions {
  readonly nodeName: string;
  /** null: every environment, each token routed to its own environment's binding. */
  readonly env: string | null;
  readonly hasher: TokenHasher;
  readonly cache: TokenCache;
  readonly limiter: Limiter;
  readonly recorder: AuditRecorder;
  readonly metrics: GatewayMetrics;
  readonly logger: Logger;
  readonly clients: ClientAddressResolver;
  readonly clock: () => number;
  readonly maxHeaders: number;
  /** Requests in flight per token and per binding (the concurrency stage). */
  readonly inFlight: InFlight<BindingRoute>;
  /** Folds refusals made before a token is known; null: every refusal is stored in full. */
  readonly summaries: RefusalSummaries | null;
}

/**
 * Reasons that can be given before any token is identified; only then are they
 * folded into summaries (request_ambiguous from a known token, for example an
 * unsupported upgrade, is stored in full).
 */
const PRE_AUTH_REASONS: ReadonlySet<string> = new Set<ReasonCode>([
  'token_missing', 'token_malformed', 'token_unknown', 'service_unknown', 'request_ambiguous', 'body_too_large', 'invalid_request',
]);

/**
 * The request pipeline of DESIGN.md. Each stage and what it refuses with:
 *
 *   route       404 service_unknown, 403 request_ambiguous (target, path, path the service's matching cannot fold)
 *   method      403 request_ambiguous (not one a permission can grant)
 *   headers     403 request_ambiguous (duplicate credential or Host, odd Host, too many, _ in a name
 *               where the service refuses it), 413 body_too_large
 *   override    403 request_ambiguous (method overrides that disagree or name no method)
 *   token       401 token_missing, token_malformed (checksum; no lookup)
 *   lookup      401 token_unknown (also honeytokens), 503 store_unavailable
 *   status      401 token_revoked, token_disabled, token_expired, token_not_yet_valid
 *   environment 403 env_mismatch
 *   client      403 ip_not_allowed
 *   authorize   403 permission_denied (an overridden method needs both the sent and the overriding one)
 *   concurrency 429 concurrency_limited (Retry-After: 1; per token, per binding)
 *   limits      429 rate_limited (Retry-After), usage_exhausted
 *   audit       503 audit_unavailable
 *   forward     502 upstream_unreachable, 504 upstream_timeout
 *
 * Node's parser rejects malformed HTTP before the first stage (400, 408, 431).
 * The stages are synchronous on a cache hit; only a cache miss and a Redis
 * limit check wait.
 */
export class Pipeline {
  readonly #o: PipelineOptions;

  constructor(options: PipelineOptions) {
    this.#o = options;
  }

  run(ex: Exchange, locate: ServiceLocator, outcome: Outcome): void {
    const routed = route(ex, locate);
    if (routed !== null) return outcome.refuse(ex, routed);
    const service = ex.service!;
    const method = ex.req.method ?? '';
    if (!GATEWAY_METHODS.has(method)) {
      ex.detail = `method ${method.slice(0, 16)} is not one the gateway authorizes`;
      return outcome.refuse(ex, 'request_ambiguous');
    }
    const headers = scanRequestHeaders(ex.req.rawHeaders, service, this.#o.maxHeaders);
    ex.headers = headers;
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
    const key = cacheKeyOf(token);
    const cached = this.#o.cache.lookup(key, ex.time);
    if (cached === UNAVAILABLE) return outcome.refuse(ex, 'store_unavailable');
    if (cached !== undefined) return this.#afterLookup(ex, cached, outcome);
    // Only a miss pays for the checksum and the keyed hash: a hit proves the same text was read before.
    if (parseToken(token) === undefined) return outcome.refuse(ex, 'token_malformed');
    this.#o.cache.load(key, this.#o.hasher.hash(token)).then(
      (entry) => this.#afterLookup(ex, entry, outcome),
      (err: Error) => {
        this.#o.logger.warn({ err: err.message }, 'token store unavailable');
        outcome.refuse(ex, 'store_unavailable');
      },
    );
  }

  #afterLookup(ex: Exchange, found: CacheEntry, outcome: Outcome): void {
    if (found.kind === 'unknown') return outcome.refuse(ex, 'token_unknown');
    if (found.honey) {
      // Answered exactly like a token never issued; the audit event carries its id so the leak is found.
      ex.honeyId = found.id;
      this.#o.logger.warn({ tokenId: found.id, tokenName: found.name, service: ex.service!.name }, 'honeytoken presented');
      return outcome.refuse(ex, 'token_unknown');
    }
    const entry: TokenEntry = found;
    ex.entry = entry;
    const now = ex.time;
    const problem = checkToken(entry, now);
    if (problem !== null) return outcome.refuse(ex, problem);
    const service = ex.service!;
    if (this.#o.env !== null && entry.env !== this.#o.env) return outcome.refuse(ex, 'env_mismatch');
    const binding = service.bindings.get(entry.env);
    if (binding === undefined) return outcome.refuse(ex, 'env_mismatch');
    ex.binding = binding;
    if (entry.cidrs !== null) {
      const address = parseAddress(this.clientOf(ex));
      if (address === undefined || !entry.cidrs.contains(address)) return outcome.refuse(ex, 'ip_not_allowed');
    }
    if (entry.grant === null) return outcome.refuse(ex, 'permission_denied');
    let decision = entry.grant.decideHttp(service.name, ex.action, ex.segments, service.paths);
    if (decision.allowed && ex.override !== null) {
      // An upstream that ignores the override performs the method sent: it must be granted too.
      const asSent = entry.grant.decideHttp(service.name, ex.req.method!, ex.segments, service.paths);
      if (!asSent.allowed) decision = asSent;
    }
    ex.matched = decision.matched;
    if (!decision.allowed) return outcome.refuse(ex, 'permission_denied');
    // Checked before the limits, so a request that cannot be served spends no use and no rate slot.
    // An allowed request that cannot be audited is not served (audit.failMode closed).
    if (!this.#o.recorder.accepting) return outcome.refuse(ex, 'audit_unavailable');
    if (ex.binding!.unusable !== null) {
      ex.detail = null;
      return outcome.refuse(ex, 'upstream_unreachable');
    }
    // The concurrency stage comes before the limits, so a request refused here spends no use and no rate slot;
    // a slot taken by a request the limits then refuse is given back when it is recorded.
    const full = this.#o.inFlight.acquire(entry.id, binding);
    if (full !== null) {
      ex.detail = full === 'token' ? 'this token has too many requests in flight' : 'this service has too many requests in flight';
      ex.retryAfterSeconds = 1;
      return outcome.refuse(ex, 'concurrency_limited');
    }
    ex.holdsSlot = true;
    if (entry.limits === null) return outcome.forward(ex);
    const verdict = this.#o.limiter.check(entry.limits, now);
    if (verdict instanceof Promise) {
      verdict.then(
        (v) => this.#afterLimits(ex, v, outcome),
        // The limiter falls back to local limits itself; an error here is a bug, so fail closed.
        () => outcome.refuse(ex, 'internal_error'),
      );
      return;
    }
    this.#afterLimits(ex, verdict, outcome);
  }

  #afterLimits(ex: Exchange, verdict: LimitVerdict, outcome: Outcome): void {
    if (verdict.allowed) return outcome.forward(ex);
    if (verdict.reason === 'rate_limited') ex.retryAfterSeconds = retryAfterSeconds(verdict.retryAfterMs);
    outcome.refuse(ex, verdict.reason);
  }

  /**
   * Gives back the exchange's in-flight slot, once: record() calls it for
   * every HTTP exchange (its upstream part is over by then) and for refused
   * upgrades; an open WebSocket calls it when its tunnel closes.
   */
  release(ex: Exchange): void {
    if (!ex.holdsSlot) return;
    ex.holdsSlot = false;
    this.#o.inFlight.release(ex.entry!.id, ex.binding!);
  }


  /** The upstream's headers: the client's end-to-end ones, then the credential, identity and X-Forwarded-For. */
  upstreamHeaders(ex: Exchange): string[] {
    const forwarded = ex.headers!.forward;
    const credential = ex.binding!.credential;
    if (credential !== null) {
      dropClientCopies(forwarded, credential.header);
      forwarded.push(credential.header, credential.value);
    }
    const identity = ex.entry!.identity;
    for (let i = 0; i < identity.length; i++) forwarded.push(identity[i]!);
    forwarded.push('x-forwarded-for', forwardedForUpstream(this.#o.clients, ex.peer, ex.headers!.forwardedFor));
    return forwarded;
  }

  clientOf(ex: Exchange): string {
    if (ex.client === null) ex.client = this.#o.clients.resolve(ex.peer, ex.headers?.forwardedFor ?? null);
    return ex.client;
  }

  /**
   * Resolves once every event recorded so far is durable (true), or at once
   * when the log cannot be written (false). A folded refusal waits for its
   * batch without hurrying the writer, so that more refusals fold into it.
   */
  durable(ex?: Exchange): Promise<boolean> {
    return ex?.folded === true ? this.#o.recorder.durableUnhurried() : this.#o.recorder.durable();
  }

  /** With failMode `open` a response is not held back for an audit log that cannot be written. */
  get auditFailsOpen(): boolean {
    return this.#o.recorder.failMode === 'open';
  }

  /** Counts and audits a finished request once: its decision, reason and, when forwarded, the upstream status. */
  record(ex: Exchange, decision: 'allow' | 'deny', reason: ReasonCode | 'allowed'): void {
    // An upgrade allowed to open keeps its slot while the tunnel is open.
    if (ex.res !== null || reason !== 'allowed') this.release(ex);
    if (ex.recorded) return;
    ex.recorded = true;
    const seconds = (performance.now() - ex.startedAt) / 1000;
    const service = ex.service;
    if (service !== null && reason === 'allowed') {
      service.metrics.allowed.inc();
      service.metrics.allowedSeconds.observe(seconds);
    } else {
      const label = service?.name ?? UNKNOWN_SERVICE_LABEL;
      this.#o.metrics.requests.inc({ service: label, decision, reason });
      this.#o.metrics.seconds.observe({ service: label, decision }, seconds);
    }
    const entry = ex.entry;
    const detail: DecisionDetail = {
      node: this.#o.nodeName,
      tokenId: entry?.id ?? ex.honeyId,
      tokenName: entry?.name ?? null,
      env: entry?.env ?? this.#o.env ?? '',
      service: service?.name ?? '',
      action: ex.action,
      ...(ex.override !== null && { override: ex.override }),
      // Cut here too, so the recorder's queue never holds a 15 KB path per event (the writer bounds every field).
      resource: truncated(ex.path, DECISION_FIELD_LIMITS.resource),
      decision,
      reason,
      matched: ex.matched,
      upstreamStatus: ex.upstreamStatus,
      latencyMs: Math.round(seconds * 1e6) / 1e3,
      client: this.clientOf(ex),
    };
    // Before a token is known a refusal costs the client nothing: fold it. A honeytoken is an alarm: never folded.
    const summaries = this.#o.summaries;
    if (summaries !== null && entry === null && ex.honeyId === null && PRE_AUTH_REASONS.has(reason)) {
      summaries.offer(ex.time, detail);
      ex.folded = true;
    } else {
      this.#o.recorder.record({ kind: 'decision', time: ex.time, detail });
    }
  }

  /**
   * Audits what the listener answers itself, before any request reaches the
   * pipeline (malformed HTTP, oversize headers, slow clients, CONNECT, an
   * unsupported Expect): always before a token is known, so folded like the
   * pipeline's pre-authentication refusals. Resolves once the answer may be
   * sent: when its event is durable (true), or at once when it cannot be (false).
   */
  recordListenerRefusal(peer: string | undefined, action: string, resource: string, reason: ReasonCode): Promise<boolean> {
    const detail: DecisionDetail = {
      node: this.#o.nodeName,
      tokenId: null,
      tokenName: null,
      env: this.#o.env ?? '',
      service: '',
      action,
      resource,
      decision: 'deny',
      reason,
      matched: null,
      upstreamStatus: null,
      latencyMs: null,
      // The socket peer: a proxy's X-Forwarded-For cannot be read from a request Node could not parse.
      client: peer ?? '',
    };
    const time = this.#o.clock();
    if (this.#o.summaries === null) {
      this.#o.recorder.record({ kind: 'decision', time, detail });
      return this.#o.recorder.durable();
    }
    this.#o.summaries.offer(time, detail);
    return this.#o.recorder.durableUnhurried();
  }
}
