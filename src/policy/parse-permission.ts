// The permission parser: the one place permission strings become Permission
// values. Everything downstream (compiler, containment, explanations) trusts
// what comes out of here.
//
// Grammar: `[!]service:action[:resource]`
// - At most 512 characters; no whitespace or control character anywhere.
// - service: `[a-z][a-z0-9_-]{0,63}`, known to the catalog; `latchkey` (the admin
//   API itself) is always known and cannot be shadowed by a catalog entry.
// - action: exactly as written, checked against the service's kind:
//   http      GET HEAD OPTIONS POST PUT PATCH DELETE (uppercase; methods are
//             case-sensitive), read = GET HEAD OPTIONS, write = POST PUT PATCH,
//             delete = DELETE, * = all seven. No other method is ever granted.
//             GET also covers HEAD, so that a deny on GET cannot be read around with HEAD.
//   postgres  select insert update delete truncate ddl, read = select,
//             write = insert update delete, * = all six.
//   mcp       call (tools), read (resources), get (prompts), * = all three.
//   latchkey  an action of ADMIN_ACTIONS, or * for all of them.
// - resource: everything after the second `:` (it may contain `:`); when present
//   it must not be empty. Absent means every resource of the action.
//   http      `/` then segments: a literal (written decoded, no %-escapes), `*`
//             (exactly one non-empty segment) or `**` (zero or more segments,
//             anywhere, not twice in a row). `/` alone is the root. No empty
//             segment, no trailing `/` (trailing slashes are not significant to
//             authorization, see normalize-path.ts), no `.`/`..`, `\`, `;`, `?`, `#`.
//   postgres  `schema.table`, each a glob of [a-z0-9_$] and `*`, folded to lowercase.
//   mcp       a tool/resource/prompt name glob, `*` matching any run of characters;
//             for action call, optionally argument constraints after it:
//             `name{arg=glob|glob,arg2=glob}` (see argument-constraints.ts).
//   latchkey  an environment name `[a-z][a-z0-9]{0,11}`. For an allow of
//             tokens.create, optionally `:service` or `:*` after it: the services
//             whose permissions the holder may hand out (see adminScope).
// - A leading `!` denies. Deny wins over any allow; no match means deny.

import { invalid } from '../errors/index.js';
import { ADMIN_SERVICE } from './admin-actions.js';
import { actionsOf, actionWords } from './grammar.js';
import { adminScope, canonicalResource, PermissionSyntaxError, toolPattern } from './resource-syntax.js';
import type { Permission, PolicyServiceKind, ServiceCatalog } from './types.js';

export const MAX_PERMISSION_LENGTH = 512;
const SERVICE_NAME = /^[a-z][a-z0-9_-]{0,63}$/;

function fail(message: string): never {
  throw new PermissionSyntaxError(message);
}

/** The canonical text of a permission: `!` for denies, the action as written, the canonical resource. */
export function permissionText(permission: Omit<Permission, 'text'>): string {
  const resource = permission.resource === undefined ? '' : `:${permission.resource}`;
  return `${permission.effect === 'deny' ? '!' : ''}${permission.service}:${permission.action}${resource}`;
}

function checkCharacters(text: string): void {
  if (text.length === 0) fail('empty permission; expected service:action[:resource]');
  if (text.length > MAX_PERMISSION_LENGTH) fail(`permission is longer than ${MAX_PERMISSION_LENGTH} characters`);
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (/\s/.test(text[index] as string)) fail(`whitespace at position ${index + 1} is not allowed in a permission`);
    if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) fail(`control character at position ${index + 1} is not allowed in a permission`);
  }
}

function kindOf(service: string, catalog: ServiceCatalog): PolicyServiceKind {
  if (service === ADMIN_SERVICE) return 'latchkey';
  const kind = catalog.kindOf(service);
  if (kind === undefined || kind === 'latchkey') fail(`unknown service ${service}`);
  return kind;
}

