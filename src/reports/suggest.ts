import { isWithin, parsePermission } from '../policy/index.js';
import type { Permission, ServiceCatalog } from '../policy/types.js';

// The smallest grant that still allows what a token was seen doing: its
// distinct requests, grouped by the permission that allowed them, widened only
// where they vary in the last path segment (`/v1/orders/17` and `/v1/orders/42`
// become `/v1/orders/*`), and each suggestion checked to be within the
// permission it replaces (isWithin) — when it is not, that permission is kept,
// as it is when not all of its requests are known (`keep`: the usage rollup
// overflowed, or the permission was used with none of its requests recorded).

/** A distinct request a token was seen making, and the permission that allowed it. */
export interface SeenUse {
  readonly service: string;
  readonly action: string;
  readonly resource: string;
  readonly permission: string;
}

/** Permission-grammar characters a literal resource may not carry (`*` in a real path would widen it). */
const SPECIAL = /[*{}!:\s]/;

function httpPatterns(paths: readonly string[]): string[] {
  const byPrefix = new Map<string, Set<string>>();
  const whole: string[] = [];
  for (const path of paths) {
    const cut = path.lastIndexOf('/');
    if (cut <= 0) {
      whole.push(path);
      continue;
    }
    const prefix = path.slice(0, cut);
    let lasts = byPrefix.get(prefix);
    if (lasts === undefined) byPrefix.set(prefix, (lasts = new Set()));
    lasts.add(path.slice(cut + 1));
  }
  const out = new Set(whole);
  for (const [prefix, lasts] of byPrefix) {
    if (lasts.size >= 2) out.add(`${prefix}/*`);
    else for (const last of lasts) out.add(`${prefix}/${last}`);
  }
  return [...out].sort();
}

function candidates(service: string, kind: string | undefined, action: string, resources: readonly string[]): string[] {
  if (kind === 'http') return httpPatterns(resources).map((pattern) => `${service}:${action}:${pattern}`);
  if (kind === 'postgres') {
    const tables = new Set(resources.flatMap((r) => r.split(/[,\s]+/)).filter((t) => t !== ''));
    return [...tables].sort().map((table) => `${service}:${action.toLowerCase()}:${table}`);
  }
  return [...new Set(resources)].sort().map((name) => `${service}:${action}:${name}`);
}

function parsed(text: string, catalog: ServiceCatalog): Permission | undefined {
  try {
    return parsePermission(text, catalog);
  } catch {
    return undefined;
  }
}

/**
 * `granted`: the token's effective permissions; `keep`: permissions to keep
 * as granted whatever was seen. Returns the suggested grant: the narrowed
 * allows, then every deny of the original grant (a deny only narrows).
 */
export function suggestGrant(requests: readonly SeenUse[], granted: readonly Permission[], catalog: ServiceCatalog, keep: ReadonlySet<string> = new Set()): string[] {
  const byPermission = new Map<string, Map<string, { service: string; action: string; resources: string[] }>>();
  for (const request of requests) {
    if (keep.has(request.permission)) continue;
    let groups = byPermission.get(request.permission);
    if (groups === undefined) byPermission.set(request.permission, (groups = new Map()));
    const key = `${request.service}\u0000${request.action}`;
    let group = groups.get(key);
    if (group === undefined) groups.set(key, (group = { service: request.service, action: request.action, resources: [] }));
    group.resources.push(request.resource);
  }
  const suggested = new Set<string>();
  for (const p of granted) if (p.effect === 'allow' && keep.has(p.text)) suggested.add(p.text);
  for (const [matchedText, groups] of byPermission) {
    const matched = granted.find((p) => p.text === matchedText);
    if (matched === undefined) continue;
    for (const group of groups.values()) {
      const texts = candidates(group.service, catalog.kindOf(group.service), group.action, group.resources);
      const narrowed = texts.map((text) => parsed(text, catalog));
      const safe = group.resources.every((resource) => !SPECIAL.test(resource))
        && narrowed.every((p) => p !== undefined && isWithin([p], [matched]));
      if (safe) for (const p of narrowed) suggested.add(p!.text);
      else suggested.add(matched.text);
    }
  }
  const allows = [...suggested].sort();
  const denies = granted.filter((p) => p.effect === 'deny').map((p) => p.text);
  return [...allows, ...denies];
}
