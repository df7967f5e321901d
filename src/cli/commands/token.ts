import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { CliError } from '../client.js';
import { block, inWords, table } from '../output.js';
import { collect, contextOf } from '../context.js';

interface CreateOptions {
  name: string;
  env: string;
  role?: string[];
  allow?: string[];
  ttl?: string;
  expires?: string;
  notBefore?: string;
  cidr?: string[];
  rate?: string;
  maxUses?: string;
  owner?: string;
  honey?: boolean;
  plant?: string;
  force?: boolean;
}

/**
 * A decoy worth stealing: a deploy .env naming the admin API it came from, so
 * whoever tries it knocks where the honeytoken alarm listens.
 */
export function decoyEnvFile(token: string, adminUrl: string, name: string): string {
  return [
    `# ${name} — deploy credentials, do not commit`,
    `LATCHKEY_URL=${adminUrl}`,
    `LATCHKEY_TOKEN=${token}`,
    '',
  ].join('\n');
}

/** Writes the decoy with mode 0600; an existing file is kept unless forced. */
function plantDecoy(path: string, text: string, force: boolean): string {
  const target = resolve(path);
  writeFileSync(target, text, { mode: 0o600, flag: force ? 'w' : 'wx' });
  chmodSync(target, 0o600); // an overwritten file keeps its old mode otherwise
  return target;
}

interface TreeNode {
  id: string;
  name: string;
  status: string;
  expiresAt: number;
  children: TreeNode[];
}

/** The token and everything derived from it, indented by depth. */
function treeLines(node: TreeNode, depth = 0): string[] {
  const line = `${'  '.repeat(depth)}${depth === 0 ? '' : '└ '}${node.id} "${node.name}" ${node.status}, expires ${new Date(node.expiresAt).toISOString()}`;
  return [line, ...node.children.flatMap((child) => treeLines(child, depth + 1))];
}

const COLUMNS = ['id', 'name', 'env', 'status', 'hint', 'expiresAt', 'roles', 'permissions'];

