import { z } from 'zod';
import { formatDuration, parseDuration, parseRate } from '../../config/index.js';
import { invalid, LatchkeyError, notFound } from '../../errors/index.js';
import { isWithin, parsePermissions } from '../../policy/index.js';
import { deriveToken, descendantsOf, effectivePermissions, loadServiceCatalog, mintToken, parseCidr, rotateToken } from '../../lifecycle/index.js';
import { planNarrow } from '../../reports/index.js';
import type { TokenRecord, TokenStatus } from '../../store/records.js';
import type { TokenConstraints } from '../../store/token-lifecycle.js';
import type { AdminContext } from '../context.js';
import { envName, metadataRecord, nameText, permissionText, roleName } from '../input.js';
import { route } from '../route.js';
import { tokenView } from '../views.js';

const time = z.union([z.iso.datetime({ offset: true }), z.int().min(0)]).describe('ISO 8601 time or milliseconds since the epoch');

const createBody = z.strictObject({
  name: nameText,
  env: envName,
  owner: nameText.optional(),
  roles: z.array(roleName).max(50).default([]),
  permissions: z.array(permissionText).max(500).default([]),
  ttl: z.string().optional().describe('lifetime such as 30m, 12h, 7d; or give expiresAt'),
  expiresAt: time.optional(),
  notBefore: time.optional(),
  cidrs: z.array(z.string().max(64)).max(100).default([]),
  rate: z.string().optional().describe('such as 100/min'),
  maxUses: z.int().min(1).max(Number.MAX_SAFE_INTEGER).optional(),
  honey: z.boolean().default(false),
  metadata: metadataRecord.optional(),
});

const listQuery = z.strictObject({
  env: envName.optional(),
  /** `expired`: active but past its expiry; `active` then means active and not expired. */
  status: z.enum(['active', 'expired', 'disabled', 'revoked']).optional(),
  role: roleName.optional(),
  owner: z.string().max(128).optional(),
  parent: z.string().max(64).optional(),
  name: z.string().max(128).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().max(512).optional(),
});

const deriveBody = z.strictObject({
  name: nameText,
  permissions: z.array(permissionText).min(1).max(500),
  ttl: z.string().optional().describe('lifetime such as 30m; default and ceiling: the parent\'s expiry'),
  expiresAt: time.optional(),
  notBefore: time.optional(),
  cidrs: z.array(z.string().max(64)).max(100).optional(),
  rate: z.string().optional(),
  maxUses: z.int().min(1).max(Number.MAX_SAFE_INTEGER).optional(),
  env: envName.optional(),
  metadata: metadataRecord.optional(),
});

const rotateBody = z.strictObject({ grace: z.string().default('0').describe('how long the old token keeps working: 0, 1h, 7d') });

const narrowBody = z.strictObject({
  to: z.union([z.literal('suggested'), z.array(permissionText).min(1).max(500)]),
  days: z.int().min(1).max(3650).default(30),
  dryRun: z.boolean().default(false),
});

const updateBody = z.strictObject({
  ttl: z.string().optional().describe('new lifetime from now, such as 7d; or give expiresAt'),
  expiresAt: time.optional(),
  cidrs: z.array(z.string().max(64)).max(100).optional().describe('the whole new list; [] for any address'),
  rate: z.string().nullable().optional().describe('such as 100/min; null for none'),
  maxUses: z.int().min(1).max(Number.MAX_SAFE_INTEGER).nullable().optional().describe('null for no cap'),
});

/**
 * A token's constraints, changed in place (issue 17): the expiry within its
 * environment's maxTtl from now and never past an ancestor's; a derived
 * token's CIDRs, rate and uses stay as derived (they were checked against its
 * parent then). The grant itself is not changed here: that is `narrow`.
 */
