import type { CompiledGrant } from '../policy/index.js';
import type { ListKind } from '../policy/index.js';

// Visibility, apart from authorization: a list result keeps only the entries
// the token may use (an allow names them; see CompiledGrant.visibleMcp) and
// that the service does not hide from everyone. Each page of a paginated list
// is filtered as it comes; `nextCursor` is the upstream's. A filtered result
// is per token, so it never keeps a public cache scope.

const FIELDS: Readonly<Record<ListKind, { readonly array: string; readonly key: string; readonly action: 'call' | 'read' | 'get' }>> = {
  tools: { array: 'tools', key: 'name', action: 'call' },
  resources: { array: 'resources', key: 'uri', action: 'read' },
  resourceTemplates: { array: 'resourceTemplates', key: 'uriTemplate', action: 'read' },
  prompts: { array: 'prompts', key: 'name', action: 'get' },
};

export interface Audience {
  readonly grant: CompiledGrant;
  readonly service: string;
  /** Tools the service hides from everyone. */
  readonly hidden: (tool: string) => boolean;
}

/** Filters a JSON-RPC response to a list request in place; anything that is not a list result is left alone. */
export function filterListResponse(message: unknown, kind: ListKind, audience: Audience): void {
  if (typeof message !== 'object' || message === null) return;
  const result = (message as { result?: unknown }).result;
  if (typeof result !== 'object' || result === null) return;
  const record = result as Record<string, unknown>;
  const { array, key, action } = FIELDS[kind];
  const entries = record[array];
  if (Array.isArray(entries)) {
    record[array] = entries.filter((entry: unknown) => {
      const name = typeof entry === 'object' && entry !== null ? (entry as Record<string, unknown>)[key] : undefined;
      if (typeof name !== 'string') return false;
      if (kind === 'tools' && audience.hidden(name)) return false;
      return audience.grant.visibleMcp(audience.service, action, name);
    });
  }
  if ('cacheScope' in record && record.cacheScope !== 'private') record.cacheScope = 'private';
}
