import { z } from 'zod';
import type { AuditEventInput } from '../../audit/event.js';
import { LatchkeyError } from '../../errors/index.js';
import { isLive, leakState } from '../../leaks/index.js';
import type { Actor } from '../../store/records.js';
import { parseToken } from '../../token/index.js';
import { route } from '../route.js';

// Leak response on the server side. A token sent here to ask whether it is
// live is hashed at once and then forgotten: only its display hint and id are
// logged or audited, and the body is never logged (no request logging).

export const MAX_TOKENS_PER_STATUS = 1000;

const statusBody = z.strictObject({
  tokens: z.array(z.string().max(128, 'a token is at most 128 characters')).min(1).max(MAX_TOKENS_PER_STATUS),
});

const revokedBody = z.strictObject({
  findings: z.array(z.strictObject({
    id: z.string().regex(/^tok_[0-9a-f]{20}$/, 'must be a token id'),
    location: z.string().max(2048).describe('file:line:col where the scan found it'),
  })).min(1).max(MAX_TOKENS_PER_STATUS),
});

/** A leak report on the record. Built here because the store's change vocabulary is for changes. */
export function leakEvent(actor: Actor, action: 'leak.checked' | 'leak.reported', target: string, after: unknown, time: number): AuditEventInput {
  return { kind: 'admin', time, detail: { actor: actor.name, actorTokenId: actor.tokenId, action, target, before: null, after } };
}

export const leakRoutes = [
  route<z.infer<typeof statusBody>>({
    method: 'POST', path: '/v1/leaks/status', action: 'tokens.read', tag: 'leaks', status: 200, body: statusBody,
    summary: 'Which of these found tokens are live? Each is hashed on arrival; only its hint is kept',
    handle: async ({ body, principal }, context) => {
      const now = context.now();
      const items = [];
      for (const text of body.tokens) {
        if (parseToken(text) === undefined) {
          items.push({ hint: null, state: 'malformed' as const, live: false, id: null });
          continue;
        }
        const record = await context.store.findTokenByHash(context.hasher.hash(text));
        const state = leakState(record, now);
        items.push({
          hint: record?.hint ?? null,
          state,
          live: isLive(state),
          id: record === undefined ? null : record.id,
          ...(record !== undefined && { name: record.name, env: record.env, owner: record.owner, status: record.status }),
        });
      }
      const known = items.filter((item) => item.id !== null).map((item) => ({ id: item.id, hint: item.hint, state: item.state }));
      context.logger.info({ asked: items.length, known: known.length, live: items.filter((item) => item.live).length, hints: known.map((item) => item.hint) }, 'leak status asked');
      try {
        await context.store.appendAudit([leakEvent(principal.actor, 'leak.checked', '', { asked: items.length, known }, now)]);
      } catch {
        throw new LatchkeyError('audit_unavailable');
      }
      return { items };
    },
  }),
  route<z.infer<typeof revokedBody>>({
    method: 'POST', path: '/v1/leaks/revoked', action: 'tokens.revoke', tag: 'leaks', status: 200, body: revokedBody,
    summary: 'Record where a scan found tokens it has revoked, and alert',
    handle: async ({ body, principal }, context) => {
      const now = context.now();
      const recorded = [];
      for (const finding of body.findings) {
        const record = await context.store.getToken(finding.id);
        // Only a token that is revoked now is reported as a revoked leak; the scan revokes first.
        if (record === undefined || record.status !== 'revoked') continue;
        recorded.push({ id: record.id, hint: record.hint, location: finding.location });
        await context.store.appendAudit([leakEvent(principal.actor, 'leak.reported', record.id, { source: 'scan', location: finding.location, hint: record.hint, revoked: true }, now)]);
        context.logger.warn({ tokenId: record.id, hint: record.hint, location: finding.location, source: 'scan' }, 'leaked token revoked');
      }
      return { recorded };
    },
  }),
];
