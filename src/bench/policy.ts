// Benchmark of the permission engine: decisions per second on one core for a
// 50-permission grant (wildcards and denies, four service kinds) over a mix of
// allowed and denied requests, beside a baseline that scans the same parsed
// permissions linearly; and the time to compile such a grant.
// Run: `npm run bench -- policy`.

import { loadavg } from 'node:os';
import { pathToFileURL } from 'node:url';
import { actionsOf, compileGrant, normalizePath, parsePermissions, type Permission, type ServiceCatalog } from '../policy/index.js';
import { matchesSequence, type SequencePattern } from '../policy/pattern-algebra.js';
import { httpPattern } from '../policy/resource-syntax.js';

const KINDS = { orders: 'http', billing: 'http', users: 'http', docker: 'http', warehouse: 'postgres', tools: 'mcp' } as const;
const catalog: ServiceCatalog = { kindOf: (service) => (KINDS as Record<string, 'http' | 'postgres' | 'mcp'>)[service] };

export const BENCH_GRANT: readonly string[] = [
  'orders:read:/v1/**',
  'orders:write:/v1/orders/*',
  'orders:write:/v1/orders/*/items/*',
  'orders:DELETE:/v1/orders/*/items/*',
  'orders:POST:/v1/orders',
  'orders:GET:/v2/**/export',
  'orders:PATCH:/v2/orders/*/status',
  'orders:read:/health',
  '!orders:*:/v1/admin/**',
  '!orders:DELETE:/v1/orders/*',
  '!orders:write:/v1/orders/*/refunds/**',
  '!orders:GET:/v1/internal/*/secrets',
  'billing:GET:/invoices/*',
  'billing:GET:/invoices/*/lines/**',
  'billing:POST:/invoices/*/pay',
  'billing:read:/customers/*/invoices',
  'billing:read:/plans/**',
  '!billing:*:/invoices/*/lines/internal/**',
  '!billing:POST:/invoices/draft/pay',
  'users:read:/users/*',
  'users:read:/users/*/groups/**',
  'users:PUT:/users/*/profile',
  'users:write:/teams/*/members/*',
  'users:GET:/search',
  '!users:*:/users/root/**',
  '!users:*:/users/*/password',
  '!users:write:/teams/admins/**',
  'docker:GET:/containers/json',
  'docker:GET:/containers/*/json',
  'docker:GET:/containers/*/logs',
  'docker:POST:/containers/*/restart',
  'docker:read:/images/**',
  '!docker:*:/containers/*/exec',
  '!docker:POST:/containers/create',
  '!docker:*:/secrets/**',
  'orders:OPTIONS',
  'warehouse:read:public.*',
  'warehouse:write:public.order_*',
  'warehouse:select:analytics.*',
  '!warehouse:*:public.payment_*',
  '!warehouse:*:*.secrets',
  'warehouse:ddl:scratch.*',
  'tools:call:list_*',
  'tools:call:get_issue',
  'tools:read',
  '!tools:call:list_secrets',
  '!tools:*:admin_*',
  'latchkey:tokens.read:prod',
  'latchkey:check',
  '!latchkey:tokens.create:prod',
];

/** Requests as the gateway sees them after normalization; about two thirds are allowed. */
const HTTP_REQUESTS: readonly (readonly [string, string, string])[] = [
  ['orders', 'GET', '/v1/orders/7'],
  ['orders', 'GET', '/v1/orders/7/items/3'],
  ['orders', 'POST', '/v1/orders'],
  ['orders', 'PUT', '/v1/orders/42'],
  ['orders', 'DELETE', '/v1/orders/42/items/9'],
  ['orders', 'DELETE', '/v1/orders/42'],
  ['orders', 'GET', '/v1/admin/users'],
  ['orders', 'GET', '/v2/reports/2024/q1/export'],
  ['orders', 'PATCH', '/v2/orders/5/status'],
  ['orders', 'POST', '/v1/orders/5/refunds/1'],
  ['orders', 'HEAD', '/health'],
  ['orders', 'GET', '/v3/orders'],
  ['billing', 'GET', '/invoices/inv_123'],
  ['billing', 'GET', '/invoices/inv_123/lines/4/detail'],
  ['billing', 'GET', '/invoices/inv_123/lines/internal/cost'],
  ['billing', 'POST', '/invoices/inv_123/pay'],
  ['billing', 'POST', '/invoices/draft/pay'],
  ['billing', 'DELETE', '/invoices/inv_123'],
  ['users', 'GET', '/users/alice'],
  ['users', 'GET', '/users/root/groups/wheel'],
  ['users', 'PUT', '/users/alice/profile'],
  ['users', 'GET', '/users/alice/password'],
  ['users', 'POST', '/teams/blue/members/bob'],
  ['users', 'POST', '/teams/admins/members/eve'],
  ['docker', 'GET', '/containers/json'],
  ['docker', 'GET', '/containers/abc123/logs'],
  ['docker', 'POST', '/containers/abc123/exec'],
  ['docker', 'GET', '/images/library/nginx/json'],
  ['docker', 'POST', '/containers/create'],
  ['payments', 'GET', '/v1/charges'],
];

interface HttpRequest {
  readonly service: string;
  readonly method: string;
  readonly segments: readonly string[];
}

function prepare(): HttpRequest[] {
  return HTTP_REQUESTS.map(([service, method, path]) => {
    const normalized = normalizePath(path);
    if (!normalized.ok) throw new Error(`bench path ${path}: ${normalized.detail}`);
    return { service, method, segments: normalized.segments };
  });
}

