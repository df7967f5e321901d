import type { Command } from 'commander';
import { CliError } from '../client.js';
import { block } from '../output.js';
import { collect, contextOf } from '../context.js';

export function registerCheck(program: Command): void {
  program.command('check [method] [path]')
    .description("would this request be allowed, and why? path is /<service>/<rest>; or --mcp 'tools/call NAME {ARGS}' --service S")
    .option('--token <token>', 'a token to check (or LATCHKEY_CHECK_TOKEN)')
    .option('--grant <permission>', 'check a grant written out instead of a token (repeatable)', collect)
    .option('--mcp <message>', "an MCP message instead of method and path: 'METHOD [NAME|URI] [{JSON arguments}]'")
    .option('--service <name>', 'the mcp service, with --mcp')
    .action(async (method: string | undefined, path: string | undefined, options: { grant?: string[]; mcp?: string; service?: string }, command: Command) => {
      const { client, out } = contextOf(command);
      // --token on this command names the token under test; the admin token comes from LATCHKEY_TOKEN.
      const subject = (command.opts() as { token?: string }).token ?? process.env.LATCHKEY_CHECK_TOKEN;
      if ((subject === undefined) === (options.grant === undefined)) throw new CliError('give --token or --grant');
      const question = options.mcp !== undefined ? { mcp: mcpQuestion(options.mcp, options.service) } : httpQuestion(method, path);
      const result = await client.call<Record<string, unknown> & { allowed: boolean }>('POST', '/v1/check', {
        ...question,
        ...(subject !== undefined ? { token: subject } : { grant: options.grant }),
      });
      out.print(result, () => `${result.allowed ? 'ALLOWED' : 'DENIED'}\n${block({ reason: result.reason, matched: result.matched, nearest: result.nearest, why: result.explanation, 'server time': result.serverMicros === undefined ? null : `${Number(result.serverMicros).toFixed(1)} µs` })}`);
      if (!result.allowed) process.exitCode = 3;
    });
}

function httpQuestion(method: string | undefined, path: string | undefined): { method: string; path: string } {
  if (method === undefined || path === undefined) throw new CliError("give METHOD PATH, or --mcp 'tools/call NAME {ARGS}' --service S");
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
