import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { AuditRecorder } from '../../audit/recorder.js';
import type { ReasonCode } from '../../errors/index.js';
import { MAX_TOKEN_LENGTH, parseToken, type TokenHasher } from '../../token/index.js';
import { parseAddress } from '../cache/cidr.js';
import { cacheKeyOf, UNAVAILABLE, type TokenCache } from '../cache/token-cache.js';
import type { CacheEntry, TokenEntry } from '../cache/token-entry.js';
import { retryAfterSeconds, type LimitVerdict, type Limiter } from '../limits/index.js';
import { UNKNOWN_SERVICE_LABEL, type GatewayMetrics } from '../metrics.js';
import { dropClientCopies } from '../upstream/credential.js';
import { checkToken } from './check-token.js';
import { forwardedForUpstream, type ClientAddressResolver } from './client-address.js';
import type { Exchange, Outcome } from './exchange.js';
import { scanRequestHeaders } from './request-headers.js';
import { route, type ServiceLocator } from './route.js';

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
}

/** Methods a permission can grant; anything else (TRACE, CONNECT, WebDAV...) is not interpreted. */
const METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * The request pipeline of DESIGN.md. Each stage and what it refuses with:
 *
 *   route       404 service_unknown, 403 request_ambiguous (target, path)
 *   method      403 request_ambiguous (not one a permission can grant)
 *   headers     403 request_ambiguous (duplicate credential or Host, odd Host, too many), 413 body_too_large
 *   token       401 token_missing, token_malformed (checksum; no lookup)
 *   lookup      401 token_unknown (also honeytokens), 503 store_unavailable
 *   status      401 token_revoked, token_disabled, token_expired, token_not_yet_valid
 *   environment 403 env_mismatch
 *   client      403 ip_not_allowed
 *   authorize   403 permission_denied
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
    if (!METHODS.has(method)) {
      ex.detail = `method ${method.slice(0, 16)} is not one the gateway authorizes`;
      return outcome.refuse(ex, 'request_ambiguous');
    }
    const headers = scanRequestHeaders(ex.req.rawHeaders, service, this.#o.maxHeaders);
    ex.headers = headers;
    if (headers.ambiguous !== null) {
      ex.detail = headers.ambiguous;
      return outcome.refuse(ex, 'request_ambiguous');
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
    const decision = entry.grant.decideHttp(service.name, ex.req.method!, ex.segments);
    ex.matched = decision.matched;
    if (!decision.allowed) return outcome.refuse(ex, 'permission_denied');
    // Checked before the limits, so a request that cannot be served spends no use and no rate slot.
    // An allowed request that cannot be audited is not served (audit.failMode closed).
    if (!this.#o.recorder.accepting) return outcome.refuse(ex, 'audit_unavailable');
    if (ex.binding!.unusable !== null) {
      ex.detail = null;
      return outcome.refuse(ex, 'upstream_unreachable');
    }
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

  /** Resolves once every event recorded so far is durable (true), or at once when the log cannot be written (false). */
  durable(): Promise<boolean> {
    return this.#o.recorder.durable();
  }

  /** With failMode `open` a response is not held back for an audit log that cannot be written. */
  get auditFailsOpen(): boolean {
    return this.#o.recorder.failMode === 'open';
  }

  /** Counts and audits a finished request once: its decision, reason and, when forwarded, the upstream status. */
  record(ex: Exchange, decision: 'allow' | 'deny', reason: ReasonCode | 'allowed'): void {
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
    this.#o.recorder.record({
      kind: 'decision',
      time: ex.time,
      detail: {
        node: this.#o.nodeName,
        tokenId: entry?.id ?? ex.honeyId,
        tokenName: entry?.name ?? null,
        env: entry?.env ?? this.#o.env ?? '',
        service: service?.name ?? '',
        action: ex.req.method ?? '',
        resource: ex.path,
        decision,
        reason,
        matched: ex.matched,
        upstreamStatus: ex.upstreamStatus,
        latencyMs: Math.round(seconds * 1e6) / 1e3,
        client: this.clientOf(ex),
      },
    });
  }
}
