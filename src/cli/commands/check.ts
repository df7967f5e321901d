import type { Command } from 'commander';
import { CliError } from '../client.js';
import { block } from '../output.js';
import { collect, contextOf } from '../context.js';

type Answer = Record<string, unknown> & { allowed: boolean };

/** The SQL form's answer: the decision, then each statement's table uses and the permission each needs. */
function sqlText(result: Answer): string {
  const statements = (result.statements as Array<{ kind: string; uses: Array<{ action: string; table: string; permission: string; allowed: boolean }> }> | undefined) ?? [];
  const uses = statements.flatMap((statement) => statement.uses.map((use) => `  ${use.allowed ? 'granted' : 'DENIED '}  ${statement.kind.padEnd(8)} ${use.action} on ${use.table}  (${use.permission})`));
  return `${result.allowed ? 'ALLOWED' : 'DENIED'}\n${block({
    reason: result.reason, statement: result.kind, table: result.table, needs: result.permission, why: result.explanation,
    'server time': result.serverMicros === undefined ? null : `${Number(result.serverMicros).toFixed(1)} µs`,
  })}${uses.length === 0 ? '' : `\nuses:\n${uses.join('\n')}`}`;
}

export function registerCheck(program: Command): void {
  program.command('check [method] [path]')
    .description("would this request be allowed, and why? path is /<service>/<rest>; or --sql STATEMENT --service DB (postgres), or --mcp 'tools/call NAME {ARGS}' --service S (mcp)")
    .option('--token <token>', 'a token to check (or LATCHKEY_CHECK_TOKEN)')
    .option('--id <tok_id>', 'check a stored token by its id instead of its plaintext (needs latchkey:tokens.read)')
    .option('--grant <permission>', 'check a grant written out instead of a token (repeatable)', collect)
    .option('--sql <statement>', 'a query string sent to a postgres service (instead of method and path)')
    .option('--mcp <message>', "an MCP message instead of method and path: 'METHOD [NAME|URI] [{JSON arguments}]'")
    .option('--service <name>', 'the postgres service --sql is sent to, or the mcp service --mcp is')
    .action(async (method: string | undefined, path: string | undefined, options: { id?: string; grant?: string[]; sql?: string; mcp?: string; service?: string }, command: Command) => {
      const { client, out } = contextOf(command);
      // --token on this command names the token under test; the admin token comes from LATCHKEY_TOKEN.
      const subject = (command.opts() as { token?: string }).token ?? process.env.LATCHKEY_CHECK_TOKEN;
      if ([subject, options.id, options.grant].filter((given) => given !== undefined).length !== 1) throw new CliError('give one of --token, --id or --grant');
      const who = subject !== undefined ? { token: subject } : options.id !== undefined ? { tokenId: options.id } : { grant: options.grant };
      if (options.sql !== undefined && options.mcp !== undefined) throw new CliError('give --sql or --mcp, not both');
      const sql = options.sql !== undefined || (options.service !== undefined && options.mcp === undefined);
      if (sql && (options.sql === undefined || options.service === undefined)) throw new CliError('give both --sql and --service');
      if ((sql || options.mcp !== undefined) && method !== undefined) throw new CliError('give --sql/--mcp and --service, or METHOD PATH, not both');
      const question = sql ? { sql: options.sql, service: options.service }
        : options.mcp !== undefined ? { mcp: mcpQuestion(options.mcp, options.service) }
        : httpQuestion(method, path);
      const result = await client.call<Answer>('POST', '/v1/check', { ...question, ...who });
      out.print(result, () => (sql ? sqlText(result) : `${result.allowed ? 'ALLOWED' : 'DENIED'}\n${block({ reason: result.reason, matched: result.matched, nearest: result.nearest, why: result.explanation, 'server time': result.serverMicros === undefined ? null : `${Number(result.serverMicros).toFixed(1)} µs` })}`));
      if (!result.allowed) process.exitCode = 3;
    });
}

function httpQuestion(method: string | undefined, path: string | undefined): { method: string; path: string } {
  if (method === undefined || path === undefined) throw new CliError("give METHOD PATH, or --sql STATEMENT --service DB, or --mcp 'tools/call NAME {ARGS}' --service S");
  return { method: method.toUpperCase(), path };
}

/** `tools/call create_issue {"repo":"acme/web"}` → the method and its params, as the client would send them. */
export function mcpQuestion(text: string, service: string | undefined): { service: string; method: string; params: Record<string, unknown> } {
  if (service === undefined) throw new CliError('--mcp needs --service (the mcp service the message goes to)');
  const trimmed = text.trim();
  const space = trimmed.search(/\s/);
  const method = space < 0 ? trimmed : trimmed.slice(0, space);
  let rest = space < 0 ? '' : trimmed.slice(space).trim();
  let name: string | undefined;
  if (rest !== '' && !rest.startsWith('{')) {
    const end = rest.search(/\s/);
    name = end < 0 ? rest : rest.slice(0, end);
    rest = end < 0 ? '' : rest.slice(end).trim();
  }
  let args: Record<string, unknown> | undefined;
  if (rest !== '') {
    try {
      args = JSON.parse(rest) as Record<string, unknown>;
    } catch {
      throw new CliError(`--mcp: ${JSON.stringify(rest.slice(0, 80))} is not a JSON object of arguments`);
    }
    if (typeof args !== 'object' || args === null || Array.isArray(args)) throw new CliError('--mcp: the arguments must be a JSON object');
  }
  const isResource = method.startsWith('resources/');
  const params: Record<string, unknown> = isResource ? { ...(name !== undefined && { uri: name }) } : { ...(name !== undefined && { name }), ...(args !== undefined && { arguments: args }) };
  return { service, method, params };
}
