import { z } from 'zod';
import { parseDuration } from '../../config/index.js';
import { invalid, notFound } from '../../errors/index.js';
import { envName } from '../input.js';
import { route } from '../route.js';
import { environmentView } from '../views.js';

export const DEFAULT_MAX_TTL_MS = { prod: 90 * 86_400_000, other: 365 * 86_400_000 } as const;

export function defaultMaxTtl(env: string): number {
  return env === 'prod' ? DEFAULT_MAX_TTL_MS.prod : DEFAULT_MAX_TTL_MS.other;
}

const createBody = z.strictObject({
  name: envName,
  maxTtl: z.string().optional().describe('longest token lifetime, e.g. 90d; default 90d for prod, 365d elsewhere'),
});

export const environmentRoutes = [
  route({
    method: 'GET', path: '/v1/environments', action: 'environments.read', tag: 'environments', status: 200,
    summary: 'List environments',
    handle: async (_input, { store }) => ({ items: (await store.listEnvironments()).map(environmentView) }),
  }),
  route({
    method: 'GET', path: '/v1/environments/{name}', action: 'environments.read', tag: 'environments', status: 200,
    summary: 'Show an environment',
    handle: async ({ params }, { store }) => {
      const env = await store.getEnvironment(params.name!);
      if (env === undefined) throw notFound(`environment ${params.name}`);
      return environmentView(env);
    },
  }),
  route<z.infer<typeof createBody>>({
    method: 'POST', path: '/v1/environments', action: 'environments.write', tag: 'environments', status: 201,
    summary: 'Create an environment', body: createBody,
    handle: async ({ body, principal }, { store, now }) => {
      let maxTtlMs = defaultMaxTtl(body.name);
      if (body.maxTtl !== undefined) {
        const parsed = parseDuration(body.maxTtl);
        if (parsed === undefined) throw invalid('maxTtl', 'expected a duration such as 30d or 12h');
        maxTtlMs = parsed;
      }
      const env = { name: body.name, maxTtlMs, createdAt: now() };
      await store.createEnvironment(env, principal.actor);
      return environmentView(env);
    },
  }),
];
