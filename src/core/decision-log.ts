import { performance } from 'node:perf_hooks';
import { DECISION_FIELD_LIMITS, truncated } from '../audit/bound.js';
import type { DecisionDetail } from '../audit/event.js';
import type { AuditRecorder } from '../audit/recorder.js';
import type { RefusalSummaries } from '../audit/refusal-summary.js';
import type { ReasonCode } from '../errors/index.js';
import type { DecisionContext } from './decision.js';
import type { InFlight } from './limits/index.js';
import { UNKNOWN_SERVICE_LABEL, type GatewayMetrics } from './metrics.js';
import type { BindingRoute } from './services/service-table.js';

// The end of every decision, for every protocol: counted in the metrics,
// recorded as one audit event (refusals before a token is known folded, see
// audit/refusal-summary.ts), its in-flight slot given back, and a gate the
// adapter waits on before it answers, so that no answer goes out before its
// event is durable.

export interface DecisionLogOptions {
  readonly nodeName: string;
  /** The node's environment; null where every environment is served. */
  readonly env: string | null;
  readonly recorder: AuditRecorder;
  readonly metrics: GatewayMetrics;
  readonly inFlight: InFlight<BindingRoute>;
  /** Folds refusals made before a token is known; null: every refusal is stored in full. */
  readonly summaries: RefusalSummaries | null;
  readonly clock: () => number;
  /** Told of every allowed decision (token, matched permission, what was asked, time); must not block (see src/usage). */
  readonly usage?: UsageSink;
}

/** Counts uses in memory; the hot path never waits on it. Service, action and resource as the audit event has them (resource not yet cut). */
export interface UsageSink {
  count(tokenId: string, permission: string, service: string, action: string, resource: string, time: number): void;
}

/**
 * Reasons that can be given before any token is identified; only then are
 * they folded (request_ambiguous from a known token, for example an
 * unsupported upgrade, is stored in full).
 */
const PRE_AUTH_REASONS: ReadonlySet<string> = new Set<ReasonCode>([
  'token_missing', 'token_malformed', 'token_unknown', 'service_unknown', 'request_ambiguous', 'body_too_large', 'invalid_request',
]);

export class DecisionLog {
  readonly #options: DecisionLogOptions;

  constructor(options: DecisionLogOptions) {
    this.#options = options;
  }

  /** Gives back the decision's in-flight slot, once. */
  release(decision: DecisionContext): void {
    if (!decision.holdsSlot) return;
    decision.holdsSlot = false;
    this.#options.inFlight.release(decision.entry!.id, decision.binding!);
  }

  /** Counts and audits a finished decision once: its outcome, reason and, when forwarded, the upstream's answer. */
  record(context: DecisionContext, decision: 'allow' | 'deny', reason: ReasonCode | 'allowed'): void {
    if (context.recorded) return;
    context.recorded = true;
    const { metrics, recorder, summaries } = this.#options;
    const seconds = (performance.now() - context.startedAt) / 1000;
    const service = context.service;
    if (service !== null && reason === 'allowed') {
      service.metrics.allowed.inc();
      service.metrics.allowedSeconds.observe(seconds);
    } else {
      const label = service?.name ?? UNKNOWN_SERVICE_LABEL;
      metrics.requests.inc({ service: label, decision, reason });
      metrics.seconds.observe({ service: label, decision }, seconds);
    }
    const entry = context.entry;
    if (reason === 'allowed' && entry !== null && context.matched !== null) this.#options.usage?.count(entry.id, context.matched, service?.name ?? '', context.action, context.resource, context.time);
    // One shape for every decision, absent fields undefined (no serializer writes them). After a spread, a literal's
    // properties are defined one by one; in a callgrind round that ran this as baseline code, through the V8
    // runtime at about 10,000 instructions per event.
    const detail: DecisionDetail = {
      node: this.#options.nodeName,
      tokenId: entry?.id ?? context.honeyId,
      tokenName: entry?.name ?? null,
      env: entry?.env ?? this.#options.env ?? '',
      service: service?.name ?? '',
      action: context.action,
      override: context.override ?? undefined,
      requestId: context.requestId ?? undefined,
      // Cut here too, so the recorder's queue never holds a 15 KB path per event (the writer bounds every field).
      resource: truncated(context.resource, DECISION_FIELD_LIMITS.resource),
      decision,
      reason,
      matched: context.matched,
      upstreamStatus: context.upstreamStatus,
      latencyMs: Math.round(seconds * 1e6) / 1e3,
      client: context.client ?? context.peer ?? '',
    };
    // Before a token is known a refusal costs the client nothing: fold it. A honeytoken is an alarm, never
    // folded, but its event is written on the same schedule as an unknown token's, so that its answer cannot
    // be told apart by its timing either.
    if (summaries !== null && entry === null && PRE_AUTH_REASONS.has(reason)) {
      context.unhurried = true;
      if (context.honeyId === null) summaries.offer(context.time, detail);
      else recorder.recordUnhurried({ kind: 'decision', time: context.time, detail });
    } else {
      recorder.record({ kind: 'decision', time: context.time, detail });
    }
  }

  /**
   * Audits a refusal the listener makes before any request exists (malformed
   * protocol, a slow client, CONNECT): always before a token is known, so
   * folded. Resolves once the answer may be sent.
   */
  recordListenerRefusal(peer: string | undefined, action: string, resource: string, reason: ReasonCode): Promise<boolean> {
    const { recorder, summaries } = this.#options;
    const detail: DecisionDetail = {
      node: this.#options.nodeName,
      tokenId: null,
      tokenName: null,
      env: this.#options.env ?? '',
      service: '',
      action,
      resource,
      decision: 'deny',
      reason,
      matched: null,
      upstreamStatus: null,
      latencyMs: null,
      // The socket peer: a proxy's X-Forwarded-For cannot be read from a request that could not be parsed.
      client: peer ?? '',
    };
    const time = this.#options.clock();
    if (summaries === null) {
      recorder.record({ kind: 'decision', time, detail });
      return recorder.durable();
    }
    summaries.offer(time, detail);
    return recorder.durableUnhurried();
  }

  /**
   * Resolves once every event recorded so far is durable (true), or at once
   * when the log cannot be written (false). An unhurried decision (see
   * DecisionContext.unhurried) waits for its batch without hurrying the writer.
   */
  durable(context?: DecisionContext): Promise<boolean> {
    return context?.unhurried === true ? this.#options.recorder.durableUnhurried() : this.#options.recorder.durable();
  }

  /** With failMode `open` an answer is not held back for an audit log that cannot be written. */
  get failsOpen(): boolean {
    return this.#options.recorder.failMode === 'open';
  }

  /** False when an allowed request could not be audited (failMode `closed` and the log unwritable): refuse it. */
  get accepting(): boolean {
    return this.#options.recorder.accepting;
  }
}
