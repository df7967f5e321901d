import { defaultMaxTtl } from '../admin/index.js';
import { checkUpstream } from '../admin/routes/services.js';
import { formatDuration, parseDuration } from '../config/index.js';
import { ADMIN_SERVICE, isWithin, parsePermission, type Permission, type PolicyServiceKind, type ServiceCatalog } from '../policy/index.js';
import type { CredentialSource, PathMatching } from '../store/records.js';
import type { CurrentBinding, CurrentService, CurrentState, Holder } from './current.js';
import type { CredentialEntry, ServiceEntry } from './file-format.js';
import { FileError, type FilePath, type LoadedFile } from './read-file.js';

// The plan: what apply would change, field by field (before → after), and
// what the server will refuse and why, worked out before anything is sent.
// Only what the file names is changed; what it does not name is left alone
// unless --prune asks for it to be deleted. Every change is one admin API
// request, so each is authorized and audited like the same change by hand.

export type ChangeOp = 'create' | 'update' | 'delete';
export type ChangeKind = 'environment' | 'service' | 'binding' | 'role';

export interface FieldChange {
  readonly field: string;
  readonly before: string | null;
  readonly after: string | null;
}

export interface ApiRequest {
  readonly method: 'POST' | 'PUT' | 'DELETE';
  readonly path: string;
  readonly body?: unknown;
}

export interface Change {
  readonly op: ChangeOp;
  readonly kind: ChangeKind;
  /** `orders`, or `orders/dev` for a binding. */
  readonly name: string;
  /** Where it is in the file; null for a deletion of something the file does not name. */
  readonly at: FilePath | null;
  readonly fields: readonly FieldChange[];
  /** Why the server will refuse this change (or cannot make it); the plan is then not applied at all. */
  readonly refusal: string | null;
  /** The request that makes the change; null when the admin API has none. */
  readonly request: ApiRequest | null;
  /** Roles: the live tokens that hold it (null when the admin token may not list tokens). */
  readonly holders?: readonly Holder[] | null;
  readonly added?: readonly string[];
  readonly removed?: readonly string[];
}

export interface Plan {
  readonly changes: readonly Change[];
  /** What the file does not name and apply leaves alone (deleted only with --prune, where the API can). */
  readonly unmanaged: readonly string[];
}

export interface PlanOptions {
  readonly prune: boolean;
  /** The live tokens holding a role, or null when they cannot be listed. */
  readonly holdersOf: (role: string) => Promise<readonly Holder[] | null>;
}

const DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024;

export function credentialOf(entry: CredentialEntry | undefined): CredentialSource {
  if (entry === undefined) return { from: 'none' };
  const header = entry.header ?? 'Authorization';
  const scheme = entry.scheme ?? (header.toLowerCase() === 'authorization' ? 'Bearer' : '');
  return entry.env !== undefined ? { from: 'env', variable: entry.env, header, scheme } : { from: 'file', path: entry.file!, header, scheme };
}

function credentialText(source: CredentialSource): string {
  if (source.from === 'none') return 'none';
  const where = source.from === 'env' ? `env ${source.variable}` : `file ${source.path}`;
  return `${where} (${source.header}: ${source.scheme === '' ? '' : `${source.scheme} `}<secret>)`;
}

/** The service the file describes, with the server's defaults filled in, in the server's shape. */
function desiredService(name: string, entry: ServiceEntry, loaded: LoadedFile): CurrentService {
  const bindings = Object.entries(entry.bindings).map(([env, binding]): CurrentBinding => {
    let upstream: string;
    try {
      upstream = checkUpstream(entry.kind, binding.upstream, 'upstream');
    } catch (err) {
      throw new FileError(loaded.source, loaded.positionOf(['services', name, 'bindings', env, 'upstream']), `services.${name}.bindings.${env}.${(err as Error).message}`);
    }
    return { env, upstream, credential: credentialOf(binding.credential) };
  });
  return {
    name,
    kind: entry.kind,
    paths: entry.paths ?? 'exact',
    headerUnderscores: entry.headerUnderscores ?? 'drop',
    tokenHeader: entry.tokenHeader ?? null,
    maxBodyBytes: entry.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    sqlFunctions: entry.sqlFunctions ?? [],
    hiddenTools: entry.hiddenTools ?? [],
    bindings,
  };
}

const SETTINGS = ['kind', 'paths', 'headerUnderscores', 'tokenHeader', 'maxBodyBytes', 'sqlFunctions', 'hiddenTools'] as const;

function shown(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  return Array.isArray(value) ? (value.length === 0 ? '(none)' : value.join(', ')) : String(value);
}

function diff(fields: readonly string[], before: Record<string, unknown> | null, after: Record<string, unknown>): FieldChange[] {
  return fields.flatMap((field) => {
    const was = before === null ? null : shown(before[field]);
    const will = shown(after[field]);
    return was === will ? [] : [{ field, before: was, after: will }];
  });
}

function bindingFields(binding: CurrentBinding) {
  return { upstream: binding.upstream, credential: credentialText(binding.credential) };
}

