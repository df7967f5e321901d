// The architecture, kept by a test rather than by memory: every import in
// src/ is checked against the layering of DESIGN.md, lowest first —
//   token, errors → policy, config → store → audit → core → protocol adapters
//   → admin, server → cli.
// A module may import from its own layer group and from the groups listed for
// it below, nothing else. Production code never imports test code.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = dirname(fileURLToPath(import.meta.url));

type Group =
  | 'token' | 'errors' | 'policy' | 'config' | 'audit-format' | 'store' | 'audit' | 'lifecycle'
  | 'usage' | 'reports' | 'scheduler'
  | 'core' | 'http' | 'mcp' | 'forward-auth' | 'gateway' | 'leaks' | 'alerts' | 'admin' | 'server' | 'declarative' | 'cli' | 'test'
  | 'sql' | 'postgres';

/** Longest prefix wins. Paths are relative to src/, with `/` separators. */
const GROUPS: ReadonlyArray<readonly [string, Group]> = [
  ['token/', 'token'],
  ['errors/', 'errors'],
  ['policy/', 'policy'],
  ['config/', 'config'],
  // The event format, the hash chain and the one point where every event is redacted and bounded
  // before it is hashed: what the store persists inside its own transactions.
  ['audit/event.ts', 'audit-format'],
  ['audit/chain.ts', 'audit-format'],
  ['audit/canonical.ts', 'audit-format'],
  ['audit/redact.ts', 'audit-format'],
  ['audit/bound.ts', 'audit-format'],
  ['store/', 'store'],
  ['audit/', 'audit'],
  ['lifecycle/', 'lifecycle'],
  ['reports/', 'reports'],
  ['usage/', 'usage'],
  ['scheduler/', 'scheduler'],
  // The data-plane core every protocol shares: token resolution, admission, authorization, limits,
  // change feeds, the service table and the decision record.
  ['core/', 'core'],
  // The SQL analysis of the PostgreSQL gateway: parser, tree walk and a grant's verdict; pure, below
  // every adapter, so the admin API's check can use it without the wire code.
  ['postgres/sql/', 'sql'],
  // The PostgreSQL adapter: wire protocol both ways, the listener, sessions and the upstream connector.
  ['postgres/', 'postgres'],
  ['postgres/testing/', 'test'],
  ['gateway/http/', 'http'],
  // The MCP adapter, on the HTTP adapter's pipeline: JSON-RPC authorized per message, lists filtered.
  ['mcp/', 'mcp'],
  ['mcp/testing/', 'test'],
  // An adapter like http, built on the HTTP adapter's pipeline: it decides but never forwards.
  ['forward-auth/', 'forward-auth'],
  ['gateway/', 'gateway'],
  ['leaks/', 'leaks'],
  ['alerts/', 'alerts'],
  ['admin/', 'admin'],
  // The web console is served by the admin listener and signs its calls in through it: the admin layer.
  ['console/', 'admin'],
  ['server/', 'server'],
  ['cli/', 'cli'],
  // latchkey apply / export: the file format, the plan and its execution through the admin API.
  ['declarative/', 'declarative'],
  ['bench/', 'test'],
  ['test-support/', 'test'],
  ['gateway/testing/', 'test'],
  ['forward-auth/testing/', 'test'],
  ['store/contract/', 'test'],
  ['store/postgres/test-schemas.ts', 'test'],
];

const BASE: Group[] = ['token', 'errors'];
const ALLOWED: Record<Group, readonly Group[]> = {
  token: [],
  errors: [],
  policy: BASE,
  config: BASE,
  'audit-format': BASE,
  store: [...BASE, 'policy', 'config', 'audit-format'],
  audit: [...BASE, 'policy', 'config', 'audit-format', 'store'],
  lifecycle: [...BASE, 'policy', 'config', 'audit-format', 'store', 'audit'],
  core: [...BASE, 'policy', 'config', 'audit-format', 'store', 'audit'],
  sql: [...BASE, 'policy'],
  postgres: [...BASE, 'policy', 'config', 'audit-format', 'store', 'audit', 'core', 'sql', 'alerts'],
  reports: [...BASE, 'policy', 'config', 'audit-format', 'store', 'audit', 'lifecycle'],
  // Fed by the core's decision log (its UsageSink), writes to the store.
  usage: [...BASE, 'policy', 'config', 'audit-format', 'store', 'core'],
  scheduler: [...BASE, 'policy', 'config', 'audit-format', 'store', 'audit', 'alerts'],
  http: [...BASE, 'policy', 'config', 'audit-format', 'store', 'audit', 'core', 'alerts'],
  mcp: [...BASE, 'policy', 'config', 'audit-format', 'store', 'audit', 'core', 'http'],
  'forward-auth': [...BASE, 'policy', 'config', 'audit-format', 'store', 'audit', 'core', 'http', 'alerts'],
  gateway: [...BASE, 'policy', 'config', 'audit-format', 'store', 'audit', 'core', 'http', 'mcp', 'alerts', 'sql', 'usage'],
  alerts: [...BASE, 'config', 'audit-format', 'audit'],
  leaks: [...BASE, 'policy', 'config', 'audit-format', 'store', 'audit', 'alerts'],
  admin: [...BASE, 'policy', 'config', 'audit-format', 'store', 'audit', 'lifecycle', 'reports', 'core', 'leaks', 'alerts', 'sql'],
  server: [...BASE, 'policy', 'config', 'audit-format', 'store', 'audit', 'lifecycle', 'reports', 'usage', 'scheduler', 'core', 'gateway', 'http', 'mcp', 'forward-auth', 'leaks', 'alerts', 'admin', 'sql', 'postgres'],
  declarative: [...BASE, 'policy', 'config', 'audit-format', 'store', 'admin'],
  cli: [...BASE, 'policy', 'config', 'audit-format', 'store', 'audit', 'lifecycle', 'leaks', 'alerts', 'admin', 'server', 'gateway', 'core', 'mcp', 'sql', 'declarative'],
  test: ['token', 'errors', 'policy', 'config', 'audit-format', 'store', 'audit', 'lifecycle', 'reports', 'usage', 'scheduler', 'core', 'http', 'mcp', 'forward-auth', 'gateway', 'leaks', 'alerts', 'admin', 'server', 'declarative', 'cli', 'test', 'sql', 'postgres'],
};

