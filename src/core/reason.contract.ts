// The reason-code contract every protocol adapter runs (HTTP now; PostgreSQL
// and MCP when they land), as hono runs one router suite over every router:
// for each data-plane code of src/errors/registry.ts a real request produces
// it, the adapter's refusal carries it (with the registry's status where the
// protocol has statuses), and the audit event recorded for it carries the same
// `reason`. A protocol that cannot produce a code says so, with why, in
// `unsupported`; the contract turns that into a named test, never a silent
// skip, and a code added to the registry fails here until it is classified.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { REASONS, type ReasonCode } from '../errors/index.js';
import type { TokenRecord } from '../store/records.js';
import { generateToken } from '../token/index.js';

/** Codes a data-plane request can be refused with, whatever the protocol. */
export const DATA_PLANE_CODES = [
  'token_missing', 'token_malformed', 'token_unknown', 'token_expired', 'token_not_yet_valid', 'token_revoked', 'token_disabled',
  'permission_denied', 'env_mismatch', 'ip_not_allowed', 'request_ambiguous', 'service_unknown', 'body_too_large', 'invalid_request',
  'rate_limited', 'usage_exhausted', 'concurrency_limited',
  'upstream_unreachable', 'upstream_credential_missing', 'upstream_timeout', 'store_unavailable', 'audit_unavailable', 'internal_error',
] as const satisfies readonly ReasonCode[];

/** Codes of the registry no data-plane request is answered with, and why. */
export const NOT_DATA_PLANE: Readonly<Partial<Record<ReasonCode, string>>> = {
  not_found: 'admin API only: a resource of /v1/... that does not exist (the gateway says service_unknown)',
  conflict: 'admin API only: a resource created twice or changed under the caller',
  unsupported_media_type: 'admin API only: its bodies must be JSON; a gateway forwards any body',
  signature_invalid: 'admin API only: GitHub secret-scanning reports prove themselves with a signature, not a token',
  csrf_refused: 'admin API only: a console call riding on the session cookie without its CSRF token or from another origin; gateways take no cookies',
  proxy_not_trusted: 'forward-auth listener only: a caller that is not a configured proxy is refused before any request is read (src/forward-auth/endpoint.test.ts)',
};

export type DataPlaneCode = (typeof DATA_PLANE_CODES)[number];

/**
 * What the contract asks for, in protocol-neutral words; the adapter turns it
 * into a real request of its protocol (HTTP: a method and a path; PostgreSQL:
 * a statement; MCP: a JSON-RPC call).
 */
export type RequestShape =
  /** Allowed by `target.grant`, to a service that answers at once. */
  | 'granted'
  /** To the same service, outside every allow of the grant. */
  | 'outside_grant'
  /** Covered by an allow of the grant and by one of its denies. */
  | 'denied'
  /** One the protocol will not interpret unambiguously (HTTP: an encoded `/`). */
  | 'ambiguous'
  /** To a service nobody configured. */
  | 'unknown_service'
  /** Granted, with a body over the service's limit. */
  | 'too_large'
  /** Not well-formed in the protocol at all (no token can be read from it). */
  | 'malformed_protocol'
  /** Granted, to a service whose upstream nothing listens on. */
  | 'to_unreachable'
  /** Granted, to a service whose upstream answers after the adapter's upstream timeout. */
  | 'to_slow'
  /** Granted, to a service whose binding's credential (a variable or file) the gateway cannot read. */
  | 'to_no_credential';

export interface ContractRequest {
  /** The token as sent; undefined: none at all. */
  readonly token?: string;
  readonly shape: RequestShape;
}

/** The adapter's refusal (or success) as the client saw it. */
export interface ContractAnswer {
  readonly code: ReasonCode | 'allowed';
  /** The protocol's status, where it has one (HTTP); checked against the registry. */
  readonly status?: number;
  /** Seconds the client is told to wait, where the protocol can say it (HTTP Retry-After); null: not said. */
  readonly retryAfterSeconds?: number | null;
  /** The whole answer as bytes or text, for comparisons such as a honeytoken's answer against an unknown token's. */
  readonly raw: string;
}

/** One decision event as the audit log holds it; `count` on a folded refusal. */
export interface AuditedDecision {
  readonly reason: string;
  readonly tokenId: string | null;
  readonly count?: number;
}

/** The token fields the contract sets; everything else (permissions above all) is the adapter's. */
export type TokenOverrides = Partial<Pick<TokenRecord, 'status' | 'expiresAt' | 'notBefore' | 'cidrs' | 'env' | 'rate' | 'maxUses' | 'honey'>>;

