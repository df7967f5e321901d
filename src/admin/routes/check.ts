import { z } from 'zod';
import { authorizeHttp } from '../../core/authorize.js';
import { invalid } from '../../errors/index.js';
import { authorizedPath, GATEWAY_METHODS, readMethodOverride, splitServicePath } from '../../policy/index.js';
import { analyzeSql, loadSqlParser, sqlScope } from '../../postgres/sql/index.js';
import type { Principal } from '../principal.js';
import type { AdminContext } from '../context.js';
import { permissionText } from '../input.js';
import { route } from '../route.js';
import { checkMcp, mcpQuestion } from './check-mcp.js';
import { auditCheck, refusal, subjectOf } from './check-subject.js';

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
  mcp: mcpQuestion.optional().describe('instead of method and path: one MCP message to an mcp service'),
  client: z.ipv4().or(z.ipv6()).optional().describe("the client address to judge the token's CIDR list against"),
});

type CheckBody = z.infer<typeof body>;

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

export const checkRoutes = [
  route<CheckBody>({
    method: 'POST', path: '/v1/check', action: 'check', tag: 'check', status: 200,
    summary: 'Explain whether a token or a grant allows a request (HTTP: method and path; PostgreSQL: sql and service; MCP: mcp)', body,
    handle: async ({ body: input, principal }, context) => {
      const { store, now } = context;
      // Server time covers the whole answer: token lookup, role expansion, compile and decision.
      const started = process.hrtime.bigint();
      if ([input.token, input.tokenId, input.grant].filter((given) => given !== undefined).length !== 1) throw invalid('token', 'give exactly one of token, tokenId or grant');
      if (input.sql !== undefined || input.service !== undefined) {
        if (input.sql === undefined || input.service === undefined) throw invalid('sql', 'give both sql and service');
        if (input.method !== undefined || input.path !== undefined) throw invalid('sql', 'give sql and service, or method and path, not both');
        if (input.mcp !== undefined) throw invalid('sql', 'give sql and service, or mcp, not both');
        return checkSql({ ...input, sql: input.sql, service: input.service }, principal, context, started);
      }
      if (input.mcp !== undefined) {
        if (input.method !== undefined || input.path !== undefined) throw invalid('mcp', 'give mcp, or method and path, not both');
        return checkMcp(input, input.mcp, principal, context, started);
      }
      if (input.method === undefined || input.path === undefined) throw invalid('method', 'give method and path (or sql and service, or mcp)');
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