function serviceBody(service: CurrentService) {
  return {
    name: service.name,
    kind: service.kind,
    paths: service.paths,
    headerUnderscores: service.headerUnderscores,
    maxBodyBytes: service.maxBodyBytes,
    ...(service.tokenHeader !== null && { tokenHeader: service.tokenHeader }),
    ...(service.kind === 'postgres' && { sqlFunctions: service.sqlFunctions }),
    ...(service.kind === 'mcp' && { hiddenTools: service.hiddenTools }),
    bindings: service.bindings.map(bindingBody),
  };
}

function bindingBody(binding: CurrentBinding) {
  return { env: binding.env, upstream: binding.upstream, credential: binding.credential };
}

/** The services a permission may name once the file is applied: the server's, with the file's over them. */
function catalogOf(current: readonly CurrentService[], desired: readonly CurrentService[]): ServiceCatalog {
  const kinds = new Map<string, PolicyServiceKind>();
  const paths = new Map<string, PathMatching>();
  for (const service of [...current, ...desired]) {
    kinds.set(service.name, service.kind);
    paths.set(service.name, service.paths);
  }
  kinds.set(ADMIN_SERVICE, 'latchkey');
  return { kindOf: (name) => kinds.get(name), pathMatchingOf: (name) => paths.get(name) };
}

function parsedOrNull(texts: readonly string[], catalog: ServiceCatalog): Permission[] | null {
  try {
    return texts.map((text) => parsePermission(text, catalog));
  } catch {
    return null;
  }
}

const encode = encodeURIComponent;

function environmentChanges(loaded: LoadedFile, current: CurrentState): Change[] {
  const changes: Change[] = [];
  for (const [name, entry] of Object.entries(loaded.desired.environments)) {
    const maxTtlMs = entry?.maxTtl === undefined ? defaultMaxTtl(name) : parseDuration(entry.maxTtl)!;
    const existing = current.environments.find((env) => env.name === name);
    const fields = diff(['maxTtl'], existing === undefined ? null : { maxTtl: formatDuration(existing.maxTtlMs) }, { maxTtl: formatDuration(maxTtlMs) });
    const at = ['environments', name];
    if (existing === undefined) {
      changes.push({ op: 'create', kind: 'environment', name, at, fields, refusal: null, request: { method: 'POST', path: '/v1/environments', body: { name, maxTtl: formatDuration(maxTtlMs) } } });
    } else if (fields.length > 0) {
      changes.push({ op: 'update', kind: 'environment', name, at, fields, request: null,
        refusal: "the admin API cannot change an existing environment's maxTtl; leave it as it is in the file (latchkey export shows it)" });
    }
  }
  return changes;
}

function serviceChanges(desired: readonly CurrentService[], current: CurrentState, knownEnvs: ReadonlySet<string>, loaded: LoadedFile): Change[] {
  const creates: Change[] = [];
  const updates: Change[] = [];
  for (const service of desired) {
    for (const binding of service.bindings) {
      if (!knownEnvs.has(binding.env)) {
        throw new FileError(loaded.source, loaded.positionOf(['services', service.name, 'bindings', binding.env], true),
          `services.${service.name}.bindings.${binding.env}: environment ${binding.env} does not exist; add it under environments:`);
      }
    }
    const at = ['services', service.name];
    const existing = current.services.find((s) => s.name === service.name);
    if (existing === undefined) {
      const fields = [...diff(SETTINGS, null, service as unknown as Record<string, unknown>).filter((f) => f.after !== '(none)'),
        ...service.bindings.flatMap((b) => diff(['upstream', 'credential'], null, bindingFields(b)).map((f) => ({ ...f, field: `bindings.${b.env}.${f.field}` })))];
      creates.push({ op: 'create', kind: 'service', name: service.name, at, fields, refusal: null, request: { method: 'POST', path: '/v1/services', body: serviceBody(service) } });
      continue;
    }
    const settings = diff(SETTINGS, existing as unknown as Record<string, unknown>, service as unknown as Record<string, unknown>);
    if (settings.length > 0) {
      updates.push({ op: 'update', kind: 'service', name: service.name, at, fields: settings, request: null,
        refusal: `the admin API cannot change a service's ${settings.map((f) => f.field).join(', ')} in place; ` +
          `remove it (latchkey service remove ${service.name}) and apply again to re-create it` });
    }
    for (const binding of service.bindings) {
      const before = existing.bindings.find((b) => b.env === binding.env);
      const fields = diff(['upstream', 'credential'], before === undefined ? null : bindingFields(before), bindingFields(binding));
      if (before !== undefined && fields.length === 0) continue;
      const path = `/v1/services/${encode(service.name)}/bindings`;
      updates.push({
        op: before === undefined ? 'create' : 'update', kind: 'binding', name: `${service.name}/${binding.env}`,
        at: ['services', service.name, 'bindings', binding.env], fields, refusal: null,
        request: before === undefined
          ? { method: 'POST', path, body: bindingBody(binding) }
          : { method: 'PUT', path: `${path}/${encode(binding.env)}`, body: { upstream: binding.upstream, credential: binding.credential } },
      });
    }
  }
  return [...creates, ...updates];
}

