import { Command, CommanderError } from 'commander';
import { LATCHKEY_VERSION } from '../config/version.js';
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
import { registerReport } from './commands/report.js';
import { registerStatus } from './commands/status.js';
import { registerCompletion } from './commands/completion.js';
import { registerApply } from './commands/apply.js';
import { registerMcpWrap } from './commands/mcp-wrap.js';

/** Commands that work on the data directory itself, not through the admin API. */
const LOCAL_COMMANDS = new Set(['init', 'serve', 'gateway', 'completion']);

function leaves(command: Command): Command[] {
  return command.commands.length === 0 ? [command] : command.commands.flatMap(leaves);
}

function groupsAndLeaves(command: Command): Command[] {
  return [command, ...command.commands.flatMap(groupsAndLeaves)];
}

/** Failures as one line on stderr, or one JSON object with --json; the line says what to do next. */
function reportFailure(code: string, message: string, json: boolean): void {
  const line = message.split('\n')[0]!;
  // The human line leads with the code; the JSON object has it in its own field.
  const bare = line.startsWith(`${code}: `) ? line.slice(code.length + 2) : line;
  process.stderr.write(json ? `${JSON.stringify({ error: code, message: bare })}\n` : `latchkey: ${line}\n`);
}

export function buildProgram(json = false): Command {
  const program = new Command('latchkey')
    .description('least-privilege access gateway')
    // Flags before the command belong to latchkey itself (`latchkey --json --url U token list`);
    // after it, to the command, so `check --token T` can name the token under test.
    .enablePositionalOptions()
    .option('--json', 'machine-readable output (errors too)')
    .option('--url <url>', 'admin API address (default LATCHKEY_URL or http://127.0.0.1:7700)')
    .option('--token <token>', 'admin token (prefer LATCHKEY_TOKEN: flags show in process lists)')
    .configureOutput({
      // Usage errors are one line, like every other failure, and name the help to read.
      outputError: (text) => {
        const message = text.replace(/^error: /, '').trim().split('\n').map((line) => line.trim()).join(' ');
        reportFailure('usage', `${message} (see latchkey --help, or latchkey COMMAND --help)`, json);
      },
    })
    .exitOverride();
  registerServer(program);
  registerGateway(program);
  registerEnv(program);
  registerService(program);
  registerRole(program);
  registerToken(program);
  registerReport(program);
  registerCheck(program);
  registerAudit(program);
  registerScan(program);
  registerStatus(program);
  registerCompletion(program);
  registerApply(program);
  registerMcpWrap(program);
  for (const command of groupsAndLeaves(program)) command.version(LATCHKEY_VERSION, '--version', 'print the version of latchkey');
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
  const json = argv.slice(2).includes('--json');
  const program = buildProgram(json);
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
    const code = err instanceof CliError || err instanceof LatchkeyError ? err.code
      : known ? ((err as Error).name === 'KeyError' ? 'key_error' : 'config_error') : 'internal_error';
    reportFailure(code, message, json);
    return 1;
  }
}
