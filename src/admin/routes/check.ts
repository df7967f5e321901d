import { z } from 'zod';
import { admissionRefusal, knownToken } from '../../core/admission.js';
import { authorizeHttp } from '../../core/authorize.js';
import { invalid, notFound, REASONS, type ReasonCode } from '../../errors/index.js';
import { authorizeEnv } from '../authorize.js';
import { loadServiceCatalog } from '../../lifecycle/index.js';
import { authorizedPath, compileGrant, GATEWAY_METHODS, parsePermissions, readMethodOverride, splitServicePath } from '../../policy/index.js';
import type { CompiledGrant } from '../../policy/types.js';
import { analyzeSql, loadSqlParser, sqlScope } from '../../postgres/sql/index.js';
import type { Service, TokenRecord } from '../../store/records.js';
import { parseToken } from '../../token/index.js';
import type { AdminContext } from '../context.js';
import { tokenEntryOf, type Principal } from '../principal.js';
import { auditRead, honeytokenAlarm } from '../token-audit.js';
import { permissionText } from '../input.js';
import { route } from '../route.js';

// "Would this be allowed, and why?" — the gateway's decision, made by the same
// code (the target read by policy/http-target.ts, the token admitted by
// core/admission.ts, the request authorized by core/authorize.ts), explained,
// for a stored token or for a grant written out by hand. Without `client`, a
// token's CIDR list is not evaluated (the answer says so). With `sql` and
// `service` instead of `method` and `path`, the question is the PostgreSQL
// gateway's: the statements analyzed by postgres/sql, each table use judged.

const body = z.strictObject({
  token: z.string().max(128).optional(),
  tokenId: z.string().regex(/^tok_[0-9a-f]{1,64}$/, 'must be a token id (tok_...)').optional()
    .describe("a stored token by id instead of its plaintext; needs latchkey:tokens.read in the token's environment"),
  grant: z.array(permissionText).max(500).optional(),
  method: z.string().regex(/^[A-Z]{1,16}$/, 'must be an uppercase HTTP method').optional(),
  path: z.string().min(1).max(8192).describe('/<service>/<rest>, as sent to the gateway').optional(),
  sql: z.string().max(65_536).describe('a query string for a postgres service (instead of method and path)').optional(),
  service: z.string().min(1).max(64).describe('the postgres service the sql is sent to').optional(),
  client: z.ipv4().or(z.ipv6()).optional().describe("the client address to judge the token's CIDR list against"),
});

type CheckBody = z.infer<typeof body>;

/** What was asked, for the audit record: never the SQL text itself, which may hold values. */
type Question = { readonly method: string; readonly path: string } | { readonly service: string; readonly kind: string; readonly fingerprint: string | null };

/** Every check of a token is on the record: who asked about which token, and what they learnt. */
function auditCheck(context: AdminContext, principal: Principal, record: TokenRecord | undefined, question: Question, reason: string, now: number): Promise<void> {
  const asked = 'path' in question ? { ...question, path: question.path.length > 1024 ? `${question.path.slice(0, 1024)}…` : question.path } : question;
  return auditRead(context.store, principal.actor, {
    action: 'token.check',
    target: record?.id ?? '',
    before: null,
    after: { ...asked, reason, client: principal.client },
  }, now);
}

type Subject =
  | { readonly ok: true; readonly grant: CompiledGrant; readonly audited: TokenRecord | undefined }
  | { readonly ok: false; readonly refusal: ReturnType<typeof refusal> };

/**
 * The grant a check judges: one written out, or a stored token's once the core
 * admits it for `service`. A refused token is audited here with `question`
 * (which may be computed late: the SQL form fingerprints only a token it admits).
 */
