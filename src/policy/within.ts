// Containment of grants: may a child token hold these permissions under this
// parent? It must never say yes when some request is allowed by the child and
// refused by the parent; it may say no in rare contained cases (a child allow
// covered only by the union of several parent allows, or an ANY the parent
// covers with fixed tokens).
//
// A request the child allows matches a child allow `a` (for a concrete action)
// and no child deny. It is allowed by the parent when
//   1. some parent allow for that action covers all of `a`, and
//   2. every parent deny for that action either cannot meet `a`, or is covered
//      by a child deny for that action (the child carves out what the parent
//      denies).
// A child allow that one of its own denies covers entirely allows nothing and
// needs no parent.

import { actionsOf } from './grammar.js';
import { covers, globTokens, overlaps, type SequencePattern } from './pattern-algebra.js';
import { constraintsCover, type ArgumentConstraint } from './argument-constraints.js';
import { adminScope, httpPattern, tablePattern, toolPattern } from './resource-syntax.js';
import type { Permission } from './types.js';

/** A permission's resource in the form containment compares. */
type Region =
  | { readonly kind: 'http'; readonly path: SequencePattern }
  | { readonly kind: 'postgres'; readonly schema: SequencePattern; readonly table: SequencePattern }
  | { readonly kind: 'mcp'; readonly name: SequencePattern; readonly constraints: readonly ArgumentConstraint[] }
  | { readonly kind: 'latchkey'; readonly env: string | undefined; readonly delegates: string | null };

interface Entry {
  readonly permission: Permission;
  readonly actions: ReadonlySet<string>;
  readonly region: Region;
}

function regionOf(permission: Permission): Region {
  switch (permission.kind) {
    case 'http':
      return { kind: 'http', path: httpPattern(permission.resource) };
    case 'postgres': {
      const { schema, table } = tablePattern(permission.resource);
      return { kind: 'postgres', schema: globTokens(schema), table: globTokens(table) };
    }
    case 'mcp': {
      const { name, constraints } = toolPattern(permission.resource);
      return { kind: 'mcp', name: globTokens(name), constraints };
    }
    case 'latchkey':
      return { kind: 'latchkey', ...adminScope(permission.resource) };
  }
}

/** Every request in `inner` is in `outer` (sound; see pattern-algebra). */
function regionCovers(outer: Region, inner: Region): boolean {
  if (outer.kind === 'http' && inner.kind === 'http') return covers(outer.path, inner.path);
  if (outer.kind === 'postgres' && inner.kind === 'postgres') return covers(outer.schema, inner.schema) && covers(outer.table, inner.table);
  if (outer.kind === 'mcp' && inner.kind === 'mcp') return covers(outer.name, inner.name) && constraintsCover(outer.constraints, inner.constraints);
  if (outer.kind === 'latchkey' && inner.kind === 'latchkey') {
    // Handing out only one's own permissions (null) is the narrowest delegation; `*` the widest.
    const delegation = inner.delegates === null || outer.delegates === '*' || outer.delegates === inner.delegates;
    return (outer.env === undefined || outer.env === inner.env) && delegation;
  }
  return false;
}

/** Some request is in both (exact; when unsure it would have to say true). */
function regionsMeet(a: Region, b: Region): boolean {
  if (a.kind === 'http' && b.kind === 'http') return overlaps(a.path, b.path);
  if (a.kind === 'postgres' && b.kind === 'postgres') return overlaps(a.schema, b.schema) && overlaps(a.table, b.table);
  // Argument constraints are left out: the names meeting is enough to say they may meet (sound).
  if (a.kind === 'mcp' && b.kind === 'mcp') return overlaps(a.name, b.name);
  if (a.kind === 'latchkey' && b.kind === 'latchkey') return a.env === undefined || b.env === undefined || a.env === b.env;
  return a.kind === b.kind;
}

function entriesOf(permissions: readonly Permission[]): Entry[] {
  return permissions.map((permission) => ({
    permission,
    actions: new Set(actionsOf(permission.kind, permission.action) ?? []),
    region: regionOf(permission),
  }));
}

/** Entries of the same service and kind as `of`, with the given effect, granting `action`. */
function related(entries: readonly Entry[], of: Permission, effect: Permission['effect'], action: string): Entry[] {
  return entries.filter(
    (entry) => entry.permission.effect === effect && entry.permission.service === of.service && entry.permission.kind === of.kind && entry.actions.has(action),
  );
}

/** True only when every request `child` allows, `parent` allows too. */
export function isWithin(child: readonly Permission[], parent: readonly Permission[]): boolean {
  const childEntries = entriesOf(child);
  const parentEntries = entriesOf(parent);
  for (const allow of childEntries) {
    if (allow.permission.effect !== 'allow') continue;
    for (const action of allow.actions) {
      const childDenies = related(childEntries, allow.permission, 'deny', action);
      if (childDenies.some((deny) => regionCovers(deny.region, allow.region))) continue;
      const parentAllows = related(parentEntries, allow.permission, 'allow', action);
      if (!parentAllows.some((parentAllow) => regionCovers(parentAllow.region, allow.region))) return false;
      for (const parentDeny of related(parentEntries, allow.permission, 'deny', action)) {
        if (!regionsMeet(allow.region, parentDeny.region)) continue;
        if (!childDenies.some((deny) => regionCovers(deny.region, parentDeny.region))) return false;
      }
    }
  }
  return true;
}
