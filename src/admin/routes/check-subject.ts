import { admissionRefusal, knownToken } from '../../core/admission.js';
import { notFound, REASONS, type ReasonCode } from '../../errors/index.js';
import { loadServiceCatalog } from '../../lifecycle/index.js';
import { compileGrant, parsePermissions } from '../../policy/index.js';
import type { CompiledGrant } from '../../policy/types.js';
import type { Service, TokenRecord } from '../../store/records.js';
import { parseToken } from '../../token/index.js';
import { authorizeEnv } from '../authorize.js';
import type { AdminContext } from '../context.js';
import { tokenEntryOf, type Principal } from '../principal.js';
import { auditRead, honeytokenAlarm } from '../token-audit.js';

// Whom a check judges, for every form of POST /v1/check (HTTP, SQL, MCP): a
// grant written out, a token given in plaintext (admitted by the core as the
// gateway would) or a stored token by id; and the audit record of each check.

/** Who is asked about: one of these is given. */
export interface CheckSubjectInput {
  readonly token?: string | undefined;
  readonly tokenId?: string | undefined;
  readonly grant?: readonly string[] | undefined;
  readonly client?: string | undefined;
}

/** What was asked, for the audit record: never the SQL text itself, which may hold values. */
export type Question =
  | { readonly method: string; readonly path: string }
  | { readonly service: string; readonly kind: string; readonly fingerprint: string | null }
  /** MCP: argument names only, their values may be secrets. */
  | { readonly service: string; readonly mcpMethod: string; readonly name: string | null; readonly arguments: readonly string[] };

/** Every check of a token is on the record: who asked about which token, and what they learnt. */
export function auditCheck(context: AdminContext, principal: Principal, record: TokenRecord | undefined, question: Question, reason: string, now: number): Promise<void> {
  const asked = 'path' in question ? { ...question, path: question.path.length > 1024 ? `${question.path.slice(0, 1024)}…` : question.path } : question;
  return auditRead(context.store, principal.actor, {
    action: 'token.check',
    target: record?.id ?? '',
    before: null,
    after: { ...asked, reason, client: principal.client },
  }, now);
}

export type Subject =
  | { readonly ok: true; readonly grant: CompiledGrant; readonly audited: TokenRecord | undefined }
  | { readonly ok: false; readonly refusal: ReturnType<typeof refusal> };

/**
 * The grant a check judges: one written out, or a stored token's once the core
 * admits it for `service`. A refused token is audited here with `question`
 * (which may be computed late: the SQL form fingerprints only a token it admits).
 */
export async function subjectOf(input: CheckSubjectInput, service: Service, principal: Principal, context: AdminContext, question: () => Question): Promise<Subject> {
  const { store, hasher, now, logger } = context;
  if (input.grant !== undefined) {
    const catalog = await loadServiceCatalog(store);
    return { ok: true, grant: compileGrant(parsePermissions(input.grant, catalog, 'grant'), catalog), audited: undefined };
  }
  const at = now();
  let record: TokenRecord | undefined;
  if (input.tokenId !== undefined) {
    // By id no possession is proven: what the token may do is then read access to it, as GET /v1/tokens/{id} is.
    record = await store.getToken(input.tokenId);
    if (record === undefined) throw notFound(`token ${input.tokenId}`);
    authorizeEnv(principal, 'tokens.read', record.env);
  } else {
    if (parseToken(input.token!) === undefined) return { ok: false, refusal: refusal('token_malformed') };
    record = await store.findTokenByHash(hasher.hash(input.token!));
    if (record?.honey === true) await honeytokenAlarm(context, record, 'check', principal.actor, principal.client, at);
  }
  const entry = record === undefined ? null : knownToken(await tokenEntryOf(store, record, logger, at));
  const bindings = new Map(service.bindings.map((binding) => [binding.env, binding]));
  const refused = entry === null ? 'token_unknown' : admissionRefusal(entry, at, null, bindings, input.client);
  if (refused !== null) {
    await auditCheck(context, principal, record, question(), refused, at);
    return { ok: false, refusal: refusal(refused) };
  }
  // A grant that could not be compiled safely (null) denies everything, as an empty one does.
  return { ok: true, grant: entry!.grant ?? compileGrant([]), audited: record };
}

export function refusal(reason: ReasonCode, explanation: string = REASONS[reason].message) {
  return { allowed: false, reason, matched: null, nearest: null, explanation };
}

