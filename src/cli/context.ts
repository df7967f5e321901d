import type { Command } from 'commander';
import { AdminClient } from './client.js';
import { createOutput, type Output } from './output.js';

export interface CommandContext {
  readonly client: AdminClient;
  readonly out: Output;
}

/** Global flags, then LATCHKEY_URL / LATCHKEY_TOKEN, then the default admin address. */
export function contextOf(command: Command): CommandContext {
  const options = command.opts() as { url?: string; token?: string; adminToken?: string; json?: boolean };
  const ownToken = command.options.some((option) => option.long === '--admin-token');
  return {
    client: new AdminClient({
      url: options.url ?? process.env.LATCHKEY_URL ?? 'http://127.0.0.1:7700',
      token: (ownToken ? options.adminToken : options.token) ?? process.env.LATCHKEY_TOKEN,
    }),
    out: createOutput(options.json === true),
  };
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
