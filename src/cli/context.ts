import type { Command } from 'commander';
import { AdminClient } from './client.js';
import { createOutput, type Output } from './output.js';

export interface CommandContext {
  readonly client: AdminClient;
  readonly out: Output;
}

interface GlobalFlags {
  url?: string;
  token?: string;
  adminToken?: string;
  json?: boolean;
}

/**
 * The flags given after the command, then those given before it
 * (`latchkey --json --url U token list`), then LATCHKEY_URL / LATCHKEY_TOKEN,
 * then the default admin address. `check --token` names the token under test,
 * so there the admin token is `--admin-token` (or the global `--token`).
 */
export function contextOf(command: Command): CommandContext {
  const own = command.opts() as GlobalFlags;
  const global = rootOf(command).opts() as GlobalFlags;
  const ownToken = command.options.some((option) => option.long === '--admin-token');
  const flagToken = (ownToken ? own.adminToken : own.token) ?? global.token;
  const flagName = ownToken ? '--admin-token' : '--token';
  return {
    client: new AdminClient({
      url: own.url ?? global.url ?? process.env.LATCHKEY_URL ?? 'http://127.0.0.1:7700',
      token: flagToken ?? process.env.LATCHKEY_TOKEN,
      tokenSource: flagToken !== undefined ? flagName : 'LATCHKEY_TOKEN',
    }),
    out: createOutput(jsonWanted(command)),
  };
}

/** `--json` after the command or before it. */
export function jsonWanted(command: Command): boolean {
  return (command.opts() as GlobalFlags).json === true || (rootOf(command).opts() as GlobalFlags).json === true;
}

function rootOf(command: Command): Command {
  let root = command;
  while (root.parent !== null) root = root.parent;
  return root;
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