export function registerToken(program: Command): void {
  const token = program.command('token').description('scoped, short-lived tokens');
  token.command('create')
    .description('create a token; its plaintext is printed this once')
    .requiredOption('--name <name>', 'what the token is for')
    .requiredOption('--env <env>', 'the one environment the token works in')
    .option('--role <role>', 'a role (repeatable)', collect)
    .option('--allow <permission>', 'a permission (repeatable), e.g. orders:read:/v1/**', collect)
    .option('--ttl <duration>', 'lifetime: 30m, 12h, 7d')
    .option('--expires <time>', 'absolute expiry (ISO 8601) instead of --ttl')
    .option('--not-before <time>', 'not valid before (ISO 8601)')
    .option('--cidr <cidr>', 'client addresses allowed (repeatable)', collect)
    .option('--rate <rate>', 'rate limit: 100/min, 10/s')
    .option('--max-uses <n>', 'usage cap')
    .option('--owner <owner>', 'who is responsible for it')
    .option('--honey', 'a honeytoken: refused like an unknown token, its use is an alarm')
    .option('--plant <file>', 'with --honey: write a decoy .env holding it to FILE (mode 0600) for attackers to find')
    .option('--force', 'with --plant: overwrite FILE if it exists')
    .action(async (options: CreateOptions, command: Command) => {
      const { client, out } = contextOf(command);
      if (options.plant !== undefined && options.honey !== true) throw new CliError('--plant needs --honey: only a honeytoken may be left where attackers look');
      // Refused before the token exists, so a refusal leaves nothing behind.
      if (options.plant !== undefined && options.force !== true && existsSync(options.plant)) throw new CliError(`${options.plant} exists: pass --force to overwrite it`);
      if (options.ttl === undefined && options.expires === undefined) throw new CliError('every token needs an expiry: give --ttl (e.g. 1h) or --expires');
      let maxUses: number | undefined;
      if (options.maxUses !== undefined) {
        maxUses = Number(options.maxUses);
        if (!Number.isInteger(maxUses) || maxUses < 1) throw new CliError('--max-uses: expected a positive whole number');
      }
      const created = await client.call<Record<string, unknown> & { id: string; token: string }>('POST', '/v1/tokens', {
        name: options.name,
        env: options.env,
        roles: options.role ?? [],
        permissions: options.allow ?? [],
        ...(options.ttl !== undefined && { ttl: options.ttl }),
        ...(options.expires !== undefined && { expiresAt: options.expires }),
        ...(options.notBefore !== undefined && { notBefore: options.notBefore }),
        cidrs: options.cidr ?? [],
        ...(options.rate !== undefined && { rate: options.rate }),
        ...(maxUses !== undefined && { maxUses }),
        ...(options.owner !== undefined && { owner: options.owner }),
        honey: options.honey === true,
      });
      if (options.plant !== undefined) {
        const adminUrl = (command.opts() as { url?: string }).url ?? process.env.LATCHKEY_URL ?? 'http://127.0.0.1:7700';
        let planted: string;
        try {
          planted = plantDecoy(options.plant, decoyEnvFile(created.token, adminUrl, options.name), options.force === true);
        } catch (err) {
          throw new CliError(`honeytoken ${created.id} created but not planted: ${(err as Error).message}`);
        }
        out.print({ id: created.id, name: created.name, env: created.env, hint: created.hint, planted }, () =>
          `honeytoken ${created.id} (${String(created.hint)}) planted in ${planted} (mode 0600); its use raises a honeytoken_used alert`);
        return;
      }
      out.print({ ...created, id: created.id, token: created.token }, () =>
        `${block({ id: created.id, name: created.name, env: created.env, expiresAt: created.expiresAt })}\n\n` +
        `token (shown this once, store it now):\n${created.token}`);
    });
  token.command('list')
    .description('list tokens')
    .option('--env <env>').option('--status <status>').option('--role <role>').option('--owner <owner>')
    .option('--name <text>', 'name contains')
    .option('--limit <n>', 'page size', '50')
    .option('--cursor <cursor>', 'next page, from a previous listing')
    .action(async (options: Record<string, string | undefined>, command: Command) => {
      const { client, out } = contextOf(command);
      const query = new URLSearchParams();
      for (const key of ['env', 'status', 'role', 'owner', 'name', 'limit', 'cursor']) {
        if (options[key] !== undefined) query.set(key, options[key]!);
      }
      const page = await client.call<{ items: Record<string, unknown>[]; nextCursor: string | null }>('GET', `/v1/tokens?${query}`);
      out.print(page, () => table(page.items, COLUMNS) + (page.nextCursor === null ? '' : `\n(more: --cursor ${page.nextCursor})`));
    });
  token.command('show <id>')
    .description('show a token (never its secret)')
    .action(async (id: string, _options: unknown, command: Command) => {
      const { client, out } = contextOf(command);
      const shown = await client.call<Record<string, unknown> & { tree: TreeNode }>('GET', `/v1/tokens/${encodeURIComponent(tokenId(id))}`);
      const { tree, usage, ...rest } = shown as typeof shown & { usage?: Array<{ permission: string; count: number; lastUsed: string }> };
      const now = Date.now();
      const words = {
        ...rest,
        expiresAt: `${String(rest.expiresAt)} (${now < Date.parse(String(rest.expiresAt)) ? 'expires' : 'expired'} ${inWords(Date.parse(String(rest.expiresAt)) - now)})`,
        lastUsed: rest.lastUsed === null || rest.lastUsed === undefined ? 'never (or not yet flushed)' : `${String(rest.lastUsed)} (${inWords(Date.parse(String(rest.lastUsed)) - now)})`,
      };
      const used = (usage ?? []).map((u) => `  ${u.permission}  ${u.count} request(s), last ${u.lastUsed}`);
      out.print(shown, () => `${block(words)}${used.length === 0 ? '' : `\n\nusage:\n${used.join('\n')}`}\n\ntree:\n${treeLines(tree).join('\n')}`);
    });
  token.command('update <id>')
    .description("change a token's expiry (within its environment's policy), CIDRs, rate or use cap without re-issuing it")
    .option('--ttl <duration>', 'new lifetime from now, e.g. 7d')
    .option('--expires-at <time>', 'new expiry, ISO 8601')
    .option('--cidr <cidr>', 'allowed client address or range (repeatable): the whole new list', collect)
    .option('--no-cidrs', 'allow any client address')
    .option('--rate <rate>', 'new rate limit, e.g. 100/min')
    .option('--no-rate', 'remove the rate limit')
    .option('--max-uses <n>', 'new cap on requests')
    .option('--no-max-uses', 'remove the cap on requests')
    .action(async (id: string, options: { ttl?: string; expiresAt?: string; cidr?: string[]; cidrs?: boolean; rate?: string | false; maxUses?: string | false }, command: Command) => {
      const { client, out } = contextOf(command);
      if (options.cidr !== undefined && options.cidrs === false) throw new CliError('give --cidr or --no-cidrs, not both');
      const maxUses = typeof options.maxUses === 'string' ? Number(options.maxUses) : options.maxUses;
      if (typeof maxUses === 'number' && !Number.isInteger(maxUses)) throw new CliError('--max-uses: expected a whole number');
      const body = {
        ...(options.ttl !== undefined && { ttl: options.ttl }),
        ...(options.expiresAt !== undefined && { expiresAt: options.expiresAt }),
        ...(options.cidr !== undefined ? { cidrs: options.cidr } : options.cidrs === false ? { cidrs: [] } : {}),
        ...(options.rate !== undefined && { rate: options.rate === false ? null : options.rate }),
        ...(maxUses !== undefined && { maxUses: maxUses === false ? null : maxUses }),
      };
      if (Object.keys(body).length === 0) throw new CliError('nothing to change: give --ttl, --expires-at, --cidr, --no-cidrs, --rate, --no-rate, --max-uses or --no-max-uses');
      const result = await client.call<{ before: Record<string, unknown>; after: Record<string, unknown> }>('POST', `/v1/tokens/${encodeURIComponent(tokenId(id))}/update`, body);
      const show = (value: unknown) => (value === null || (Array.isArray(value) && value.length === 0) ? 'none' : typeof value === 'object' ? JSON.stringify(value) : String(value));
      const lines = (['expiresAt', 'cidrs', 'rate', 'maxUses'] as const)
        .filter((field) => JSON.stringify(result.before[field]) !== JSON.stringify(result.after[field]))
        .map((field) => `  ${field.padEnd(9)} ${show(result.before[field])} → ${show(result.after[field])}`);
      out.print(result, () => [`updated ${String(result.after.id)}:`, ...(lines.length === 0 ? ['  (nothing changed)'] : lines)].join('\n'));
    });
  for (const [verb, done, description] of [
    ['revoke', 'revoked', 'revoke a token and every token derived from it, everywhere'],
    ['disable', 'disabled', 'disable a token until it is enabled'],
    ['enable', 'enabled', 'enable a disabled token'],
  ] as const) {
    token.command(`${verb} <id>`)
      .description(description)
      .action(async (id: string, _options: unknown, command: Command) => {
        const { client, out } = contextOf(command);
        const result = await client.call<{ changed: string[] }>('POST', `/v1/tokens/${encodeURIComponent(tokenId(id))}/${verb}`);
        const derived = result.changed.length > 1 ? ` and ${result.changed.length - 1} derived token(s)` : '';
        out.print(result, () => (result.changed.length === 0 ? `${id} was already ${done}` : `${done} ${id}${derived}`));
      });
  }
  token.command('rotate <id>')
    .description('issue a successor with the same grant; the old token keeps working for --grace, then is revoked')
    .option('--grace <duration>', 'how long the old token keeps working (0 revokes it at once)', '0')
    .action(async (id: string, options: { grace: string }, command: Command) => {
      const { client, out } = contextOf(command);
      const rotated = await client.call<Record<string, unknown> & { id: string; token: string; predecessorUntil: string; revoked: string[] }>(
        'POST', `/v1/tokens/${encodeURIComponent(tokenId(id))}/rotate`, { grace: options.grace });
      out.print(rotated, () =>
        `${block({ id: rotated.id, predecessor: id, expiresAt: rotated.expiresAt, 'old token until': rotated.revoked.length > 0 ? 'revoked now' : rotated.predecessorUntil })}\n\n` +
        `token (shown this once, store it now):\n${rotated.token}`);
    });
  token.command('derive')
    .description('mint a child of the token this command runs with (LATCHKEY_TOKEN), within it in every dimension')
    .requiredOption('--name <name>', 'what the child is for')
    .requiredOption('--allow <permission>', 'a permission within the parent\'s (repeatable)', collect)
    .option('--ttl <duration>', 'lifetime (default: until the parent expires)')
    .option('--not-before <time>', 'not valid before (ISO 8601)')
    .option('--cidr <cidr>', 'client addresses allowed (repeatable; default: the parent\'s)', collect)
    .option('--rate <rate>', 'rate limit (default: the parent\'s)')
    .option('--max-uses <n>', 'usage cap (default: the parent\'s remaining uses)')
    .action(async (options: { name: string; allow: string[]; ttl?: string; notBefore?: string; cidr?: string[]; rate?: string; maxUses?: string }, command: Command) => {
      const { client, out } = contextOf(command);
      const maxUses = options.maxUses === undefined ? undefined : Number(options.maxUses);
      if (maxUses !== undefined && (!Number.isInteger(maxUses) || maxUses < 1)) throw new CliError('--max-uses: expected a positive whole number');
      const child = await client.call<Record<string, unknown> & { id: string; token: string }>('POST', '/v1/tokens/derive', {
        name: options.name,
        permissions: options.allow,
        ...(options.ttl !== undefined && { ttl: options.ttl }),
        ...(options.notBefore !== undefined && { notBefore: options.notBefore }),
        ...(options.cidr !== undefined && { cidrs: options.cidr }),
        ...(options.rate !== undefined && { rate: options.rate }),
        ...(maxUses !== undefined && { maxUses }),
      });
      out.print(child, () =>
        `${block({ id: child.id, parent: child.parentId, env: child.env, expiresAt: child.expiresAt, permissions: child.permissions })}\n\n` +
        `token (shown this once, store it now):\n${child.token}`);
    });
  token.command('narrow <id>')
    .description("replace a token's grant by a narrower one, after replaying its audited requests against it")
    .requiredOption('--to <grant>', "'suggested' (from the overprivileged report), or permissions separated by spaces or commas")
    .option('--days <n>', 'the window of audited requests replayed', '30')
    .option('--dry-run', 'only replay: show how many requests would now be refused')
    .action(async (id: string, options: { to: string; days: string; dryRun?: boolean }, command: Command) => {
      const { client, out } = contextOf(command);
      const days = Number(options.days);
      if (!Number.isInteger(days) || days < 1) throw new CliError('--days: expected a positive whole number');
      const to = options.to === 'suggested' ? 'suggested' : options.to.split(/[\s,]+/).filter((p) => p !== '');
      const plan = await client.call<{ proposed: string[]; current: string[]; applied: boolean; replay: { requests: number; refused: number; refusals: { service: string; action: string; resource: string; count: number }[] } }>(
        'POST', `/v1/tokens/${encodeURIComponent(tokenId(id))}/narrow`, { to, days, dryRun: options.dryRun === true });
      out.print(plan, () => [
        `${plan.applied ? 'narrowed' : 'would narrow'} ${id}`,
        `  from: ${plan.current.join(' ')}`,
        `  to:   ${plan.proposed.join(' ')}`,
        `replayed ${plan.replay.requests} request(s) of the last ${days} days: ${plan.replay.refused} would be refused`,
        ...plan.replay.refusals.map((r) => `  ${r.count}× ${r.service} ${r.action} ${r.resource}`),
      ].join('\n'));
    });
}

/**
 * Token commands take a token's id. A plaintext token given instead (easily
 * pasted by mistake) is refused here, before it is sent anywhere or echoed.
 */
function tokenId(given: string): string {
  if (given.startsWith('lk_')) {
    throw new CliError('that is a token itself, not its id: give the tok_... id (latchkey token list shows it); ' +
      'to ask what a token can do from its plaintext, use latchkey check --token (or LATCHKEY_CHECK_TOKEN)', 'usage');
  }
  return given;
}