async function updatedConstraints(token: TokenRecord, body: z.infer<typeof updateBody>, context: AdminContext): Promise<TokenConstraints> {
  const now = context.now();
  const expiresAt = optionalExpiry(body, now) ?? token.expiresAt;
  if (expiresAt !== token.expiresAt) {
    if (expiresAt <= now) throw invalid(body.ttl !== undefined ? 'ttl' : 'expiresAt', 'must be in the future');
    const env = (await context.store.getEnvironment(token.env))!;
    if (expiresAt > now + env.maxTtlMs) throw invalid(body.ttl !== undefined ? 'ttl' : 'expiresAt', `environment ${token.env} allows tokens of at most ${formatDuration(env.maxTtlMs)}`);
    for (let parentId = token.parentId; parentId !== null;) {
      const ancestor = await context.store.getToken(parentId);
      if (ancestor === undefined) break;
      if (expiresAt > ancestor.expiresAt) throw invalid('expiresAt', `a derived token cannot outlive ${ancestor.id}, which expires ${new Date(ancestor.expiresAt).toISOString()}`);
      parentId = ancestor.parentId;
    }
  }
  const derived = token.parentId !== null;
  for (const field of ['cidrs', 'rate', 'maxUses'] as const) {
    if (derived && body[field] !== undefined) throw invalid(field, `a derived token's ${field} is set when it is derived (within its parent); derive a new one instead`);
  }
  const cidrs = body.cidrs?.map((text, index) => {
    if (parseCidr(text) === undefined) throw invalid(`cidrs[${index}]`, `${JSON.stringify(text)} is not an IP address or CIDR`);
    return text;
  }) ?? token.cidrs;
  let rate = token.rate;
  if (body.rate === null) rate = null;
  else if (body.rate !== undefined) {
    rate = parseRate(body.rate) ?? null;
    if (rate === null) throw invalid('rate', 'expected COUNT/PERIOD such as 100/min, 10/s, 5000/h');
  }
  const maxUses = body.maxUses === undefined ? token.maxUses : body.maxUses;
  return { expiresAt, cidrs, rate, maxUses };
}

function toMs(value: string | number): number {
  return typeof value === 'number' ? value : Date.parse(value);
}

function expiryOf(body: z.infer<typeof createBody>, now: number): number {
  if (body.ttl !== undefined && body.expiresAt !== undefined) throw invalid('ttl', 'give ttl or expiresAt, not both');
  if (body.ttl !== undefined) {
    const ms = parseDuration(body.ttl);
    if (ms === undefined) throw invalid('ttl', 'expected a duration such as 30m, 12h or 7d');
    return now + ms;
  }
  if (body.expiresAt !== undefined) return toMs(body.expiresAt);
  throw invalid('ttl', 'every token needs an expiry: give ttl or expiresAt');
}

/** Token ids only: what is not one (a token's plaintext pasted by mistake, say) is never echoed back. */
const TOKEN_ID = /^tok_[0-9a-f]{1,64}$/;

async function mustGet(id: string, { store }: AdminContext): Promise<TokenRecord> {
  if (!TOKEN_ID.test(id)) throw notFound('token: that is not a token id (tok_...)');
  const token = await store.getToken(id);
  if (token === undefined) throw notFound(`token ${id}`);
  return token;
}

const tokenEnv = async ({ params }: { params: Readonly<Record<string, string>> }, context: AdminContext) =>
  (await mustGet(params.id!, context)).env;

function statusRoute(verb: 'revoke' | 'disable' | 'enable', status: TokenStatus, action: 'tokens.revoke' | 'tokens.update', summary: string) {
  return route({
    method: 'POST', path: `/v1/tokens/{id}/${verb}`, action, tag: 'tokens', status: 200, summary,
    envOf: tokenEnv,
    handle: async ({ params, principal }, context) => {
      const change = await context.store.setTokenStatus(params.id!, status, principal.actor);
      return { id: params.id, status, changed: change.ids };
    },
  });
}

function optionalExpiry(body: { ttl?: string | undefined; expiresAt?: string | number | undefined }, now: number): number | undefined {
  if (body.ttl === undefined && body.expiresAt === undefined) return undefined;
  return expiryOf({ ...body } as z.infer<typeof createBody>, now);
}

