import { z } from 'zod';
import { parseDuration, parseRate } from '../../config/index.js';
import { invalid, notFound } from '../../errors/index.js';
import { mintToken, parseCidr } from '../../lifecycle/index.js';
import type { TokenRecord, TokenStatus } from '../../store/records.js';
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
  status: z.enum(['active', 'disabled', 'revoked']).optional(),
  role: roleName.optional(),
  owner: z.string().max(128).optional(),
  parent: z.string().max(64).optional(),
  name: z.string().max(128).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().max(512).optional(),
});

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

async function mustGet(id: string, { store }: AdminContext): Promise<TokenRecord> {
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

export const tokenRoutes = [
  route<undefined, z.infer<typeof listQuery>>({
    method: 'GET', path: '/v1/tokens', action: 'tokens.read', tag: 'tokens', status: 200,
    summary: 'List tokens, filtered and paginated', query: listQuery,
    envOf: ({ query }) => query.env,
    handle: async ({ query }, { store }) => {
      const page = await store.listTokens({
        limit: query.limit,
        ...(query.env !== undefined && { env: query.env }),
        ...(query.status !== undefined && { status: query.status }),
        ...(query.role !== undefined && { role: query.role }),
        ...(query.owner !== undefined && { owner: query.owner }),
        ...(query.parent !== undefined && { parentId: query.parent }),
        ...(query.name !== undefined && { nameContains: query.name }),
        ...(query.cursor !== undefined && { cursor: query.cursor }),
      });
      return { items: page.items.map(tokenView), nextCursor: page.nextCursor };
    },
  }),
  route({
    method: 'GET', path: '/v1/tokens/{id}', action: 'tokens.read', tag: 'tokens', status: 200,
    summary: 'Show a token (never its secret)', envOf: tokenEnv,
    handle: async ({ params }, context) => tokenView(await mustGet(params.id!, context)),
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
  statusRoute('revoke', 'revoked', 'tokens.revoke', 'Revoke a token and every token derived from it'),
  statusRoute('disable', 'disabled', 'tokens.update', 'Disable a token until it is enabled again'),
  statusRoute('enable', 'active', 'tokens.update', 'Enable a disabled token'),
];