async function roleChanges(loaded: LoadedFile, current: CurrentState, catalog: ServiceCatalog, options: PlanOptions): Promise<Change[]> {
  const changes: Change[] = [];
  for (const [name, entry] of Object.entries(loaded.desired.roles)) {
    const at = ['roles', name];
    // Parsed here as the server will, so a bad permission is named by its line before anything changes.
    const parsed = entry.permissions.map((text, index) => {
      try {
        return parsePermission(text, catalog, `roles.${name}.permissions[${index}]`);
      } catch (err) {
        throw new FileError(loaded.source, loaded.positionOf([...at, 'permissions', index]), (err as Error).message);
      }
    });
    const permissions = parsed.map((p) => p.text);
    const existing = current.roles.find((role) => role.name === name);
    const body = { permissions, ...(entry.description !== undefined && { description: entry.description }) };
    if (existing === undefined) {
      const fields = diff(['description', 'permissions'], null, { description: entry.description, permissions });
      changes.push({ op: 'create', kind: 'role', name, at, fields, refusal: null, request: { method: 'POST', path: '/v1/roles', body: { name, ...body } } });
      continue;
    }
    const after = { description: entry.description ?? existing.description, permissions };
    const fields = diff(['description', 'permissions'], { description: existing.description, permissions: existing.permissions }, after);
    if (fields.length === 0) continue;
    const added = permissions.filter((p) => !existing.permissions.includes(p));
    const removed = existing.permissions.filter((p) => !permissions.includes(p));
    const old = parsedOrNull(existing.permissions, catalog);
    const widens = old === null || !isWithin(parsed, old);
    const holders = await options.holdersOf(name);
    const refusal = widens && holders !== null && holders.length > 0
      ? `the server will refuse this: the change widens role ${name} (it allows something the role does not allow now) while ` +
        `${holders.length} live token${holders.length === 1 ? '' : 's'} hold${holders.length === 1 ? 's' : ''} it, and a role held by a live token may only narrow; ` +
        'revoke those tokens or let them expire, or give the new permissions a new role'
      : null;
    changes.push({ op: 'update', kind: 'role', name, at, fields, refusal, holders, added, removed, request: { method: 'PUT', path: `/v1/roles/${encode(name)}`, body } });
  }
  return changes;
}

async function prunes(loaded: LoadedFile, current: CurrentState, options: PlanOptions): Promise<{ changes: Change[]; unmanaged: string[] }> {
  const { desired } = loaded;
  const changes: Change[] = [];
  const unmanaged: string[] = [];
  if (options.prune) {
    for (const env of current.environments) {
      if (!(env.name in desired.environments)) unmanaged.push(`environment ${env.name} (the admin API never deletes an environment)`);
    }
  }
  for (const role of current.roles) {
    if (role.name in desired.roles) continue;
    if (!options.prune) {
      unmanaged.push(`role ${role.name}`);
      continue;
    }
    const holders = await options.holdersOf(role.name);
    const refusal = holders !== null && holders.length > 0
      ? `the server will refuse this: role ${role.name} is held by ${holders.length} live token${holders.length === 1 ? '' : 's'}, ` +
        'and a held role cannot be deleted; revoke them or let them expire first'
      : null;
    changes.push({ op: 'delete', kind: 'role', name: role.name, at: null, refusal, holders,
      fields: [{ field: 'permissions', before: shown(role.permissions), after: null }],
      request: { method: 'DELETE', path: `/v1/roles/${encode(role.name)}` } });
  }
  for (const service of current.services) {
    const entry = desired.services[service.name];
    if (entry !== undefined) {
      for (const binding of service.bindings) {
        if (!(binding.env in entry.bindings)) unmanaged.push(`binding ${service.name}/${binding.env} (the admin API cannot remove one binding)`);
      }
      continue;
    }
    if (!options.prune) {
      unmanaged.push(`service ${service.name}`);
      continue;
    }
    changes.push({ op: 'delete', kind: 'service', name: service.name, at: null, refusal: null,
      fields: [{ field: 'kind', before: service.kind, after: null }, ...service.bindings.map((b) => ({ field: `bindings.${b.env}.upstream`, before: b.upstream, after: null }))],
      request: { method: 'DELETE', path: `/v1/services/${encode(service.name)}` } });
  }
  return { changes, unmanaged };
}

/** Compares the file with the server's state. Throws a FileError for a problem the server would reject as input. */
export async function makePlan(loaded: LoadedFile, current: CurrentState, options: PlanOptions): Promise<Plan> {
  const desiredServices = Object.entries(loaded.desired.services).map(([name, entry]) => desiredService(name, entry, loaded));
  const knownEnvs = new Set([...current.environments.map((env) => env.name), ...Object.keys(loaded.desired.environments)]);
  const catalog = catalogOf(current.services, desiredServices);
  const pruned = await prunes(loaded, current, options);
  return {
    changes: [
      ...environmentChanges(loaded, current),
      ...serviceChanges(desiredServices, current, knownEnvs, loaded),
      ...(await roleChanges(loaded, current, catalog, options)),
      // Roles go before the services their permissions name.
      ...pruned.changes,
    ],
    unmanaged: pruned.unmanaged,
  };
}
