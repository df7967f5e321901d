import { Command, CommanderError } from 'commander';
import { ConfigError, KeyError } from '../config/index.js';
import { LatchkeyError } from '../errors/index.js';
import { CliError } from './client.js';
import { registerCheck } from './commands/check.js';
import { registerEnv } from './commands/env.js';
import { registerRole } from './commands/role.js';
import { registerServer } from './commands/server.js';
import { registerService } from './commands/service.js';
import { registerToken } from './commands/token.js';

export function buildProgram(): Command {
  const program = new Command('latchkey')
    .description('least-privilege access gateway')
    .option('--url <url>', 'admin API address (default LATCHKEY_URL or http://127.0.0.1:7700)')
    .option('--token <token>', 'admin token (prefer LATCHKEY_TOKEN: flags show up in process lists)')
    .option('--json', 'machine-readable output')
    .showHelpAfterError()
    .exitOverride();
  registerServer(program);
  registerEnv(program);
  registerService(program);
  registerRole(program);
  registerToken(program);
  registerCheck(program);
  for (const command of program.commands) {
    command.exitOverride();
    for (const sub of command.commands) sub.exitOverride();
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
    const known = err instanceof CliError || err instanceof LatchkeyError || err instanceof ConfigError || err instanceof KeyError;
    const message = known ? (err as Error).message : `unexpected error: ${(err as Error)?.message ?? String(err)}`;
    process.stderr.write(`latchkey: ${message.split('\n')[0]}\n`);
    return 1;
  }
}