async function subjectOf(input: CheckBody, service: Service, principal: Principal, context: AdminContext, question: () => Question): Promise<Subject> {
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

const cidrNote = (input: CheckBody) => (input.token !== undefined || input.tokenId !== undefined) && input.client === undefined && { cidrs: 'not evaluated: give client to judge the token\'s CIDR list' };

/**
 * The SQL form: the verdict of the gateway's SQL scope, and for each table use
 * the permission it needs and what decided it. A refusal names the statement
 * kind, the table and the permission needed.
 */
async function checkSql(input: CheckBody & { sql: string; service: string }, principal: Principal, context: AdminContext, started: bigint) {
  const service = await context.store.getService(input.service);
  if (service === undefined || service.kind !== 'postgres') return refusal('service_unknown');
  await loadSqlParser();
  const analysis = analyzeSql(input.sql);
  const fingerprint = analysis.ok ? (analysis.statements.length === 1 ? analysis.statements[0]!.fingerprint : null) : null;
  const subject = await subjectOf(input, service, principal, context, () => ({ service: service.name, kind: analysis.ok ? analysis.statements.map((s) => s.kind).join(';') : analysis.kind, fingerprint }));
  if (!subject.ok) return subject.refusal;
  const verdict = sqlScope({ service: service.name, grant: subject.grant, functions: service.sqlFunctions }).authorize(input.sql);
  const statements = analysis.ok ? analysis.statements.map((statement) => ({
    kind: statement.kind,
    functions: statement.functions,
    uses: statement.uses.map((use) => {
      const decision = subject.grant.decidePostgres(service.name, use.action, use.schema, use.table);
      return {
        action: use.action, table: `${use.schema}.${use.table}`, permission: `${service.name}:${use.action}:${use.schema}.${use.table}`,
        allowed: decision.allowed, matched: decision.matched, nearest: decision.nearest, explanation: decision.explanation,
      };
    }),
  })) : [];
  const reason = verdict.allowed ? 'allowed' : verdict.reason;
  if (subject.audited !== undefined) await auditCheck(context, principal, subject.audited, { service: service.name, kind: verdict.allowed ? statements.map((s) => s.kind).join(';') : verdict.kind, fingerprint: verdict.fingerprint }, reason, context.now());
  const refused = verdict.allowed ? undefined : statements.flatMap((statement) => statement.uses).find((use) => !use.allowed && `${verdict.table}` === use.table);
  return {
    allowed: verdict.allowed,
    reason,
    kind: verdict.allowed ? statements.map((s) => s.kind).join(';') : verdict.kind,
    table: verdict.allowed ? null : verdict.table,
    permission: refused?.permission ?? null,
    matched: refused?.matched ?? null,
    nearest: refused?.nearest ?? null,
    explanation: verdict.allowed ? 'every statement, table and function is granted' : verdict.detail,
    fingerprint: verdict.fingerprint,
    needsWrite: verdict.allowed ? verdict.needsWrite : null,
    service: service.name,
    statements,
    ...cidrNote(input),
    serverMicros: Number(process.hrtime.bigint() - started) / 1000,
  };
}

function refusal(reason: ReasonCode, explanation: string = REASONS[reason].message) {
  return { allowed: false, reason, matched: null, nearest: null, explanation };
}

export const checkRoutes = [
  route<CheckBody>({
    method: 'POST', path: '/v1/check', action: 'check', tag: 'check', status: 200,
    summary: 'Explain whether a token or a grant allows a request (HTTP: method and path; PostgreSQL: sql and service)', body,
    handle: async ({ body: input, principal }, context) => {
      const { store, now } = context;
      // Server time covers the whole answer: token lookup, role expansion, compile and decision.
      const started = process.hrtime.bigint();
      if ([input.token, input.tokenId, input.grant].filter((given) => given !== undefined).length !== 1) throw invalid('token', 'give exactly one of token, tokenId or grant');
      if (input.sql !== undefined || input.service !== undefined) {
        if (input.sql === undefined || input.service === undefined) throw invalid('sql', 'give both sql and service');
        if (input.method !== undefined || input.path !== undefined) throw invalid('sql', 'give sql and service, or method and path, not both');
        return checkSql({ ...input, sql: input.sql, service: input.service }, principal, context, started);
      }
      if (input.method === undefined || input.path === undefined) throw invalid('method', 'give method and path (or sql and service)');
      const question = input.path.indexOf('?');
      const queryless = question < 0 ? input.path : input.path.slice(0, question);
      if (!queryless.startsWith('/') || queryless.length < 2) throw invalid('path', 'must be /<service>/<rest>');
      // The gateway's stages, in its order, minus what only a live request has (headers, body).
      const target = splitServicePath(queryless);
      const service = await store.getService(target.service);
      if (service === undefined || service.kind !== 'http') return refusal('service_unknown');
      const path = authorizedPath(target.rest, service.paths);
      if (!path.ok) return refusal('request_ambiguous', path.detail);
      if (!GATEWAY_METHODS.has(input.method)) return refusal('request_ambiguous', `method ${input.method} is not one the gateway authorizes`);
      const override = readMethodOverride(null, question < 0 ? '' : input.path.slice(question));
      if (override?.ok === false) return refusal('request_ambiguous', override.detail);
      const method = override?.ok === true ? override.method : input.method;

      const subject = await subjectOf(input, service, principal, context, () => ({ method, path: path.path }));
      if (!subject.ok) return subject.refusal;
      const { grant, audited } = subject;
      const decision = authorizeHttp(grant, service.name, method, input.method, path.segments, service.paths);
      if (audited !== undefined) await auditCheck(context, principal, audited, { method, path: path.path }, decision.reason, now());
      const micros = Number(process.hrtime.bigint() - started) / 1000;
      return {
        allowed: decision.allowed,
        reason: decision.reason,
        matched: decision.matched,
        nearest: decision.nearest,
        explanation: decision.explanation,
        service: service.name,
        path: path.path,
        ...cidrNote(input),
        serverMicros: micros,
      };
    },
  }),
];