export const tokenRoutes = [
  route<undefined, z.infer<typeof listQuery>>({
    method: 'GET', path: '/v1/tokens', action: 'tokens.read', tag: 'tokens', status: 200,
    summary: 'List tokens, filtered and paginated', query: listQuery,
    envOf: ({ query }) => query.env,
    handle: async ({ query }, { store, now }) => {
      // A mistyped environment is said, not answered with an empty list.
      if (query.env !== undefined && (await store.getEnvironment(query.env)) === undefined) throw notFound(`environment ${query.env}`);
      const at = now();
      const stored = query.status === 'expired' ? 'active' : query.status;
      const page = await store.listTokens({
        limit: query.limit,
        ...(query.env !== undefined && { env: query.env }),
        ...(stored !== undefined && { status: stored }),
        ...(query.role !== undefined && { role: query.role }),
        ...(query.owner !== undefined && { owner: query.owner }),
        ...(query.parent !== undefined && { parentId: query.parent }),
        ...(query.name !== undefined && { nameContains: query.name }),
        ...(query.cursor !== undefined && { cursor: query.cursor }),
      });
      // Expiry is a time, not a stored status: a page may hold fewer items than the limit when filtered on it.
      const expired = (token: TokenRecord) => token.status === 'active' && token.expiresAt <= at;
      const items = query.status === 'expired' ? page.items.filter(expired) : query.status === 'active' ? page.items.filter((t) => !expired(t)) : page.items;
      return { items: items.map((token) => tokenView(token, at)), nextCursor: page.nextCursor };
    },
  }),
  route({
    method: 'GET', path: '/v1/tokens/{id}', action: 'tokens.read', tag: 'tokens', status: 200,
    summary: 'Show a token (never its secret), its rotation links and the tree of tokens derived from it', envOf: tokenEnv,
    handle: async ({ params }, context) => {
      const token = await mustGet(params.id!, context);
      // What it can do (its roles expanded) and what it has done (usage per permission), as `token show` prints them.
      const roles = await Promise.all(token.roles.map((name) => context.store.getRole(name)));
      const effectivePermissions = [...new Set([...token.permissions, ...roles.flatMap((role) => role?.permissions ?? [])])];
      const usage = (await context.store.listUsage(token.id)).map((u) => ({ permission: u.permission, count: u.count, lastUsed: new Date(u.lastUsed).toISOString() }));
      const lastUsed = usage.reduce<string | null>((latest, u) => (latest === null || u.lastUsed > latest ? u.lastUsed : latest), null);
      return { ...tokenView(token, context.now()), effectivePermissions, lastUsed, usage, links: await context.store.tokenLinks(token.id), tree: await descendantsOf(context.store, token) };
    },
  }),
  route<z.infer<typeof deriveBody>>({
    method: 'POST', path: '/v1/tokens/derive', action: 'tokens.derive', tag: 'tokens', status: 201,
    summary: 'Mint a child of the calling token, within it in every dimension; the response carries its plaintext, this once',
    body: deriveBody,
    handle: async ({ body, principal }, context) => {
      const now = context.now();
      const rate = body.rate === undefined ? undefined : parseRate(body.rate);
      if (rate === undefined && body.rate !== undefined) throw invalid('rate', 'expected COUNT/PERIOD such as 100/min, 10/s, 5000/h');
      const expiresAt = optionalExpiry(body, now);
      const { record, token } = await deriveToken(context.store, context.hasher, principal.record, {
        permissions: body.permissions,
        ...(body.env !== undefined && { env: body.env }),
        ...(expiresAt !== undefined && { expiresAt }),
        ...(body.notBefore !== undefined && { notBefore: toMs(body.notBefore) }),
        ...(body.cidrs !== undefined && { cidrs: body.cidrs }),
        ...(rate !== undefined && { rate }),
        ...(body.maxUses !== undefined && { maxUses: body.maxUses }),
      }, { name: body.name, ...(body.metadata !== undefined && { metadata: body.metadata }), ...(context.lifecycle !== undefined && { maxDepth: context.lifecycle.maxDepth }) }, now);
      return { ...tokenView(record), token };
    },
  }),
  route<z.infer<typeof rotateBody>>({
    method: 'POST', path: '/v1/tokens/{id}/rotate', action: 'tokens.rotate', tag: 'tokens', status: 201,
    summary: 'Issue a successor with the same grant; the old token works until the grace period ends. The response carries the new plaintext, this once',
    body: rotateBody, envOf: tokenEnv,
    handle: async ({ params, body, principal }, context) => {
      const graceMs = body.grace === '0' ? 0 : parseDuration(body.grace);
      if (graceMs === undefined) throw invalid('grace', 'expected a duration such as 0, 30m, 1h or 7d');
      const rotated = await rotateToken(context.store, context.hasher, params.id!, graceMs, principal.actor, context.now(),
        { permissions: principal.grant.permissions, env: principal.record.env });
      // The old token stops at the grace end or its own expiry, whichever comes first.
      return { ...tokenView(rotated.record), token: rotated.token, predecessor: rotated.predecessor, graceUntil: new Date(rotated.graceUntil).toISOString(), predecessorUntil: new Date(rotated.predecessorUntil).toISOString(), revoked: rotated.revoked };
    },
  }),
  route<z.infer<typeof narrowBody>>({
    method: 'POST', path: '/v1/tokens/{id}/narrow', action: 'tokens.update', tag: 'tokens', status: 200,
    summary: "Replace a token's grant by a narrower one, after replaying its audited requests of the window against it (dryRun: only replay)",
    body: narrowBody, envOf: tokenEnv,
    handle: async ({ params, body, principal }, context) => {
      const now = context.now();
      const token = await mustGet(params.id!, context);
      const plan = await planNarrow(context.store, token, body.to, { days: body.days, now });
      if (plan.proposed.length === 0) throw invalid('to', 'the token was not used in the window, so nothing can be suggested; give the permissions to keep');
      const live = await context.store.listTokens({ parentId: token.id, limit: 1, status: 'active' });
      if (!body.dryRun && live.items.length > 0) {
        throw new LatchkeyError('conflict', `token ${token.id} has derived tokens (${live.items[0]!.id}); narrow or revoke them first, so no child stays wider than its parent`);
      }
      // A narrowing may only narrow: the proposed grant must be within what the token holds now.
      const catalog = await loadServiceCatalog(context.store);
      const proposed = parsePermissions(plan.proposed, catalog, 'to');
      if (!isWithin(proposed, await effectivePermissions(context.store, token, catalog))) throw invalid('to', 'the proposed grant is not within the token\'s current grant');
      const result = { ...plan, dryRun: body.dryRun, applied: false };
      if (body.dryRun) return result;
      await context.store.updateTokenGrant(token.id, { roles: [], permissions: plan.proposed }, principal.actor);
      return { ...result, applied: true };
    },
  }),
  route<z.infer<typeof createBody>>({
    method: 'POST', path: '/v1/tokens', action: 'tokens.create', tag: 'tokens', status: 201,
    summary: 'Create a token; the response carries its plaintext, this once', body: createBody,
    envOf: ({ body }) => body.env,
    handle: async ({ body, principal }, context) => {
      const now = context.now();
      const cidrs = body.cidrs.map((text, index) => {
        const cidr = parseCidr(text);
        if (cidr === undefined) throw invalid(`cidrs[${index}]`, `${JSON.stringify(text)} is not an IP address or CIDR`);
        return cidr;
      });
      const rate = body.rate === undefined ? null : parseRate(body.rate);
      if (rate === undefined) throw invalid('rate', 'expected COUNT/PERIOD such as 100/min, 10/s, 5000/h');
      if (body.roles.length === 0 && body.permissions.length === 0 && !body.honey) {
        throw invalid('permissions', 'a token needs at least one role or permission');
      }
      const { record, token } = await mintToken(context.store, context.hasher, {
        name: body.name,
        env: body.env,
        owner: body.owner ?? principal.actor.name,
        roles: body.roles,
        permissions: body.permissions,
        expiresAt: expiryOf(body, now),
        notBefore: body.notBefore === undefined ? null : toMs(body.notBefore),
        cidrs,
        rate,
        maxUses: body.maxUses ?? null,
        honey: body.honey,
        metadata: body.metadata ?? {},
        parentId: null,
      }, principal.actor, now, { permissions: principal.grant.permissions, env: principal.record.env });
      return { ...tokenView(record), token };
    },
  }),
  route<z.infer<typeof updateBody>>({
    method: 'POST', path: '/v1/tokens/{id}/update', action: 'tokens.update', tag: 'tokens', status: 200,
    summary: "Change a token's expiry (within policy), CIDRs, rate or use cap without re-issuing it; audited before and after",
    body: updateBody, envOf: tokenEnv,
    handle: async ({ params, body, principal }, context) => {
      const before = await mustGet(params.id!, context);
      const updated = await context.store.updateTokenConstraints(before.id, await updatedConstraints(before, body, context), principal.actor);
      return { before: tokenView(before, context.now()), after: tokenView(updated, context.now()) };
    },
  }),
  statusRoute('revoke', 'revoked', 'tokens.revoke', 'Revoke a token and every token derived from it'),
  statusRoute('disable', 'disabled', 'tokens.update', 'Disable a token until it is enabled again'),
  statusRoute('enable', 'active', 'tokens.update', 'Enable a disabled token'),
];
