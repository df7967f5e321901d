import { z } from 'zod';
import { invalid, LatchkeyError, notFound } from '../../errors/index.js';
import { ownListenerAt, ownSocketAt, parsePostgresUpstream, parseUpstream, resolveCredential } from '../../core/services/index.js';
import { HEADER_UNDERSCORES, type CredentialSource, type Service, type ServiceBinding } from '../../store/records.js';
import { PATH_MATCHINGS } from '../../policy/index.js';
import type { AdminContext } from '../context.js';
import { envName, serviceName } from '../input.js';
import { route } from '../route.js';
import { serviceView } from '../views.js';

const headerName = z.string().regex(/^[A-Za-z0-9-]{1,64}$/, 'must be an HTTP header name');
const envVariable = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'must be an environment variable name');

const credential = z.discriminatedUnion('from', [
  z.strictObject({ from: z.literal('none') }),
  z.strictObject({ from: z.literal('env'), variable: envVariable, header: headerName.optional(), scheme: z.string().max(32).optional() }),
  z.strictObject({ from: z.literal('file'), path: z.string().min(1).max(4096), header: headerName.optional(), scheme: z.string().max(32).optional() }),
]);

const binding = z.strictObject({
  upstream: z.string().min(1).max(2048),
  credential: credential.optional(),
});

const createBody = z.strictObject({
  name: serviceName,
  kind: z.enum(['http', 'postgres', 'mcp']),
  tokenHeader: headerName.optional(),
  maxBodyBytes: z.int().min(0).max(1024 * 1024 * 1024).optional(),
  /** How the upstream matches paths (issue 8): requests and permissions are folded alike before authorizing. */
  paths: z.enum(PATH_MATCHINGS).optional(),
  /** Client header names with `_` or other characters outside A-Z a-z 0-9 -: dropped by default, as nginx does. */
  headerUnderscores: z.enum(HEADER_UNDERSCORES).optional(),
  /** postgres only: functions allowed beyond the built-in side-effect-free list. */
  sqlFunctions: z.array(z.string().regex(/^[a-z_][a-z0-9_$]{0,62}(\.[a-z_][a-z0-9_$]{0,62})?$/, 'must be a function name: name or schema.name, lower case')).max(256).optional(),
  /** mcp only: tool name patterns (`*` any characters) hidden from every token. */
  hiddenTools: z.array(z.string().regex(/^[A-Za-z0-9_*.\/-]{1,128}$/, 'must be a tool name pattern: letters, digits, _ - . / and *')).max(256).optional(),
  bindings: z.array(binding.extend({ env: envName })).max(64).default([]),
});

type BindingInput = z.infer<typeof binding>;

/**
 * `http(s)://host[:port][/base]` or `unix:/path/to.sock[:/base]`, checked by the very parser the
 * gateway uses, so nothing is accepted here that the gateway would then skip.
 * Postgres services take `postgres://host:port`.
 */
export function checkUpstream(kind: Service['kind'], upstream: string, field: string): string {
  if (kind === 'postgres') {
    // The very parser the gateway's postgres connector uses: nothing is accepted here that the gateway would skip.
    try {
      parsePostgresUpstream(upstream);
    } catch (err) {
      throw invalid(field, `${(err as Error).message} (expected postgres://host:port/database?user=ROLE; the password is the binding's credential)`);
    }
    return upstream;
  }
  try {
    parseUpstream(upstream);
  } catch (err) {
    throw invalid(field, `${(err as Error).message} (expected http://host:port[/base], https://..., or unix:/path.sock[:/base])`);
  }
  return upstream.replace(/\/+$/, '');
}

function toCredential(input: BindingInput['credential']): CredentialSource {
  if (input === undefined || input.from === 'none') return { from: 'none' };
  const header = input.header ?? 'Authorization';
  const scheme = input.scheme ?? (header.toLowerCase() === 'authorization' ? 'Bearer' : '');
  return input.from === 'env'
    ? { from: 'env', variable: input.variable, header, scheme }
    : { from: 'file', path: input.path, header, scheme };
}

/**
 * The gateway reads the upstream secret from its own environment or disk, so
 * `services.write` on one environment must not be able to point it at another
 * environment's secrets or Latchkey's own (LATCHKEY_SECRET, the key files) and
 * ship them to an upstream of its choosing: only the operator's allow-list for
 * the binding's environment is accepted, checked by real path. The gateway
 * checks again when it loads the binding.
 */
async function checkCredentialSource(env: string, input: BindingInput['credential'], field: string, { credentials }: AdminContext): Promise<void> {
  if (input?.from === 'env') {
    const refused = credentials.checkVariable(env, input.variable);
    if (refused !== null) throw invalid(`${field}.credential.variable`, refused);
  }
  if (input?.from === 'file') {
    const verdict = await credentials.checkFile(env, input.path);
    if (!verdict.ok) throw invalid(`${field}.credential.path`, verdict.problem);
  }
}

/**
 * An upstream that is one of Latchkey's own listeners would let a data-plane
 * token reach the admin API or /metrics past the admin token's CIDR list. The
 * gateway refuses it again at every connect, as a name may resolve elsewhere later.
 */
async function checkNotSelf(kind: Service['kind'], upstream: string, field: string, { ownListeners }: AdminContext): Promise<void> {
  let listener: string | null;
  if (kind === 'postgres') {
    const url = new URL(upstream);
    listener = await ownListenerAt(url.hostname.replace(/^\[|\]$/g, ''), url.port === '' ? 5432 : Number(url.port), ownListeners);
  } else {
    const target = parseUpstream(upstream);
    listener = target.socketPath !== null ? await ownSocketAt(target.socketPath, ownListeners) : await ownListenerAt(target.hostname!, target.port, ownListeners);
  }
  if (listener !== null) throw invalid(field, `is Latchkey's own ${listener} listener and cannot be an upstream`);
}

