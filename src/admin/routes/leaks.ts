import { z } from 'zod';
import type { AuditEventInput } from '../../audit/event.js';
import { LatchkeyError } from '../../errors/index.js';
import { githubReport, githubTokenHash, isLive, KEY_ID_HEADER, GITHUB_SIGNATURE_HEADER, leakState, type GithubLabel, type GithubReport } from '../../leaks/index.js';
import { adminEvent } from '../../store/admin-event.js';
import type { Actor } from '../../store/records.js';
import { displayHint, parseToken } from '../../token/index.js';
import type { AdminContext } from '../context.js';
import { route } from '../route.js';
import { auditRead } from '../token-audit.js';

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
  return adminEvent(actor, { action, target, before: null, after }, time);
}

/** The actor GitHub's reports act as, in the audit log. */
export const GITHUB_ACTOR: Actor = { tokenId: null, name: 'github-secret-scanning' };

function verifyGithub(rawBody: Buffer, headers: Record<string, string | string[] | undefined>, context: AdminContext): Actor {
  if (context.githubKeys?.verify(rawBody, headers[KEY_ID_HEADER], headers[GITHUB_SIGNATURE_HEADER]) !== true) {
    context.logger.warn({ keyId: typeof headers[KEY_ID_HEADER] === 'string' ? headers[KEY_ID_HEADER].slice(0, 128) : null }, 'GitHub secret-scanning report refused: signature');
    throw new LatchkeyError('signature_invalid');
  }
  return GITHUB_ACTOR;
}

/**
 * Each reported token: a live one is revoked (with its descendants, audited as
 * token.revoke); every report is on the record as leak.reported with GitHub's
 * url, source and type; the answer labels each by the SHA-256 of the token.
 */
async function handleGithubReport(report: GithubReport, actor: Actor, context: AdminContext): Promise<GithubLabel[]> {
  const now = context.now();
  const labels: GithubLabel[] = [];
  const events: AuditEventInput[] = [];
  for (const entry of report) {
    const wellFormed = parseToken(entry.token) !== undefined;
    const record = wellFormed ? await context.store.findTokenByHash(context.hasher.hash(entry.token)) : undefined;
    const state = leakState(record, now);
    let revoked: readonly string[] = [];
    if (record !== undefined && isLive(state)) revoked = (await context.store.setTokenStatus(record.id, 'revoked', actor)).ids;
    const hint = wellFormed ? displayHint(entry.token) : null;
    const label = record === undefined ? 'false_positive' : 'true_positive';
    labels.push({ token_hash: githubTokenHash(entry.token), token_type: entry.type, label });
    events.push(leakEvent(actor, 'leak.reported', record?.id ?? '', {
      source: 'github', url: entry.url ?? null, githubSource: entry.source ?? null, type: entry.type, hint, state, label, revoked,
    }, now));
    if (record !== undefined && revoked.length > 0) {
      context.alerts?.raise('leak_revoked', { source: 'github', tokenId: record.id, hint, tokenName: record.name, env: record.env, owner: record.owner, revoked, url: entry.url ?? null, githubSource: entry.source ?? null });
    }
    if (record?.honey === true) context.alerts?.raise('honeytoken_used', { via: 'github', tokenId: record.id, tokenName: record.name, env: record.env, url: entry.url ?? null });
    if (record !== undefined) context.logger.warn({ tokenId: record.id, hint, state, revoked: revoked.length, url: entry.url ?? null }, revoked.length > 0 ? 'leaked token revoked (GitHub secret scanning)' : 'leaked token reported by GitHub');
  }
  try {
    if (events.length > 0) await context.store.appendAudit(events);
  } catch {
    throw new LatchkeyError('audit_unavailable');
  }
  context.logger.info({ reported: report.length, known: labels.filter((label) => label.label === 'true_positive').length }, 'GitHub secret-scanning report handled');
  return labels;
}

export const leakRoutes = [
  route({
    method: 'GET', path: '/v1/alerts', action: 'audit.read', tag: 'leaks', status: 200,
    summary: 'Recent alert deliveries to webhooks, newest first, with their status',
    handle: async (_input, context) => ({ items: context.alerts?.recent() ?? [] }),
  }),
  route<GithubReport>({
    method: 'POST', path: '/v1/leaks/github', action: 'tokens.revoke', tag: 'leaks', status: 200, body: githubReport,
    summary: "GitHub secret-scanning partner endpoint: revokes reported live tokens, answers GitHub's labels",
    ownAuthentication: { scheme: 'github-secret-scanning-signature', verify: verifyGithub },
    handle: async ({ body, actor }, context) => handleGithubReport(body, actor, context),
  }),
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
        // A decoy found by a scan: someone put it where scans look, or it travelled there.
        if (record?.honey === true) context.alerts?.raise('honeytoken_used', { via: 'scan', tokenId: record.id, tokenName: record.name, env: record.env, by: principal.actor.name, client: principal.client });
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
      await auditRead(context.store, principal.actor, { action: 'leak.checked', target: '', before: null, after: { asked: items.length, known } }, now);
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
        context.alerts?.raise('leak_revoked', { source: 'scan', tokenId: record.id, hint: record.hint, tokenName: record.name, env: record.env, owner: record.owner, location: finding.location, by: principal.actor.name });
      }
      return { recorded };
    },
  }),
];
