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
    .description('would this request be allowed, and why? path is /<service>/<rest>; or --sql STATEMENT --service DB for a postgres service')
    .option('--token <token>', 'a token to check (or LATCHKEY_CHECK_TOKEN)')
    .option('--id <tok_id>', 'check a stored token by its id instead of its plaintext (needs latchkey:tokens.read)')
    .option('--grant <permission>', 'check a grant written out instead of a token (repeatable)', collect)
    .option('--sql <statement>', 'a query string sent to a postgres service (instead of method and path)')
    .option('--service <name>', 'the postgres service --sql is sent to')
    .action(async (method: string | undefined, path: string | undefined, options: { id?: string; grant?: string[]; sql?: string; service?: string }, command: Command) => {
      const { client, out } = contextOf(command);
      // --token on this command names the token under test; the admin token comes from LATCHKEY_TOKEN.
      const subject = (command.opts() as { token?: string }).token ?? process.env.LATCHKEY_CHECK_TOKEN;
      if ([subject, options.id, options.grant].filter((given) => given !== undefined).length !== 1) throw new CliError('give one of --token, --id or --grant');
      const who = subject !== undefined ? { token: subject } : options.id !== undefined ? { tokenId: options.id } : { grant: options.grant };
      const sql = options.sql !== undefined || options.service !== undefined;
      if (sql && (options.sql === undefined || options.service === undefined)) throw new CliError('give both --sql and --service');
      if (sql && method !== undefined) throw new CliError('give --sql and --service, or METHOD PATH, not both');
      if (!sql && (method === undefined || path === undefined)) throw new CliError('give METHOD PATH, or --sql STATEMENT --service DB');
      const result = await client.call<Answer>('POST', '/v1/check', sql ? { sql: options.sql, service: options.service, ...who } : { method: method!.toUpperCase(), path, ...who });
      out.print(result, () => (sql ? sqlText(result) : `${result.allowed ? 'ALLOWED' : 'DENIED'}\n${block({ reason: result.reason, matched: result.matched, nearest: result.nearest, why: result.explanation, 'server time': result.serverMicros === undefined ? null : `${Number(result.serverMicros).toFixed(1)} µs` })}`));
      if (!result.allowed) process.exitCode = 3;
    });
}