async function toBinding(kind: Service['kind'], env: string, input: BindingInput, field: string, context: AdminContext): Promise<ServiceBinding> {
  if ((await context.store.getEnvironment(env)) === undefined) throw invalid(`${field}.env`, `environment ${env} does not exist`);
  await checkCredentialSource(env, input.credential, field, context);
  const upstream = checkUpstream(kind, input.upstream, `${field}.upstream`);
  await checkNotSelf(kind, upstream, `${field}.upstream`, context);
  return { env, upstream, credential: toCredential(input.credential) };
}

/**
 * The service as shown, each binding with whether this server can read its
 * credential now, so a missing variable or file is said where it is set up
 * and not only by 502s later. A gateway in another process reads its own
 * environment; this is what the admin API's process sees (in `serve`, the
 * gateway's own view).
 */
async function checkedView(service: Service, { credentials }: AdminContext) {
  const view = serviceView(service);
  const bindings = await Promise.all(service.bindings.map(async (binding, index) => {
    const resolved = await resolveCredential(binding.credential, binding.env, credentials);
    return { ...view.bindings[index]!, credentialReady: resolved.ok, credentialProblem: resolved.ok ? null : resolved.problem };
  }));
  return { ...view, bindings };
}

async function mustGet(name: string, { store }: AdminContext): Promise<Service> {
  const service = await store.getService(name);
  if (service === undefined) throw notFound(`service ${name}`);
  return service;
}

export const serviceRoutes = [
  route({
    method: 'GET', path: '/v1/services', action: 'services.read', tag: 'services', status: 200,
    summary: 'List services',
    handle: async (_input, { store }) => ({ items: (await store.listServices()).map(serviceView) }),
  }),
  route({
    method: 'GET', path: '/v1/services/{name}', action: 'services.read', tag: 'services', status: 200,
    summary: 'Show a service',
    handle: async ({ params }, context) => checkedView(await mustGet(params.name!, context), context),
  }),
  route<z.infer<typeof createBody>>({
    method: 'POST', path: '/v1/services', action: 'services.write', tag: 'services', status: 201,
    summary: 'Create a service with its upstream per environment', body: createBody,
    handle: async ({ body, principal }, context) => {
      if (body.sqlFunctions !== undefined && body.kind !== 'postgres') throw invalid('sqlFunctions', 'only a postgres service has a function allow-list');
      if (body.hiddenTools !== undefined && body.kind !== 'mcp') throw invalid('hiddenTools', 'only an mcp service has tools to hide');
      const seen = new Set<string>();
      const bindings: ServiceBinding[] = [];
      for (const [index, input] of body.bindings.entries()) {
        if (seen.has(input.env)) throw invalid(`bindings[${index}].env`, `environment ${input.env} is bound twice`);
        seen.add(input.env);
        bindings.push(await toBinding(body.kind, input.env, input, `bindings[${index}]`, context));
      }
      const now = context.now();
      const service: Service = {
        name: body.name,
        kind: body.kind,
        bindings,
        tokenHeader: body.tokenHeader ?? null,
        maxBodyBytes: body.maxBodyBytes ?? 10 * 1024 * 1024,
        paths: body.paths ?? 'exact',
        headerUnderscores: body.headerUnderscores ?? 'drop',
        sqlFunctions: body.sqlFunctions ?? [],
        hiddenTools: body.hiddenTools ?? [],
        createdAt: now,
        updatedAt: now,
      };
      await context.store.createService(service, principal.actor);
      return checkedView(service, context);
    },
  }),
  route<BindingInput & { env: string }>({
    method: 'POST', path: '/v1/services/{name}/bindings', action: 'services.write', tag: 'services', status: 201,
    summary: 'Bind a service in one more environment (409 if it is bound there: changing a binding is PUT)',
    body: binding.extend({ env: envName }),
    envOf: ({ body }) => body?.env,
    handle: async ({ params, body, principal }, context) => {
      const service = await mustGet(params.name!, context);
      const existing = service.bindings.find((b) => b.env === body.env);
      if (existing !== undefined) {
        throw new LatchkeyError('conflict', `service ${service.name} is already bound in ${body.env} (to ${existing.upstream}); ` +
          'change a binding with PUT /v1/services/{name}/bindings/{env} (latchkey service update)');
      }
      const next = await toBinding(service.kind, body.env, body, 'body', context);
      const updated: Service = { ...service, bindings: [...service.bindings, next], updatedAt: context.now() };
      await context.store.updateService(updated, principal.actor);
      return checkedView(updated, context);
    },
  }),
  route<BindingInput>({
    method: 'PUT', path: '/v1/services/{name}/bindings/{env}', action: 'services.write', tag: 'services', status: 200,
    summary: "Set a service's upstream for one environment", body: binding,
    envOf: ({ params }) => params.env,
    handle: async ({ params, body, principal }, context) => {
      const service = await mustGet(params.name!, context);
      const next = await toBinding(service.kind, params.env!, body, 'body', context);
      const updated: Service = {
        ...service,
        bindings: [...service.bindings.filter((b) => b.env !== next.env), next],
        updatedAt: context.now(),
      };
      await context.store.updateService(updated, principal.actor);
      return checkedView(updated, context);
    },
  }),
  route({
    method: 'DELETE', path: '/v1/services/{name}', action: 'services.write', tag: 'services', status: 204,
    summary: 'Remove a service',
    handle: async ({ params, principal }, { store }) => {
      await store.removeService(params.name!, principal.actor);
      return undefined;
    },
  }),
];
