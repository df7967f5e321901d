import type { BindingRoute, ServiceRoute } from './services/service-table.js';
import type { TokenEntry } from './tokens/token-entry.js';

/**
 * One decision on its way through the core, whatever the protocol: what the
 * adapter asked (service, action, resource), what the core found (token,
 * binding, matched permission) and how it ended (reason detail, upstream
 * result). A class, so every decision has the same shape on the hot path;
 * each protocol's adapter extends it with what is its own (the HTTP request
 * and its headers, a PostgreSQL message, a JSON-RPC call).
 */
export class DecisionContext {
  /** Clock time at arrival, for checks and the audit event. */
  readonly time: number;
  /** performance.now() at arrival, for latency. */
  readonly startedAt: number;
  /** The socket peer, read at arrival. */
  readonly peer: string | undefined;
  /** The client address the decision is about (the peer, or what a trusted proxy says), set by the adapter. */
  client: string | null = null;
  service: ServiceRoute | null = null;
  binding: BindingRoute | null = null;
  entry: TokenEntry | null = null;
  /** Set for a honeytoken: audited under its id, answered as an unknown token. */
  honeyId: string | null = null;
  /** What is authorized and audited: an HTTP method, a SQL statement kind, an MCP method. */
  action: string;
  /** How the action was overridden (`POST with X-HTTP-Method-Override`), for the audit; null when it was not. */
  override: string | null = null;
  /** What it is done to, canonical (a path, a table, a tool name); for early refusals a bounded copy of what was sent. */
  resource = '';
  matched: string | null = null;
  /** Why, beyond the reason code, in words for the client (never a secret). */
  detail: string | null = null;
  retryAfterSeconds: number | null = null;
  /** For a token with a rate, allowed: how far its rate runs ahead of now (see LimitVerdict); else null. */
  rateBacklogMs: number | null = null;
  upstreamStatus: number | null = null;
  /** The request's id (HTTP X-Request-Id), kept in its audit event; null where the protocol has none. */
  requestId: string | null = null;
  recorded = false;
  /** Holds an in-flight slot of its token and binding (the concurrency stage); given back once. */
  holdsSlot = false;
  /**
   * Its answer waits for its event's batch without hurrying the writer:
   * refusals before a token is known (so more fold together) and honeytokens
   * (which must be answered exactly like an unknown token, timing included).
   */
  unhurried = false;

  constructor(time: number, startedAt: number, peer: string | undefined, action: string) {
    this.time = time;
    this.startedAt = startedAt;
    this.peer = peer;
    this.action = action;
  }
}