/** One fresh adapter, listener and store for one case. */
export interface ContractTarget {
  /** The environment the node serves tokens of. */
  readonly env: string;
  /** An environment the node refuses tokens of (env_mismatch). */
  readonly otherEnv: string;
  /** The clock the adapter decides with (frozen; the contract moves it). */
  now(): number;
  advance(ms: number): void;
  /** Stores a token granted the adapter's own permissions (allow `granted`, deny `denied`), with `overrides`. */
  issue(overrides?: TokenOverrides): Promise<{ token: string; id: string }>;
  request(request: ContractRequest): Promise<ContractAnswer>;
  /** Every decision event written so far, after flushing the recorder. */
  auditedDecisions(): Promise<AuditedDecision[]>;
  /**
   * Starts as many `granted` requests of `token` as its in-flight share holds
   * and resolves once all are held at the upstream; the function lets them finish.
   */
  fillInFlight(token: string): Promise<() => Promise<void>>;
  /** From now on the token store cannot be read. */
  breakStore(): Promise<void>;
  /** From now on audit writes fail; `healAudit` lets them through again (queued events included). */
  breakAudit(): Promise<void>;
  healAudit(): Promise<void>;
  close(): Promise<void>;
}

export interface ReasonAdapter {
  /** Codes this protocol cannot produce, each with why (a named test states it). */
  readonly unsupported: Readonly<Partial<Record<DataPlaneCode, string>>>;
  /** Whether the protocol can tell the client when to retry (HTTP: Retry-After). */
  readonly saysRetryAfter: boolean;
  setup(): Promise<ContractTarget>;
}

/** A well-formed token whose checksum does not match: refused without a lookup. */
function badChecksum(env: string): string {
  const good = generateToken(env);
  return good.slice(0, -1) + (good.endsWith('A') ? 'B' : 'A');
}

interface Produced {
  readonly answer: ContractAnswer;
  /** The token the refusal is about; null: refused before any token is known (its event may be folded). */
  readonly tokenId: string | null;
  /**
   * A token was sent, but the protocol may refuse before it is known (HTTP
   * reads the path, the service and the body's length first; a store that
   * cannot be read cannot name the token): its event is under the token or
   * under none, and then possibly folded.
   */
  readonly maybeBeforeToken?: boolean;
}

type Scenario = (target: ContractTarget) => Promise<Produced>;

/** Issues a token and sends one request with it. */
async function withToken(target: ContractTarget, overrides: TokenOverrides, shape: RequestShape = 'granted'): Promise<Produced> {
  const { token, id } = await target.issue(overrides);
  return { answer: await target.request({ token, shape }), tokenId: id };
}

/** The same, for a refusal the protocol may make before the token is known. */
async function maybeBeforeToken(target: ContractTarget, shape: RequestShape): Promise<Produced> {
  return { ...(await withToken(target, {}, shape)), maybeBeforeToken: true };
}

/** Sends `granted` requests until one is refused (bounded), for the limits. */
async function untilRefused(target: ContractTarget, token: string, id: string, at: number): Promise<Produced> {
  for (let i = 0; i < at; i++) expect((await target.request({ token, shape: 'granted' })).code).toBe('allowed');
  return { answer: await target.request({ token, shape: 'granted' }), tokenId: id };
}

const SCENARIOS: Record<DataPlaneCode, Scenario> = {
  token_missing: async (t) => ({ answer: await t.request({ shape: 'granted' }), tokenId: null }),
  token_malformed: async (t) => ({ answer: await t.request({ token: badChecksum(t.env), shape: 'granted' }), tokenId: null }),
  token_unknown: async (t) => ({ answer: await t.request({ token: generateToken(t.env), shape: 'granted' }), tokenId: null }),
  token_expired: async (t) => {
    const { token, id } = await t.issue({ expiresAt: t.now() + 1000 });
    expect((await t.request({ token, shape: 'granted' })).code).toBe('allowed');
    t.advance(1000);
    return { answer: await t.request({ token, shape: 'granted' }), tokenId: id };
  },
  token_not_yet_valid: (t) => withToken(t, { notBefore: t.now() + 60_000 }),
  token_revoked: (t) => withToken(t, { status: 'revoked' }),
  token_disabled: (t) => withToken(t, { status: 'disabled' }),
  permission_denied: async (t) => {
    const { token, id } = await t.issue();
    expect((await t.request({ token, shape: 'outside_grant' })).code).toBe('permission_denied');
    // A deny wins over an allow that covers the same request.
    return { answer: await t.request({ token, shape: 'denied' }), tokenId: id };
  },
  env_mismatch: (t) => withToken(t, { env: t.otherEnv }),
  // TEST-NET-1: no loopback client is ever in it.
  ip_not_allowed: (t) => withToken(t, { cidrs: ['192.0.2.0/24'] }),
  request_ambiguous: (t) => maybeBeforeToken(t, 'ambiguous'),
  service_unknown: (t) => maybeBeforeToken(t, 'unknown_service'),
  body_too_large: (t) => maybeBeforeToken(t, 'too_large'),
  invalid_request: async (t) => ({ answer: await t.request({ shape: 'malformed_protocol' }), tokenId: null }),
  rate_limited: async (t) => {
    const { token, id } = await t.issue({ rate: { count: 2, periodMs: 60_000 } });
    return untilRefused(t, token, id, 2);
  },
  usage_exhausted: async (t) => {
    const { token, id } = await t.issue({ maxUses: 2 });
    return untilRefused(t, token, id, 2);
  },
  concurrency_limited: async (t) => {
    const { token, id } = await t.issue();
    const release = await t.fillInFlight(token);
    try {
      return { answer: await t.request({ token, shape: 'granted' }), tokenId: id };
    } finally {
      await release();
    }
  },
  upstream_unreachable: (t) => withToken(t, {}, 'to_unreachable'),
  upstream_timeout: (t) => withToken(t, {}, 'to_slow'),
  upstream_credential_missing: (t) => withToken(t, {}, 'to_no_credential'),
  store_unavailable: async (t) => {
    // Issued before the break, never presented before it: the gateway must read the store for it.
    const { token, id } = await t.issue();
    await t.breakStore();
    return { answer: await t.request({ token, shape: 'granted' }), tokenId: id, maybeBeforeToken: true };
  },
  audit_unavailable: async (t) => {
    const { token, id } = await t.issue();
    await t.breakAudit();
    // The first request may reach the upstream before the failed write is known; the second one finds it out.
    await t.request({ token, shape: 'granted' });
    const answer = await t.request({ token, shape: 'granted' });
    await t.healAudit();
    return { answer, tokenId: id };
  },
  internal_error: () => Promise.reject(new Error('no real request produces internal_error')),
};

