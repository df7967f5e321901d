import { compileGrant, foldRequestSegments, normalizePath, parsePermissions } from '../policy/index.js';
import type { CompiledGrant, ServiceCatalog } from '../policy/types.js';
import type { RequestSummary } from '../store/store.js';

// What-if: the requests a token was allowed, asked again of a proposed grant,
// the way the gateway asks (HTTP: method and folded path segments; PostgreSQL:
// statement kind per table; MCP: action and name).

export interface ReplayResult {
  /** Requests replayed (each summary counts its requests). */
  readonly requests: number;
  readonly refused: number;
  /** The distinct requests refused, most frequent first. */
  readonly refusals: readonly RequestSummary[];
}

function allowed(grant: CompiledGrant, request: RequestSummary, catalog: ServiceCatalog): boolean {
  switch (catalog.kindOf(request.service)) {
    case 'http': {
      const path = normalizePath(request.resource);
      if (!path.ok) return false;
      const matching = catalog.pathMatchingOf?.(request.service) ?? 'exact';
      const folded = foldRequestSegments(path.segments, matching);
      return folded.ok && grant.decideHttp(request.service, request.action, folded.segments, matching).allowed;
    }
    case 'postgres': {
      const tables = request.resource.split(/[,\s]+/).filter((t) => t !== '');
      return tables.length > 0 && tables.every((qualified) => {
        const dot = qualified.indexOf('.');
        const schema = dot === -1 ? 'public' : qualified.slice(0, dot);
        return grant.decidePostgres(request.service, request.action.toLowerCase(), schema, qualified.slice(dot + 1)).allowed;
      });
    }
    case 'mcp': {
      const action = request.action as 'call' | 'read' | 'get';
      return grant.decideMcp(request.service, action, request.resource).allowed;
    }
    default:
      return false;
  }
}

export function replay(requests: readonly RequestSummary[], proposed: readonly string[], catalog: ServiceCatalog): ReplayResult {
  const grant = compileGrant(parsePermissions(proposed, catalog, 'permissions'), catalog);
  let total = 0;
  let refused = 0;
  const refusals: RequestSummary[] = [];
  for (const request of requests) {
    total += request.count;
    if (allowed(grant, request, catalog)) continue;
    refused += request.count;
    refusals.push(request);
  }
  refusals.sort((a, b) => b.count - a.count || a.resource.localeCompare(b.resource));
  return { requests: total, refused, refusals };
}
