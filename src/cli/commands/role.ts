import type { Command } from 'commander';
import { block, table } from '../output.js';
import { collect, contextOf } from '../context.js';

interface HolderView {
  id: string;
  name: string;
  env: string;
  status: string;
}

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
    .option('--dry-run', 'show the change and the tokens it affects, change nothing')
    .action(async (name: string, options: { allow: string[]; description?: string; dryRun?: boolean }, command: Command) => {
      const { client, out } = contextOf(command);
      // What changes, and for whom, before it changes: the tokens holding the role get the new set at once.
      const before = await client.call<{ permissions: string[] }>('GET', `/v1/roles/${encodeURIComponent(name)}`);
      const added = options.allow.filter((p) => !before.permissions.includes(p));
      const removed = before.permissions.filter((p) => !options.allow.includes(p));
      const holders = await client.call<{ items: HolderView[]; nextCursor: string | null }>('GET', `/v1/tokens?role=${encodeURIComponent(name)}&limit=500`)
        .then((page) => ({ items: page.items.filter((t) => t.status !== 'revoked'), more: page.nextCursor !== null }))
        .catch((err: Error) => ({ error: err.message }));
      const plan = { role: name, added, removed, holders };
      const lines = [
        `role ${name}:`,
        ...added.map((p) => `  + ${p}`),
        ...removed.map((p) => `  - ${p}`),
        ...(added.length + removed.length === 0 ? ['  (permissions unchanged)'] : []),
        'error' in holders
          ? `  the tokens holding it could not be listed (${holders.error})`
          : holders.items.length === 0 ? '  no live token holds it'
          : `  held by ${holders.items.length}${holders.more ? '+' : ''} token(s), changed at once on every gateway:\n` +
            holders.items.map((t) => `    ${t.id}  ${t.name}  ${t.env}  ${t.status}`).join('\n'),
      ];
      if (options.dryRun === true) {
        out.print({ ...plan, applied: false }, () => `${lines.join('\n')}\n(dry run: nothing changed)`);
        return;
      }
      const updated = await client.call('PUT', `/v1/roles/${encodeURIComponent(name)}`, {
        permissions: options.allow,
        ...(options.description !== undefined && { description: options.description }),
      });
      out.print({ ...plan, applied: true, updated }, () => `${lines.join('\n')}\nupdated role ${name}`);
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