function groupOf(path: string): Group | undefined {
  let best: readonly [string, Group] | undefined;
  for (const entry of GROUPS) if (path.startsWith(entry[0]) && (best === undefined || entry[0].length > best[0].length)) best = entry;
  return best?.[1];
}

function isTest(path: string): boolean {
  return /\.(test|contract|bench)\.ts$/.test(path) || groupOf(path) === 'test';
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) return sourceFiles(full);
    return name.endsWith('.ts') ? [full] : [];
  });
}

// `import x from '...'`, `export ... from '...'`, `import('...')`, and a bare `import '...'` for its side effects.
const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+'([^']+)'|import\(\s*'([^']+)'\s*\)|(?:^|\n)\s*import\s+'([^']+)'/g;

/** Every relative import of `file`, as a path relative to src/. */
export function importsOf(file: string, text: string): string[] {
  const found: string[] = [];
  for (const match of text.matchAll(IMPORT)) {
    const specifier = match[1] ?? match[2] ?? match[3]!;
    if (!specifier.startsWith('.')) continue;
    found.push(relative(SRC, resolve(dirname(file), specifier)).replace(/\\/g, '/').replace(/\.js$/, '.ts'));
  }
  return found;
}

/** The imports of one file that break the layering, as `from → to (group → group)`. */
export function violations(path: string, imports: readonly string[]): string[] {
  const from = groupOf(path);
  if (from === undefined) return [`${path}: in no layer group; add its folder to GROUPS in src/layering.test.ts`];
  const allowed = isTest(path) ? ALLOWED.test : [from, ...ALLOWED[from]];
  return imports.flatMap((target) => {
    const to = groupOf(target);
    if (to === undefined) return [`${path} → ${target}: target in no layer group`];
    if (to === 'test' && !isTest(path)) return [`${path} → ${target}: production code imports test code`];
    return allowed.includes(to) ? [] : [`${path} → ${target} (${from} may not import ${to})`];
  });
}

describe('layering', () => {
  it('every import in src/ follows the layering', () => {
    const broken = sourceFiles(SRC)
      .filter((file) => !file.endsWith('layering.test.ts'))
      .flatMap((file) => {
        const path = relative(SRC, file).replace(/\\/g, '/');
        return violations(path, importsOf(file, readFileSync(file, 'utf8')));
      });
    expect(broken).toEqual([]);
  });

  it('catches what it is there to catch', () => {
    expect(violations('policy/compile-grant.ts', ['store/store.ts'])).toEqual(['policy/compile-grant.ts → store/store.ts (policy may not import store)']);
    expect(violations('gateway/http/pipeline.ts', ['admin/principal.ts'])).toHaveLength(1);
    expect(violations('admin/server.ts', ['gateway/http/pipeline.ts'])).toHaveLength(1);
    expect(violations('store/sqlite/sqlite-store.ts', ['audit/batch-recorder.ts'])).toHaveLength(1);
    expect(violations('gateway/gateway.ts', ['test-support/postgres.ts'])).toEqual(['gateway/gateway.ts → test-support/postgres.ts: production code imports test code']);
    expect(violations('store/store.ts', ['audit/event.ts'])).toEqual([]);
    expect(importsOf(join(SRC, 'admin/x.ts'), "import { a } from '../gateway/http/pipeline.js';\nexport * from './y.js';\nconst m = await import('../cli/main.js');\nimport '../server/serve.js';"))
      .toEqual(['gateway/http/pipeline.ts', 'admin/y.ts', 'cli/main.ts', 'server/serve.ts']);
  });
});
