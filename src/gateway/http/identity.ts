import type { TokenEntry } from '../../core/tokens/token-entry.js';

// The token's identity as the HTTP upstream receives it: X-Latchkey-Token-Id,
// -Token-Name and -Env. The core keeps identity neutral ({id, name, env});
// each adapter formats it its own way (these headers, a PostgreSQL
// application_name, MCP _meta). Made once per cache entry, not per request.

const formatted = new WeakMap<TokenEntry, readonly string[]>();

/** Header values must be visible ASCII; anything else (a Unicode token name) is percent-encoded. */
export function headerSafe(value: string): string {
  return /^[\x20-\x7e]*$/.test(value) ? value : encodeURIComponent(value);
}

/** Flat `[name, value, ...]` list, lowercase names. */
export function identityHeadersOf(entry: TokenEntry): readonly string[] {
  let headers = formatted.get(entry);
  if (headers === undefined) {
    headers = ['x-latchkey-token-id', headerSafe(entry.id), 'x-latchkey-token-name', headerSafe(entry.name), 'x-latchkey-env', headerSafe(entry.env)];
    formatted.set(entry, headers);
  }
  return headers;
}
