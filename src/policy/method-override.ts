// Method override: `X-HTTP-Method-Override: DELETE` (or X-HTTP-Method,
// X-Method-Override, `?_method=DELETE`) on a POST makes Express's
// method-override, ASP.NET, Symfony/Laravel and Rails-style upstreams perform a
// DELETE. The gateway cannot know whether an upstream honours it, so it reads
// every form those frameworks read, authorizes the overriding method (and the
// method sent, for an upstream that ignores the override), and audits the
// overriding one. Forms that disagree, or name no method, are refused.

/** Methods a permission can grant; anything else (TRACE, CONNECT, WebDAV...) is not interpreted. */
export const GATEWAY_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'PATCH', 'DELETE']);

export type MethodOverride =
  | { readonly ok: true; readonly method: string; /** Where it came from, for the audit: `X-HTTP-Method-Override`, `?_method`. */ readonly via: string }
  | { readonly ok: false; readonly detail: string };

/** Percent-decoding that never throws: a malformed escape stays as written, as most query parsers leave it. */
function decodeQueryPart(part: string): string {
  const spaced = part.includes('+') ? part.replaceAll('+', ' ') : part;
  if (!spaced.includes('%')) return spaced;
  try {
    return decodeURIComponent(spaced);
  } catch {
    return spaced.replace(/%([0-9A-Fa-f]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  }
}

/**
 * The parameter name as the most forgiving reader sees it: PHP strips leading
 * spaces and turns `.` and ` ` into `_` (so `?.method=` is `$_GET['_method']`),
 * and names are compared case-insensitively.
 */
function parameterName(raw: string): string {
  return decodeQueryPart(raw).replace(/^ +/, '').toLowerCase().replace(/[. ]/g, '_');
}

/** The `?_method=` values of a query (`?...` as sent, or ''). Rack before 3 also splits on `;`. */
function queryOverrides(query: string, found: Array<[string, string]>): string | null {
  // Most queries never mention it: skip the parse unless a name could spell `method`, escaped or not.
  if (query.length < 2 || (!query.includes('%') && !/method/i.test(query))) return null;
  for (const pair of query.slice(1).split(/[&;]/)) {
    const equals = pair.indexOf('=');
    const name = parameterName(equals < 0 ? pair : pair.slice(0, equals));
    if (name === '_method') found.push(['?_method', equals < 0 ? '' : decodeQueryPart(pair.slice(equals + 1))]);
    // Rack and PHP read `_method[]=` and `_method[x]=` as `_method` holding a list or a map.
    else if (name.startsWith('_method[')) return `query parameter ${name.slice(0, 32)} could be read as _method`;
  }
  return null;
}

/** Reads the overriding method of a request, or null when it has none. */
export function readMethodOverride(headers: readonly string[] | null, query: string): MethodOverride | null {
  const found: Array<[string, string]> = [];
  if (headers !== null) for (let i = 0; i < headers.length; i += 2) found.push([headers[i]!, headers[i + 1]!]);
  const problem = queryOverrides(query, found);
  if (problem !== null) return { ok: false, detail: problem };
  if (found.length === 0) return null;
  let method: string | null = null;
  for (const [via, value] of found) {
    // Node joins repeated headers with `,`, and frameworks differ on which element they take: all must agree.
    for (const part of value.split(',')) {
      const named = part.trim().toUpperCase();
      if (!GATEWAY_METHODS.has(named)) return { ok: false, detail: `method override ${via} names ${JSON.stringify(named.slice(0, 16))}, not a method the gateway authorizes` };
      if (method !== null && method !== named) return { ok: false, detail: `method overrides disagree (${method}, ${named})` };
      method = named;
    }
  }
  return { ok: true, method: method!, via: found.map(([via]) => via).join(', ') };
}
