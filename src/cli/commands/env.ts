import type { Command } from 'commander';
import { block, table } from '../output.js';
import { contextOf } from '../context.js';

export function registerEnv(program: Command): void {
  const env = program.command('env').description('environments (prod, staging, dev, ...)');
  env.command('create <name>')
    .description('create an environment')
    .option('--max-ttl <duration>', 'longest token lifetime, e.g. 90d')
    .action(async (name: string, options: { maxTtl?: string }, command: Command) => {
      const { client, out } = contextOf(command);
      const created = await client.call('POST', '/v1/environments', { name, ...(options.maxTtl !== undefined && { maxTtl: options.maxTtl }) });
      out.print(created, () => `created environment ${created.name} (max token lifetime ${created.maxTtl})`);
    });
  env.command('list')
    .description('list environments')
    .action(async (_options: unknown, command: Command) => {
      const { client, out } = contextOf(command);
      const list = await client.call<{ items: Record<string, unknown>[] }>('GET', '/v1/environments');
      out.print(list, () => table(list.items, ['name', 'maxTtl', 'createdAt']));
    });
  env.command('show <name>')
    .description('show an environment')
    .action(async (name: string, _options: unknown, command: Command) => {
      const { client, out } = contextOf(command);
      const shown = await client.call('GET', `/v1/environments/${encodeURIComponent(name)}`);
      out.print(shown, () => block(shown));
    });
}
