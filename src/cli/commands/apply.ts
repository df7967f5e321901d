import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import {
  applyPlan, ApplyError, exportDocument, exportYaml, FileError, liveHolders, makePlan, readCurrent, readLatchkeyFile, refusals, renderPlan,
  type AdminApi, type Holder,
} from '../../declarative/index.js';
import { CliError } from '../client.js';
import { contextOf } from '../context.js';

// `latchkey apply` and `latchkey export`: access kept in Git and reviewed like
// code. The plan is shown before anything changes; every change is an admin
// API request, audited like the same change by hand.

function holdersVia(api: AdminApi): (role: string) => Promise<readonly Holder[] | null> {
  return async (role) => {
    try {
      return await liveHolders(api, role, Date.now());
    } catch (err) {
      if (err instanceof CliError && err.code === 'permission_denied') return null;
      throw err;
    }
  };
}

function readSource(file: string): string {
  try {
    return readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message} (give the file with -f FILE, or -f - for stdin)`, 'cli');
  }
}

export function registerApply(program: Command): void {
  program.command('apply')
    .description('make the server match a latchkey.yaml: shows the plan, then applies it (environments, services, roles)')
    .requiredOption('-f, --file <file>', 'the YAML or JSON file (- for stdin)')
    .option('--dry-run', 'show the plan only; change nothing')
    .option('--prune', 'also delete the roles and services the file does not name')
    .action(async (options: { file: string; dryRun?: boolean; prune?: boolean }, command: Command) => {
      const { client, out } = contextOf(command);
      const source = options.file === '-' ? 'stdin' : options.file;
      let loaded;
      try {
        loaded = readLatchkeyFile(readSource(options.file), source);
      } catch (err) {
        if (err instanceof FileError) throw new CliError(`${err.message}; nothing was changed`, 'invalid_file');
        throw err;
      }
      let plan;
      try {
        plan = await makePlan(loaded, await readCurrent(client), { prune: options.prune === true, holdersOf: holdersVia(client) });
      } catch (err) {
        if (err instanceof FileError) throw new CliError(`${err.message}; nothing was changed`, 'invalid_file');
        throw err;
      }
      const refused = refusals(plan);
      const apply = options.dryRun !== true && refused.length === 0 && plan.changes.length > 0;
      let applied = 0;
      let failure: ApplyError | null = null;
      if (apply) {
        try {
          applied = await applyPlan(plan, client, loaded);
        } catch (err) {
          if (!(err instanceof ApplyError)) throw err;
          failure = err;
          applied = err.applied;
        }
      }
      out.print({ file: source, dryRun: options.dryRun === true, changes: plan.changes, unmanaged: plan.unmanaged, applied }, () => {
        const lines = [renderPlan(plan, source)];
        if (apply && failure === null) lines.push(`Applied ${applied} change${applied === 1 ? '' : 's'}.`);
        if (options.dryRun === true && plan.changes.length > 0) lines.push('Dry run: nothing was changed.');
        return lines.join('\n');
      });
      if (failure !== null) throw new CliError(failure.message, failure.code);
      if (refused.length > 0) {
        throw new CliError(`${refused.length} change${refused.length === 1 ? '' : 's'} the server would refuse ` +
          `(${refused.map((c) => `${c.kind} ${c.name}`).join(', ')}; see the plan); nothing was changed`, 'plan_refused');
      }
    });

  program.command('export')
    .description('write the server\'s environments, services and roles as a latchkey.yaml (apply it back with latchkey apply -f)')
    .option('-o, --output <file>', 'write to this file instead of stdout')
    .action(async (options: { output?: string }, command: Command) => {
      const { client, out } = contextOf(command);
      const state = await readCurrent(client);
      const text = out.json ? `${JSON.stringify(exportDocument(state), null, 2)}\n` : exportYaml(state, client.url);
      if (options.output === undefined) {
        process.stdout.write(text);
        return;
      }
      writeFileSync(options.output, text);
      process.stderr.write(`wrote ${options.output}\n`);
    });
}
