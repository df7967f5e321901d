import { z } from 'zod';
import { admissionRefusal, knownToken } from '../../core/admission.js';
import { authorizeHttp } from '../../core/authorize.js';
import { invalid, REASONS, type ReasonCode } from '../../errors/index.js';
import { loadServiceCatalog } from '../../lifecycle/index.js';
import { authorizedPath, compileGrant, GATEWAY_METHODS, parsePermissions, readMethodOverride, splitServicePath } from '../../policy/index.js';
import type { CompiledGrant } from '../../policy/types.js';
import type { TokenRecord } from '../../store/records.js';
import { parseToken } from '../../token/index.js';
import type { AdminContext } from '../context.js';
import { tokenEntryOf, type Principal } from '../principal.js';
import { auditRead, honeytokenAlarm } from '../token-audit.js';
import { permissionText } from '../input.js';
import { route } from '../route.js';
import { checkMcp, mcpQuestion } from './check-mcp.js';

// "Would this be allowed, and why?" — the gateway's decision, made by the same
// code (the target read by policy/http-target.ts, the token admitted by
// core/admission.ts, the request authorized by core/authorize.ts), explained,
// for a stored token or for a grant written out by hand. Without `client`, a
// token's CIDR list is not evaluated (the answer says so).

const body = z.strictObject({
  token: z.string().max(128).optional(),
  grant: z.array(permissionText).max(500).optional(),
  method: z.string().regex(/^[A-Z]{1,16}$/, 'must be an uppercase HTTP method').optional(),
  path: z.string().min(1).max(8192).describe('/<service>/<rest>, as sent to the gateway').optional(),
  mcp: mcpQuestion.optional().describe('instead of method and path: one MCP message to an mcp service'),
  client: z.ipv4().or(z.ipv6()).optional().describe("the client address to judge the token's CIDR list against"),
});

type CheckBody = z.infer<typeof body>;

/** Every check of a token is on the record: who asked about which token, and what they learnt. */
function auditCheck(context: AdminContext, principal: Principal, record: TokenRecord | undefined, method: string, path: string, reason: string, now: number): Promise<void> {
  return auditRead(context.store, principal.actor, {
    action: 'token.check',
    target: record?.id ?? '',
    before: null,
    after: { method, path: path.length > 1024 ? `${path.slice(0, 1024)}…` : path, reason, client: principal.client },
  }, now);
}

function refusal(reason: ReasonCode, explanation: string = REASONS[reason].message) {
  return { allowed: false, reason, matched: null, nearest: null, explanation };
}

export const checkRoutes = [
  route<CheckBody>({
    method: 'POST', path: '/v1/check', action: 'check', tag: 'check', status: 200,
    summary: 'Explain whether a token or a grant allows a request', body,
    handle: async ({ body: input, principal }, context) => {
      const { store, hasher, now, logger } = context;
      // Server time covers the whole answer: token lookup, role expansion, compile and decision.
      const started = process.hrtime.bigint();
      if ((input.token === undefined) === (input.grant === undefined)) throw invalid('token', 'give exactly one of token or grant');
      if (input.mcp !== undefined) return checkMcp(input, input.mcp, principal, context, started);
      if (input.method === undefined || input.path === undefined) throw invalid('path', 'give method and path, or mcp');
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

      let grant: CompiledGrant | null;
      let audited: TokenRecord | undefined;
      if (input.grant !== undefined) {
        const catalog = await loadServiceCatalog(store);
        grant = compileGrant(parsePermissions(input.grant, catalog, 'grant'), catalog);
      } else {
        const at = now();
        if (parseToken(input.token!) === undefined) return refusal('token_malformed');
        const record = await store.findTokenByHash(hasher.hash(input.token!));
        if (record?.honey === true) await honeytokenAlarm(context, record, 'check', principal.actor, principal.client, at);
        const entry = record === undefined ? null : knownToken(await tokenEntryOf(store, record, logger, at));
        const bindings = new Map(service.bindings.map((binding) => [binding.env, binding]));
        const refused = entry === null ? 'token_unknown' : admissionRefusal(entry, at, null, bindings, input.client);
        if (refused !== null) {
          await auditCheck(context, principal, record, method, path.path, refused, at);
          return refusal(refused);
        }
        grant = entry!.grant;
        audited = record;
      }
      const decision = authorizeHttp(grant, service.name, method, input.method, path.segments, service.paths);
      if (audited !== undefined) await auditCheck(context, principal, audited, method, path.path, decision.reason, now());
      const micros = Number(process.hrtime.bigint() - started) / 1000;
      return {
        allowed: decision.allowed,
        reason: decision.reason,
        matched: decision.matched,
        nearest: decision.nearest,
        explanation: decision.explanation,
        service: service.name,
        path: path.path,
        ...(input.token !== undefined && input.client === undefined && { cidrs: 'not evaluated: give client to judge the token\'s CIDR list' }),
        serverMicros: micros,
      };
    },
  }),
];