function checkAction(kind: PolicyServiceKind, service: string, action: string): void {
  if (actionsOf(kind, action) !== undefined) return;
  const what = kind === 'latchkey' ? 'the admin API (latchkey)' : `${kind} service ${service}`;
  const expected = `expected one of ${actionWords(kind).join(', ')}`;
  if (action === '') fail(`missing action for ${what}; ${expected}`);
  const upper = action.toUpperCase();
  const hint = kind === 'http' && upper !== action && actionsOf(kind, upper) !== undefined ? ` (HTTP methods are uppercase: ${upper})` : '';
  fail(`unknown action ${action} for ${what}${hint}; ${expected}`);
}

/** A service part in an admin resource says whose permissions `tokens.create` may hand out; nothing else takes one. */
function checkDelegation(effect: 'allow' | 'deny', action: string, resource: string, catalog: ServiceCatalog): void {
  const { delegates } = adminScope(resource);
  if (delegates === null) return;
  if (action !== 'tokens.create') fail(`only latchkey:tokens.create takes a service after the environment (${resource})`);
  if (effect === 'deny') fail(`a deny of tokens.create names an environment only; ${resource} would deny part of a mint`);
  if (delegates !== '*') {
    const kind = catalog.kindOf(delegates);
    if (kind === undefined || kind === 'latchkey') fail(`unknown service ${delegates} in ${resource}`);
  }
}

function parseText(text: string, catalog: ServiceCatalog): Permission {
  checkCharacters(text);
  const effect = text.startsWith('!') ? 'deny' : 'allow';
  const body = effect === 'deny' ? text.slice(1) : text;
  const firstColon = body.indexOf(':');
  if (firstColon < 0) fail(`expected service:action[:resource], found no : in ${text}`);
  const service = body.slice(0, firstColon);
  if (service === '') fail(`missing service name before : in ${text}`);
  if (!SERVICE_NAME.test(service)) fail(`invalid service name ${JSON.stringify(service)}; expected [a-z][a-z0-9_-]{0,63}`);
  const kind = kindOf(service, catalog);
  const rest = body.slice(firstColon + 1);
  const secondColon = rest.indexOf(':');
  const action = secondColon < 0 ? rest : rest.slice(0, secondColon);
  checkAction(kind, service, action);
  let resource: string | undefined;
  if (secondColon >= 0) {
    const written = rest.slice(secondColon + 1);
    if (written === '') fail(`empty resource after ${service}:${action}: ; leave out the last : to mean every resource`);
    resource = canonicalResource(kind, written);
    if (kind === 'mcp' && action !== 'call' && toolPattern(resource).constraints.length > 0) {
      fail(`argument constraints in ${written} apply to tool calls only: write ${service}:call:${written}`);
    }
    if (kind === 'latchkey') checkDelegation(effect, action, resource, catalog);
  }
  const fields = { effect, service, kind, action, resource } as const;
  return Object.freeze({ ...fields, text: permissionText(fields) });
}

/** Parses one permission. Throws `invalid_request` naming `field`, with a message that points at the bad part. */
export function parsePermission(text: string, catalog: ServiceCatalog, field = 'permission'): Permission {
  if (typeof text !== 'string') throw invalid(field, 'a permission must be a string');
  try {
    return parseText(text, catalog);
  } catch (error) {
    if (error instanceof PermissionSyntaxError) throw invalid(field, error.message);
    throw error;
  }
}

/** Parses a list; an error names the element (`permissions[3]`). */
export function parsePermissions(texts: readonly string[], catalog: ServiceCatalog, field = 'permissions'): Permission[] {
  if (!Array.isArray(texts)) throw invalid(field, 'expected a list of permissions');
  return texts.map((text, index) => parsePermission(text, catalog, `${field}[${index}]`));
}

/** A role as the grant needs it: its name and its permission strings. */
export interface RolePermissions {
  readonly name: string;
  readonly permissions: readonly string[];
}

/**
 * A token's effective grant: the permissions of its roles, then its direct
 * permissions. Order does not change decisions (deny wins, then any allow);
 * it only picks which allow an explanation names when several match.
 */
export function parseGrant(
  source: { readonly roles: readonly RolePermissions[]; readonly permissions: readonly string[] },
  catalog: ServiceCatalog,
): Permission[] {
  const fromRoles = source.roles.flatMap((role) => parsePermissions(role.permissions, catalog, `roles.${role.name}.permissions`));
  return [...fromRoles, ...parsePermissions(source.permissions, catalog)];
}