/** The audit check: an event with the code, under the token when one is known, possibly folded when none is. */
function expectAudited(events: readonly AuditedDecision[], code: ReasonCode, tokenId: string | null, maybeBefore = false): void {
  const about = (event: AuditedDecision) => tokenId === null || event.tokenId === tokenId || (maybeBefore && event.tokenId === null);
  const matching = events.filter((event) => event.reason === code && about(event));
  expect(matching.length, `an audit event with reason ${code}${tokenId === null ? '' : ` for token ${tokenId}`}`).toBeGreaterThan(0);
  for (const event of matching) expect(event.count ?? 1).toBeGreaterThanOrEqual(1);
}

export function runReasonContract(name: string, adapter: ReasonAdapter): void {
  describe(`${name} reason-code contract`, () => {
    it('every code of the registry is classified: data plane, or why not', () => {
      const classified = new Set<string>([...DATA_PLANE_CODES, ...Object.keys(NOT_DATA_PLANE)]);
      expect(Object.keys(REASONS).filter((code) => !classified.has(code))).toEqual([]);
      expect(DATA_PLANE_CODES.filter((code) => code in NOT_DATA_PLANE)).toEqual([]);
    });

    let target: ContractTarget;
    beforeEach(async () => {
      target = await adapter.setup();
    });
    afterEach(() => target.close());

    for (const code of DATA_PLANE_CODES) {
      const why = adapter.unsupported[code];
      if (why !== undefined) {
        it(`${code}: declared unsupported by ${name} (${why})`, () => {
          expect(why.trim().length).toBeGreaterThan(10);
        });
        continue;
      }
      it(`${code}: a real request is refused with it, and its audit event says it`, async () => {
        const { answer, tokenId, maybeBeforeToken: maybeBefore } = await SCENARIOS[code](target);
        expect(answer.code).toBe(code);
        if (answer.status !== undefined) expect(answer.status).toBe(REASONS[code].status);
        if (adapter.saysRetryAfter && code === 'rate_limited') expect(answer.retryAfterSeconds).toBeGreaterThan(0);
        if (adapter.saysRetryAfter && code === 'concurrency_limited') expect(answer.retryAfterSeconds).toBeGreaterThan(0);
        if (adapter.saysRetryAfter && code === 'usage_exhausted') expect(answer.retryAfterSeconds ?? null).toBeNull();
        expectAudited(await target.auditedDecisions(), code, tokenId, maybeBefore);
      });
    }

    it('a honeytoken is answered exactly like a token never issued, and audited under its own id', async () => {
      const unknown = await target.request({ token: generateToken(target.env), shape: 'granted' });
      const { token, id } = await target.issue({ honey: true });
      const trapped = await target.request({ token, shape: 'granted' });
      expect(trapped.code).toBe('token_unknown');
      expect(trapped.raw).toBe(unknown.raw);
      expectAudited(await target.auditedDecisions(), 'token_unknown', id);
    });

    it('the granted request is allowed (the scenarios refuse for the reason they name, not by accident)', async () => {
      const { token } = await target.issue();
      expect((await target.request({ token, shape: 'granted' })).code).toBe('allowed');
      expect((await target.auditedDecisions()).some((event) => event.reason === 'allowed')).toBe(true);
    });
  });
}
