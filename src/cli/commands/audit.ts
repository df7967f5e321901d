import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { CliError } from '../client.js';
import { contextOf } from '../context.js';

interface FilterOptions {
  tokenId?: string;
  service?: string;
  decision?: string;
  reason?: string;
  kind?: string;
  from?: string;
  to?: string;
  after?: string;
}

interface EventLike {
  seq: number;
  time: number;
  kind: 'decision' | 'admin';
  detail: Record<string, unknown>;
}

const FILTERS = ['service', 'decision', 'reason', 'kind', 'from', 'to', 'after'] as const;

function withFilters(command: Command): Command {
  return command
    .option('--token-id <id>', 'events of this token (tok_...)')
    .option('--service <name>')
    .option('--decision <allow|deny>')
    .option('--reason <code>')
    .option('--kind <decision|admin>')
    .option('--from <time>', 'ISO 8601, inclusive')
    .option('--to <time>', 'ISO 8601, exclusive')
    .option('--after <seq>', 'events after this sequence number');
}

function query(options: FilterOptions, extra: Record<string, string> = {}): string {
  const params = new URLSearchParams(extra);
  for (const key of FILTERS) if (options[key] !== undefined) params.set(key, options[key]!);
  if (options.tokenId !== undefined) params.set('token', options.tokenId);
  return params.toString();
}

/** One line an event: what a person scans in a terminal. */
export function eventLine(event: EventLike): string {
  const time = new Date(event.time).toISOString();
  const d = event.detail;
  const clean = (value: unknown) => String(value ?? '-').replace(/[\u0000-\u001f\u007f]/g, '?');
  if (event.kind === 'admin') return `${event.seq}  ${time}  admin     ${clean(d.actor)}  ${clean(d.action)}  ${clean(d.target)}`;
  return `${event.seq}  ${time}  ${clean(d.decision).padEnd(8)}  ${clean(d.reason)}  ${clean(d.service)}  ${clean(d.action)} ${clean(d.resource)}  ${clean(d.tokenName ?? d.tokenId)}`;
}

export function registerAudit(program: Command): void {
  const audit = program.command('audit').description('the tamper-evident audit trail');

  audit.command('tail')
    .description('the newest events; with -f, keep following')
    .option('-n, --lines <n>', 'how many', '20')
    .option('-f, --follow', 'keep printing new events')
    .action(async (options: { lines: string; follow?: boolean }, command: Command) => {
      const { client, out } = contextOf(command);
      const lines = Number(options.lines);
      if (!Number.isInteger(lines) || lines < 0 || lines > 1000) throw new CliError('--lines: expected 0 to 1000');
      const { head } = await client.call<{ head: { seq: number } }>('GET', '/v1/audit/head');
      let after = Math.max(0, head.seq - lines);
      for (;;) {
        const page = await client.call<{ items: EventLike[] }>('GET', `/v1/audit/events?after=${after}&limit=1000`);
        for (const event of page.items) {
          process.stdout.write(out.json ? `${JSON.stringify(event)}\n` : `${eventLine(event)}\n`);
          after = event.seq;
        }
        if (options.follow !== true && page.items.length < 1000) return;
        if (page.items.length < 1000) await new Promise((r) => setTimeout(r, 500));
      }
    });

  withFilters(audit.command('query'))
    .description('events matching filters, in sequence order')
    .option('--limit <n>', 'page size (at most 1000)', '100')
    .action(async (options: FilterOptions & { limit: string }, command: Command) => {
      const { client, out } = contextOf(command);
      const page = await client.call<{ items: EventLike[]; nextAfter: number | null }>('GET', `/v1/audit/events?${query(options, { limit: options.limit })}`);
      out.print(page, () => (page.items.length === 0 ? '(none)' : page.items.map(eventLine).join('\n')) +
        (page.nextAfter === null ? '' : `\n(more: --after ${page.nextAfter})`));
    });

  withFilters(audit.command('export'))
    .description('stream matching events as JSONL or CSV to stdout')
    .option('--format <format>', 'jsonl or csv', 'jsonl')
    .action(async (options: FilterOptions & { format: string }, command: Command) => {
      const { client } = contextOf(command);
      if (!['jsonl', 'csv'].includes(options.format)) throw new CliError('--format: expected jsonl or csv');
      const response = await client.stream(`/v1/audit/export?${query(options, { format: options.format })}`);
      for await (const chunk of response) process.stdout.write(chunk as Buffer);
    });

  audit.command('verify')
    .description('walk the chain and its checkpoints; exit non-zero naming the first bad sequence number')
    .option('--checkpoints <file>', 'checkpoint file kept outside the store (audit.checkpointFile)')
    .action(async (options: { checkpoints?: string }, command: Command) => {
      const { client, out } = contextOf(command);
      let checkpoints: unknown[] = [];
      if (options.checkpoints !== undefined) {
        const text = await readFile(options.checkpoints, 'utf8').catch((err: Error) => {
          throw new CliError(`--checkpoints: ${err.message}`);
        });
        checkpoints = text.split('\n').filter((line) => line.trim() !== '').flatMap((line) => {
          try { return [JSON.parse(line)]; } catch { return []; }
        });
      }
      const result = await client.call<{ ok: boolean; seq?: number; problem?: string; detail?: string; events?: number; checkpoints?: number }>(
        'POST', '/v1/audit/verify', { checkpoints });
      out.print(result, () => (result.ok
        ? `audit trail intact: ${result.events} events, ${result.checkpoints} signed checkpoints`
        : `audit trail BROKEN at seq ${result.seq}: ${result.problem} — ${result.detail}`));
      if (!result.ok) process.exitCode = 4;
    });
}
