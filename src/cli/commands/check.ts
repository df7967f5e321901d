import type { Command } from 'commander';
import { CliError } from '../client.js';
import { block } from '../output.js';
import { collect, contextOf } from '../context.js';

export function registerCheck(program: Command): void {
  program.command('check <method> <path>')
    .description('would this request be allowed, and why? path is /<service>/<rest>')
    .option('--token <token>', 'a token to check (or LATCHKEY_CHECK_TOKEN)')
    .option('--grant <permission>', 'check a grant written out instead of a token (repeatable)', collect)
    .action(async (method: string, path: string, options: { grant?: string[] }, command: Command) => {
      const { client, out } = contextOf(command);
      // --token on this command names the token under test; the admin token comes from LATCHKEY_TOKEN.
      const subject = (command.opts() as { token?: string }).token ?? process.env.LATCHKEY_CHECK_TOKEN;
      if ((subject === undefined) === (options.grant === undefined)) throw new CliError('give --token or --grant');
      const result = await client.call<Record<string, unknown> & { allowed: boolean }>('POST', '/v1/check', {
        method: method.toUpperCase(),
        path,
        ...(subject !== undefined ? { token: subject } : { grant: options.grant }),
      });
      out.print(result, () => `${result.allowed ? 'ALLOWED' : 'DENIED'}\n${block({ reason: result.reason, matched: result.matched, nearest: result.nearest, why: result.explanation, 'server time': result.serverMicros === undefined ? null : `${Number(result.serverMicros).toFixed(1)} µs` })}`);
      if (!result.allowed) process.exitCode = 3;
    });
}
