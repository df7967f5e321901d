import { z } from 'zod';
import { notFound } from '../../errors/index.js';
import { loadServiceCatalog } from '../../lifecycle/index.js';
import { parsePermissions } from '../../policy/index.js';
import { nameText, permissionText, roleName } from '../input.js';
import { route } from '../route.js';
import { roleView } from '../views.js';

const createBody = z.strictObject({
  name: roleName,
  description: nameText.optional(),
  permissions: z.array(permissionText).min(1, 'a role needs at least one permission').max(500),
});

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
    handle: async ({ body, principal }, { store, now }) => {
      const permissions = parsePermissions(body.permissions, await loadServiceCatalog(store), 'permissions').map((p) => p.text);
      const at = now();
      const role = { name: body.name, description: body.description ?? '', permissions, createdAt: at, updatedAt: at };
      await store.createRole(role, principal.actor);
      return roleView(role);
    },
  }),
  route({
    method: 'DELETE', path: '/v1/roles/{name}', action: 'roles.write', tag: 'roles', status: 204,
    summary: 'Delete a role',
    handle: async ({ params, principal }, { store }) => {
      await store.deleteRole(params.name!, principal.actor);
      return undefined;
    },
  }),
];
