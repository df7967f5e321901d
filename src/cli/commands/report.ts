import type { Command } from 'commander';
import { CliError } from '../client.js';
import { contextOf } from '../context.js';
import { table } from '../output.js';

// `latchkey report unused|overprivileged`: what the gateway saw, for cleaning up.

function query(options: { days: string; env?: string }): string {
  const days = Number(options.days);
  if (!Number.isInteger(days) || days < 1) throw new CliError('--days: expected a positive whole number');
  const params = new URLSearchParams({ days: String(days) });
  if (options.env !== undefined) params.set('env', options.env);
  return params.toString();
}

export function registerReport(program: Command): void {
  const report = program.command('report').description('least-privilege reports from what the gateway saw');
  report.command('unused')
    .description('live tokens not used within the window, or never')
    .option('--days <n>', 'the window', '30')
    .option('--env <env>')
    .action(async (options: { days: string; env?: string }, command: Command) => {
      const { client, out } = contextOf(command);
      const found = await client.call<{ items: Record<string, unknown>[] }>('GET', `/v1/reports/unused?${query(options)}`);
      out.print(found, () => (found.items.length === 0 ? 'no unused tokens' :
        table(found.items.map((t) => ({ ...t, lastUsed: t.lastUsed ?? 'never' })), ['id', 'name', 'env', 'owner', 'lastUsed', 'expiresAt'])));
    });
  report.command('overprivileged')
    .description('granted permissions never exercised in the window, and a suggested minimal grant')
    .option('--days <n>', 'the window', '30')
    .option('--env <env>')
    .action(async (options: { days: string; env?: string }, command: Command) => {
      const { client, out } = contextOf(command);
      const found = await client.call<{ items: { id: string; name: string; unused: string[]; suggested: string[] }[] }>('GET', `/v1/reports/overprivileged?${query(options)}`);
      out.print(found, () => (found.items.length === 0 ? 'no over-privileged tokens' : found.items.map((t) => [
        `${t.id} "${t.name}": ${t.unused.length} permission(s) unused`,
        ...t.unused.map((p) => `  unused:    ${p}`),
        `  suggested: ${t.suggested.join(' ')}`,
        `  (latchkey token narrow ${t.id} --to suggested --dry-run)`,
      ].join('\n')).join('\n\n')));
    });
}
