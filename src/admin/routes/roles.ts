import { z } from 'zod';
import { LatchkeyError, notFound } from '../../errors/index.js';
import { loadServiceCatalog } from '../../lifecycle/index.js';
import { isWithin, parsePermissions } from '../../policy/index.js';
import type { Permission } from '../../policy/types.js';
import type { Role } from '../../store/records.js';
import type { AdminContext } from '../context.js';
import type { Principal } from '../principal.js';
import { nameText, permissionText, roleName } from '../input.js';
import { route } from '../route.js';
import { roleView } from '../views.js';

// Roles are resolved when a token is used, so a role must never grow behind
// the tokens that hold it: its admin permissions are capped at the writer's
// own, a held role may only narrow, and a held role cannot be deleted (and so
// cannot be re-created wider under the same name). See src/store/role-rules.ts.

const permissions = z.array(permissionText).min(1, 'a role needs at least one permission').max(500);
const createBody = z.strictObject({ name: roleName, description: nameText.optional(), permissions });
const updateBody = z.strictObject({ description: nameText.optional(), permissions });

async function parseRolePermissions(texts: readonly string[], principal: Principal, { store }: AdminContext): Promise<Permission[]> {
  const parsed = parsePermissions(texts, await loadServiceCatalog(store), 'permissions');
  if (!isWithin(parsed.filter((p) => p.kind === 'latchkey'), principal.grant.permissions)) {
    throw new LatchkeyError('permission_denied', 'a role cannot be given admin permissions its writer does not hold');
  }
  return parsed;
}

async function parsedOrNull(texts: readonly string[], { store }: AdminContext): Promise<Permission[] | null> {
  try {
    return parsePermissions(texts, await loadServiceCatalog(store), 'permissions');
  } catch {
    return null;
  }
}

export const roleRoutes = [
  route({
    method: 'GET', path: '/v1/roles', action: 'roles.read', tag: 'roles', status: 200,
    summary: 'List roles',
    handle: async (_input, { store }) => ({ items: (await store.listRoles()).map(roleView) }),
  }),
  route({
    method: 'GET', path: '/v1/roles/{name}', action: 'roles.read', tag: 'roles', status: 200,
    summary: 'Show a role',
    handle: async ({ params }, { store }) => {
      const role = await store.getRole(params.name!);
      if (role === undefined) throw notFound(`role ${params.name}`);
      return roleView(role);
    },
  }),
  route<z.infer<typeof createBody>>({
    method: 'POST', path: '/v1/roles', action: 'roles.write', tag: 'roles', status: 201,
    summary: 'Create a role', body: createBody,
    handle: async ({ body, principal }, context) => {
      const parsed = await parseRolePermissions(body.permissions, principal, context);
      const at = context.now();
      const role = { name: body.name, description: body.description ?? '', permissions: parsed.map((p) => p.text), createdAt: at, updatedAt: at };
      await context.store.createRole(role, principal.actor);
      return roleView(role);
    },
  }),
  route<z.infer<typeof updateBody>>({
    method: 'PUT', path: '/v1/roles/{name}', action: 'roles.write', tag: 'roles', status: 200,
    summary: 'Change a role; while live tokens hold it, only a change that narrows it', body: updateBody,
    handle: async ({ params, body, principal }, context) => {
      const before = await context.store.getRole(params.name!);
      if (before === undefined) throw notFound(`role ${params.name}`);
      const parsed = await parseRolePermissions(body.permissions, principal, context);
      const old = await parsedOrNull(before.permissions, context);
      const role: Role = {
        name: before.name,
        description: body.description ?? before.description,
        permissions: parsed.map((p) => p.text),
        createdAt: before.createdAt,
        updatedAt: context.now(),
      };
      // A stored role that no longer parses (a service was removed) cannot be shown to be narrowed.
      const widens = old === null || !isWithin(parsed, old);
      await context.store.updateRole(role, principal.actor, { expected: before.permissions, widens });
      return roleView(role);
    },
  }),
  route({
    method: 'DELETE', path: '/v1/roles/{name}', action: 'roles.write', tag: 'roles', status: 204,
    summary: 'Delete a role no live token holds',
    handle: async ({ params, principal }, { store }) => {
      await store.deleteRole(params.name!, principal.actor);
      return undefined;
    },
  }),
];
