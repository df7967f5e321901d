import { Command, CommanderError } from 'commander';
import { LatchkeyError } from '../errors/index.js';
import { CliError } from './client.js';
import { registerAudit } from './commands/audit.js';
import { registerCheck } from './commands/check.js';
import { registerEnv } from './commands/env.js';
import { registerRole } from './commands/role.js';
import { registerScan } from './commands/scan.js';
import { registerGateway, registerServer } from './commands/server.js';
import { registerService } from './commands/service.js';
import { registerToken } from './commands/token.js';

/** Commands that work on the data directory itself, not through the admin API. */
const LOCAL_COMMANDS = new Set(['init', 'serve', 'gateway']);

function leaves(command: Command): Command[] {
  return command.commands.length === 0 ? [command] : command.commands.flatMap(leaves);
}

export function buildProgram(): Command {
  const program = new Command('latchkey')
    .description('least-privilege access gateway')
    .showHelpAfterError()
    .exitOverride();
  registerServer(program);
  registerGateway(program);
  registerEnv(program);
  registerService(program);
  registerRole(program);
  registerToken(program);
  registerCheck(program);
  registerAudit(program);
  registerScan(program);
  for (const command of leaves(program)) {
    command.exitOverride();
    command.option('--json', 'machine-readable output');
    if (LOCAL_COMMANDS.has(command.name())) continue;
    command.option('--url <url>', 'admin API address (default LATCHKEY_URL or http://127.0.0.1:7700)');
    // `check --token` names the token under test, so there the admin token has its own flag.
    const own = command.options.some((option) => option.long === '--token');
    command.option(own ? '--admin-token <token>' : '--token <token>', 'admin token (prefer LATCHKEY_TOKEN: flags show in process lists)');
  }
  return program;
}

/** Runs the command line; resolves to the exit code. Failures are one line on stderr. */
export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync([...argv]);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are not failures; commander already printed its message.
      return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help' ? 0 : 2;
    }
    // Errors Latchkey raises on purpose carry a message meant for the operator.
    const known = err instanceof CliError || err instanceof LatchkeyError || ['ConfigError', 'KeyError'].includes((err as Error)?.name);
    const message = known ? (err as Error).message : `unexpected error: ${(err as Error)?.message ?? String(err)}`;
    process.stderr.write(`latchkey: ${message.split('\n')[0]}\n`);
    return 1;
  }
}
