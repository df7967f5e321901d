import type { Command } from 'commander';
import { parseListenAddress } from '../../config/index.js';
import { startStdioBridge } from '../../mcp/index.js';
import { CliError } from '../client.js';
import { jsonWanted } from '../context.js';

// `latchkey mcp-wrap --service NAME -- COMMAND ARGS...`: runs a stdio MCP
// server and serves it over Streamable HTTP on a loopback address, printed
// once it listens, for a binding of the mcp service NAME to point at. It does
// not register the binding itself: that is an admin change, made (once) with
// `latchkey service add NAME --kind mcp --upstream URL`, and the bridge's
// port is fixed with --listen so the binding stays valid across restarts.

export function registerMcpWrap(program: Command): void {
  program.command('mcp-wrap')
    .description('serve a stdio MCP server over Streamable HTTP on loopback, for an mcp service binding to point at')
    .requiredOption('--service <name>', 'the mcp service whose binding points here (named in the printed hint)')
    .option('--listen <host:port>', 'where to listen (loopback only)', '127.0.0.1:7711')
    .argument('<command...>', 'the stdio server and its arguments, after --')
    .action(async (argv: string[], options: { service: string; listen: string }, command: Command) => {
      const at = parseListenAddress(options.listen, '--listen');
      if (at.host !== '127.0.0.1' && at.host !== '::1' && at.host !== 'localhost') {
        throw new CliError(`--listen ${options.listen}: mcp-wrap listens on loopback only (127.0.0.1 or ::1); the gateway is what other hosts reach`);
      }
      const [executable, ...args] = argv;
      const bridge = await startStdioBridge({ command: executable!, args, host: at.host, port: at.port });
      const hint = `latchkey service add ${options.service} --kind mcp --env ENV --upstream ${bridge.url}`;
      if (jsonWanted(command)) process.stdout.write(`${JSON.stringify({ service: options.service, url: bridge.url })}\n`);
      else process.stdout.write(`serving ${executable} for service ${options.service} at ${bridge.url}\nbind it once with: ${hint}\n`);
      const stop = (): void => {
        void bridge.close().then(() => process.exit(0));
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      await new Promise<never>(() => undefined);
    });
}
