import type { Command } from 'commander';
import { block, table } from '../output.js';
import { collect, contextOf } from '../context.js';

export function registerRole(program: Command): void {
  const role = program.command('role').description('named, reusable sets of permissions');
  role.command('create <name>')
    .description('create a role')
    .requiredOption('--allow <permission>', 'a permission (repeatable), e.g. orders:read:/v1/**', collect)
    .option('--description <text>', 'what the role is for')
    .action(async (name: string, options: { allow: string[]; description?: string }, command: Command) => {
      const { client, out } = contextOf(command);
      const created = await client.call('POST', '/v1/roles', {
        name,
        permissions: options.allow,
        ...(options.description !== undefined && { description: options.description }),
      });
      out.print(created, () => `created role ${name}: ${options.allow.join(' ')}`);
    });
  role.command('update <name>')
    .description('replace a role\'s permissions (only narrowing while live tokens hold it)')
    .requiredOption('--allow <permission>', 'a permission (repeatable); the whole new set', collect)
    .option('--description <text>', 'what the role is for')
    .action(async (name: string, options: { allow: string[]; description?: string }, command: Command) => {
      const { client, out } = contextOf(command);
      const updated = await client.call('PUT', `/v1/roles/${encodeURIComponent(name)}`, {
        permissions: options.allow,
        ...(options.description !== undefined && { description: options.description }),
      });
      out.print(updated, () => `updated role ${name}: ${options.allow.join(' ')}`);
    });
  role.command('list')
    .description('list roles')
    .action(async (_options: unknown, command: Command) => {
      const { client, out } = contextOf(command);
      const list = await client.call<{ items: Record<string, unknown>[] }>('GET', '/v1/roles');
      out.print(list, () => table(list.items, ['name', 'permissions', 'description']));
    });
  role.command('show <name>')
    .description('show a role')
    .action(async (name: string, _options: unknown, command: Command) => {
      const { client, out } = contextOf(command);
      const shown = await client.call('GET', `/v1/roles/${encodeURIComponent(name)}`);
      out.print(shown, () => block(shown));
    });
  role.command('delete <name>')
    .description('delete a role')
    .action(async (name: string, _options: unknown, command: Command) => {
      const { client, out } = contextOf(command);
      await client.call('DELETE', `/v1/roles/${encodeURIComponent(name)}`);
      out.print({ deleted: name }, () => `deleted role ${name}`);
    });
}
