import type { Logger } from 'pino';
import type { ReasonCode } from '../errors/index.js';
import { parseToken, type TokenHasher } from '../token/index.js';
import { admissionRefusal, knownToken } from './admission.js';
import type { DecisionContext } from './decision.js';
import type { DecisionLog } from './decision-log.js';
import { retryAfterSeconds, type InFlight, type LimitVerdict, type Limiter } from './limits/index.js';
import type { BindingRoute } from './services/service-table.js';
import { cacheKeyOf, UNAVAILABLE, type TokenCache } from './tokens/token-cache.js';
import type { CacheEntry } from './tokens/token-entry.js';

// The stages every protocol adapter runs, in DESIGN.md's order, each answering
// a reason code or null (go on), synchronously on a cache hit:
//
//   resolve     401 token_malformed (checksum, only on a miss), 503 store_unavailable
//   admit       401 token_unknown (also honeytokens), token_revoked, token_disabled,
//               token_expired, token_not_yet_valid; 403 env_mismatch, ip_not_allowed
//   (authorize  403 permission_denied: the adapter asks authorize.ts with its own action and resource)
//   gate        503 audit_unavailable, 502 upstream_credential_missing (a binding whose credential cannot be read)
//   limit       429 concurrency_limited, rate_limited, usage_exhausted (Retry-After)
//   record      the audit event, through the DecisionLog
//
// The adapter does the rest: framing, extracting the token, turning the
// request into an action and a resource, forwarding, and refusing in its
// protocol's own form.

export interface DataPlaneCoreOptions {
  /** The node's environment; null: every environment, each token routed to its own environment's binding. */
  readonly env: string | null;
  readonly hasher: TokenHasher;
  readonly cache: TokenCache;
  readonly limiter: Limiter;
  readonly inFlight: InFlight<BindingRoute>;
  readonly log: DecisionLog;
  readonly logger: Logger;
}

/**
 * The cache key of the token last presented on one connection: a client
 * sends the same token on every request of a keep-alive connection, so the
 * key's SHA-256 is taken once per connection, not once per request. The key
 * only finds the cache entry; the entry is checked on every request as before.
 */
export interface TokenKeyMemo {
  token: string | null;
  key: string;
}

/** What resolving a presented token gives: its cache entry, or why there is none. */
export type Resolution = CacheEntry | 'token_malformed' | 'store_unavailable';

export class DataPlaneCore {
  readonly #options: DataPlaneCoreOptions;
  readonly log: DecisionLog;

  constructor(options: DataPlaneCoreOptions) {
    this.#options = options;
    this.log = options.log;
  }

  get env(): string | null {
    return this.#options.env;
  }

  /**
   * The token's entry from the cache, or on a miss from the store (single
   * flight). Only a miss pays for the checksum and the keyed hash: a hit
   * proves the same text was read before. With a memo (one per connection)
   * the same token twice in a row is hashed once.
   */
  resolve(token: string, now: number, memo?: TokenKeyMemo): Resolution | Promise<Resolution> {
    const { cache, hasher, logger } = this.#options;
    let key: string;
    if (memo !== undefined && memo.token === token) key = memo.key;
    else {
      key = cacheKeyOf(token);
      if (memo !== undefined) {
        memo.token = token;
        memo.key = key;
      }
    }
    const cached = cache.lookup(key, now);
    if (cached === UNAVAILABLE) return 'store_unavailable';
    if (cached !== undefined) return cached;
    if (parseToken(token) === undefined) return 'token_malformed';
    return cache.load(key, hasher.hash(token)).then(
      (entry): Resolution => entry,
      (err: Error): Resolution => {
        logger.warn({ err: err.message }, 'token store unavailable');
        return 'store_unavailable';
      },
    );
  }

  /**
   * Admission of a resolved token for `context.service` (bindings by
   * environment; none for a question that names no service). Sets the entry
   * and binding on the context; a honeytoken is logged and recorded under its
   * id, and answered exactly like a token never issued.
   */
  admit(context: DecisionContext, found: CacheEntry): ReasonCode | null {
    const entry = knownToken(found);
    if (entry === null) {
      if (found.kind === 'token') {
        context.honeyId = found.id;
        this.#options.logger.warn({ tokenId: found.id, tokenName: found.name, service: context.service?.name ?? null, client: context.client }, 'honeytoken presented');
      }
      return 'token_unknown';
    }
    context.entry = entry;
    const bindings = context.service?.bindings ?? null;
    const refusal = admissionRefusal(entry, context.time, this.#options.env, bindings, context.client ?? undefined);
    if (refusal !== null) return refusal;
    context.binding = bindings?.get(entry.env) ?? null;
    return null;
  }

  /**
   * After authorization, before the limits: a request that cannot be served
   * (the audit log cannot take its event, or its binding has no usable
   * credential) spends no use, no rate slot and no in-flight slot.
   */
  gate(context: DecisionContext): ReasonCode | null {
    if (!this.log.accepting) return 'audit_unavailable';
    if (context.binding !== null && context.binding.unusable !== null) {
      context.detail = null;
      return 'upstream_credential_missing';
    }
    return null;
  }

  /**
   * The concurrency stage (a slot per token and per binding, given back by
   * DecisionLog.release), then the token's rate limit and usage cap. A slot
   * taken by a request the limits then refuse is given back when it is recorded.
   */
  limit(context: DecisionContext): ReasonCode | null | Promise<ReasonCode | null> {
    const entry = context.entry!;
    const binding = context.binding!;
    const full = this.#options.inFlight.acquire(entry.id, binding);
    if (full !== null) {
      context.detail = full === 'token' ? 'this token has too many requests in flight' : 'this service has too many requests in flight';
      context.retryAfterSeconds = 1;
      return 'concurrency_limited';
    }
    context.holdsSlot = true;
    if (entry.limits === null) return null;
    const verdict = this.#options.limiter.check(entry.limits, context.time);
    if (verdict instanceof Promise) {
      return verdict.then(
        (v) => limitRefusal(context, v),
        // The limiter falls back to local limits itself; an error here is a bug, so fail closed.
        (): ReasonCode => 'internal_error',
      );
    }
    return limitRefusal(context, verdict);
  }
}

function limitRefusal(context: DecisionContext, verdict: LimitVerdict): ReasonCode | null {
  if (verdict.allowed) {
    if (verdict.backlogMs !== undefined) context.rateBacklogMs = verdict.backlogMs;
    return null;
  }
  if (verdict.reason === 'rate_limited') context.retryAfterSeconds = retryAfterSeconds(verdict.retryAfterMs);
  return verdict.reason;
}
