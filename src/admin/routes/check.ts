import { z } from 'zod';
import { invalid, REASONS } from '../../errors/index.js';
import { loadServiceCatalog, tokenRefusal } from '../../lifecycle/index.js';
import { readMethodOverride } from '../../policy/index.js';
import { compileGrant, foldRequestSegments, normalizePath, parsePermissions } from '../../policy/index.js';
import { parseToken } from '../../token/index.js';
import type { TokenRecord } from '../../store/records.js';
import type { AdminContext } from '../context.js';
import { effectiveGrant, type Principal } from '../principal.js';
import { auditRead, honeytokenAlarm } from '../token-audit.js';
import { permissionText } from '../input.js';
import { route } from '../route.js';

// "Would this be allowed, and why?" — the same decision the gateway makes,
// explained, for a stored token or for a grant written out by hand.

const body = z.strictObject({
  token: z.string().max(128).optional(),
  grant: z.array(permissionText).max(500).optional(),
  method: z.string().regex(/^[A-Z]{1,16}$/, 'must be an uppercase HTTP method'),
  path: z.string().min(1).max(8192).describe('/<service>/<rest>, as sent to the gateway'),
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

export const checkRoutes = [
  route<CheckBody>({
    method: 'POST', path: '/v1/check', action: 'check', tag: 'check', status: 200,
    summary: 'Explain whether a token or a grant allows a request', body,
    handle: async ({ body: input, principal }, context) => {
      const { store, hasher, now, logger } = context;
      // Server time covers the whole answer: token lookup, role expansion, compile and decision.
      const started = process.hrtime.bigint();
      if ((input.token === undefined) === (input.grant === undefined)) throw invalid('token', 'give exactly one of token or grant');
      const queryless = input.path.split('?')[0]!;
      const slash = queryless.indexOf('/', 1);
      const service = slash === -1 ? queryless.slice(1) : queryless.slice(1, slash);
      if (!queryless.startsWith('/') || service === '') throw invalid('path', 'must be /<service>/<rest>');
      const normalized = normalizePath(slash === -1 ? '/' : queryless.slice(slash));
      if (!normalized.ok) return { allowed: false, reason: 'request_ambiguous', matched: null, nearest: null, explanation: normalized.detail };
      // The gateway's own rules: the service's path matching, and `?_method=` (the request has no headers here).
      const matching = (await store.getService(service))?.paths ?? 'exact';
      const folded = foldRequestSegments(normalized.segments, matching);
      if (!folded.ok) return { allowed: false, reason: 'request_ambiguous', matched: null, nearest: null, explanation: folded.detail };
      const question = input.path.indexOf('?');
      const override = readMethodOverride(null, question < 0 ? '' : input.path.slice(question));
      if (override?.ok === false) return { allowed: false, reason: 'request_ambiguous', matched: null, nearest: null, explanation: override.detail };

      let grant;
      let audited: TokenRecord | undefined;
      if (input.grant !== undefined) {
        const catalog = await loadServiceCatalog(store);
        grant = compileGrant(parsePermissions(input.grant, catalog, 'grant'), catalog);
      } else {
        const at = now();
        const wellFormed = parseToken(input.token!) !== undefined;
        const record = wellFormed ? await store.findTokenByHash(hasher.hash(input.token!)) : undefined;
        if (record?.honey === true) await honeytokenAlarm(context, record, 'check', principal.actor, principal.client, at);
        const refusal = wellFormed ? tokenRefusal(record, at) : 'token_malformed';
        if (refusal !== undefined) {
          await auditCheck(context, principal, record, input.method, normalized.path, refusal, at);
          return { allowed: false, reason: refusal, matched: null, nearest: null, explanation: REASONS[refusal].message };
        }
        grant = await effectiveGrant(store, record!, logger);
        audited = record;
      }
      const method = override?.ok === true ? override.method : input.method;
      let decision = grant.decideHttp(service, method, folded.segments, matching);
      if (decision.allowed && method !== input.method) {
        const asSent = grant.decideHttp(service, input.method, folded.segments, matching);
        if (!asSent.allowed) decision = asSent;
      }
      if (audited !== undefined) await auditCheck(context, principal, audited, method, normalized.path, decision.reason, now());
      const micros = Number(process.hrtime.bigint() - started) / 1000;
      return {
        allowed: decision.allowed,
        reason: decision.reason,
        matched: decision.matched,
        nearest: decision.nearest,
        explanation: decision.explanation,
        service,
        path: normalized.path,
        serverMicros: micros,
      };
    },
  }),
];
