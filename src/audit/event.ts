// Audit events: one per gateway decision and one per administrative change.
// Never a token's plaintext, an upstream credential, a credential header or a body.

export type AuditKind = 'decision' | 'admin';

export interface DecisionDetail {
  readonly node: string;
  readonly tokenId: string | null;
  readonly tokenName: string | null;
  readonly env: string;
  readonly service: string;
  /** HTTP method (the overriding one when a method override was sent), SQL statement kind, or MCP action. */
  readonly action: string;
  /** Present when the HTTP method was overridden: the method sent and how (`POST with X-HTTP-Method-Override`). */
  readonly override?: string;
  /** The request's id as the client and the upstream saw it (HTTP `X-Request-Id`). */
  readonly requestId?: string;
  /** Normalized path, tables, or tool name. */
  readonly resource: string;
  readonly decision: 'allow' | 'deny';
  readonly reason: string;
  readonly matched: string | null;
  readonly upstreamStatus: number | null;
  readonly latencyMs: number | null;
  readonly client: string;
  /** Only on a summary of pre-authentication refusals: how many refusals of this key it stands for. */
  readonly count?: number;
  /** With `count`: when the first of them came; the event's time is the last one's. */
  readonly firstTime?: number;
}

export interface AdminDetail {
  readonly actor: string;
  readonly actorTokenId: string | null;
  readonly action: string;
  readonly target: string;
  readonly before: unknown;
  readonly after: unknown;
}

/** What a producer hands to the audit log; sequence and hashes are assigned when it is appended. */
export type AuditEventInput =
  | { readonly kind: 'decision'; readonly time: number; readonly detail: DecisionDetail }
  | { readonly kind: 'admin'; readonly time: number; readonly detail: AdminDetail };

export type AuditEvent = AuditEventInput & {
  readonly seq: number;
  readonly prevHash: string;
  readonly hash: string;
};