/** The baseline: no compilation, every permission of the grant tried in turn (denies first). */
function linearDecider(permissions: readonly Permission[]): (request: HttpRequest) => boolean {
  const rules = permissions
    .filter((permission) => permission.kind === 'http')
    .map((permission) => ({ permission, methods: actionsOf('http', permission.action) ?? [], pattern: httpPattern(permission.resource) as SequencePattern }));
  const matches = (rule: (typeof rules)[number], request: HttpRequest): boolean =>
    rule.permission.service === request.service && rule.methods.includes(request.method) && matchesSequence(rule.pattern, request.segments);
  return (request) => {
    for (const rule of rules) if (rule.permission.effect === 'deny' && matches(rule, request)) return false;
    for (const rule of rules) if (rule.permission.effect === 'allow' && matches(rule, request)) return true;
    return false;
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

/** Median rate over several timed rounds of `perRound` calls of `run` (each call makes `batch` decisions). */
function ratePerSecond(run: () => number, batch: number, perRound: number, rounds = 9): { rate: number; sink: number } {
  let sink = 0;
  for (let index = 0; index < perRound / 4; index++) sink += run();
  const rates: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const started = process.hrtime.bigint();
    for (let index = 0; index < perRound; index++) sink += run();
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    rates.push((perRound * batch) / seconds);
  }
  return { rate: median(rates), sink };
}

function timeEach(run: () => unknown, times: number): number {
  const samples: number[] = [];
  for (let index = 0; index < times; index++) {
    const started = process.hrtime.bigint();
    run();
    samples.push(Number(process.hrtime.bigint() - started) / 1e3);
  }
  return median(samples);
}

const format = (rate: number): string => Math.round(rate).toLocaleString('en-US');

export async function runPolicyBench(): Promise<void> {
  const permissions = parsePermissions(BENCH_GRANT, catalog);
  const grant = compileGrant(permissions);
  const requests = prepare();
  const allowedCount = requests.filter((request) => grant.decideHttp(request.service, request.method, request.segments).allowed).length;
  const linear = linearDecider(permissions);
  for (const request of requests) {
    if (linear(request) !== grant.decideHttp(request.service, request.method, request.segments).allowed) throw new Error('baseline and engine disagree');
  }

  const compiled = ratePerSecond(() => {
    let allowed = 0;
    for (const request of requests) if (grant.decideHttp(request.service, request.method, request.segments).allowed) allowed++;
    return allowed;
  }, requests.length, 40_000);
  const baseline = ratePerSecond(() => {
    let allowed = 0;
    for (const request of requests) if (linear(request)) allowed++;
    return allowed;
  }, requests.length, 4_000);
  const explained = ratePerSecond(() => {
    let length = 0;
    for (const request of requests) length += grant.decideHttp(request.service, request.method, request.segments).explanation.length;
    return length;
  }, requests.length, 2_000);
  const rawPaths = HTTP_REQUESTS.map(([service, method, path]) => ({ service, method, path }));
  const withNormalize = ratePerSecond(() => {
    let allowed = 0;
    for (const request of rawPaths) {
      const normalized = normalizePath(request.path);
      if (normalized.ok && grant.decideHttp(request.service, request.method, normalized.segments).allowed) allowed++;
    }
    return allowed;
  }, rawPaths.length, 10_000);
  const others = ratePerSecond(() => {
    let allowed = 0;
    if (grant.decidePostgres('warehouse', 'select', 'public', 'orders').allowed) allowed++;
    if (grant.decidePostgres('warehouse', 'update', 'public', 'payment_cards').allowed) allowed++;
    if (grant.decideMcp('tools', 'call', 'list_issues').allowed) allowed++;
    if (grant.decideMcp('tools', 'call', 'admin_reset').allowed) allowed++;
    if (grant.decideAdmin('tokens.read', 'prod').allowed) allowed++;
    return allowed;
  }, 5, 100_000);
  const compileMicros = timeEach(() => compileGrant(permissions), 2_000);
  const parseCompileMicros = timeEach(() => compileGrant(parsePermissions(BENCH_GRANT, catalog)), 2_000);

  console.log(`policy bench: grant of ${permissions.length} permissions (${permissions.filter((p) => p.effect === 'deny').length} denies), ${requests.length} HTTP requests (${allowedCount} allowed, ${requests.length - allowedCount} denied), one core, node ${process.version}, load average ${loadavg()[0]?.toFixed(1)}`);
  console.log(`  http decisions, compiled grant:          ${format(compiled.rate)} /s`);
  console.log(`  http decisions, baseline linear scan:    ${format(baseline.rate)} /s (${(compiled.rate / baseline.rate).toFixed(1)}x slower)`);
  console.log(`  http decisions + normalizePath:          ${format(withNormalize.rate)} /s`);
  console.log(`  http decisions, explanation read:        ${format(explained.rate)} /s`);
  console.log(`  postgres, mcp and admin decisions:       ${format(others.rate)} /s`);
  console.log(`  compile of the grant (median of 2000):   ${compileMicros.toFixed(1)} µs`);
  console.log(`  parse + compile (median of 2000):        ${parseCompileMicros.toFixed(1)} µs`);
  if (compiled.sink + baseline.sink + explained.sink + withNormalize.sink + others.sink < 0) console.log('unreachable');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runPolicyBench();
}
