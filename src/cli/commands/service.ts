import type { Command } from 'commander';
import { CliError } from '../client.js';
import { block, table } from '../output.js';
import { contextOf } from '../context.js';

interface AddOptions {
  kind: string;
  env: string;
  upstream: string;
  credentialEnv?: string;
  credentialFile?: string;
  credentialHeader?: string;
  credentialScheme?: string;
  tokenHeader?: string;
  maxBody?: string;
  paths?: string;
  headerUnderscores?: string;
  sqlFunction?: string[];
  hide?: string[];
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

function credentialOf(options: AddOptions) {
  if (options.credentialEnv !== undefined && options.credentialFile !== undefined) {
    throw new CliError('give --credential-env or --credential-file, not both');
  }
  const placement = {
    ...(options.credentialHeader !== undefined && { header: options.credentialHeader }),
    ...(options.credentialScheme !== undefined && { scheme: options.credentialScheme }),
  };
  if (options.credentialEnv !== undefined) return { from: 'env', variable: options.credentialEnv, ...placement };
  if (options.credentialFile !== undefined) return { from: 'file', path: options.credentialFile, ...placement };
  return { from: 'none' };
}

export function registerService(program: Command): void {
  const service = program.command('service').description('upstreams behind the gateway');
  service.command('add <name>')
    .description('add a service, or bind an existing one in another environment')
    .requiredOption('--kind <kind>', 'http, postgres or mcp')
    .requiredOption('--env <env>', 'environment of this upstream')
    .requiredOption('--upstream <url>', 'http://host:port[/base], https://..., or unix:/path.sock[:/base]')
    .option('--credential-env <var>', "the upstream secret, read from this variable of the gateway's environment")
    .option('--credential-file <path>', 'the upstream secret, read from this file by the gateway')
    .option('--credential-header <name>', 'header the secret goes in (default Authorization: Bearer <secret>)')
    .option('--credential-scheme <scheme>', 'prefix before the secret (default Bearer for Authorization)')
    .option('--token-header <name>', 'header clients put their Latchkey token in (default Authorization: Bearer)')
    .option('--max-body <bytes>', 'largest request body forwarded')
    .option('--paths <matching>', 'how the upstream matches paths: exact (default), case-insensitive or lenient')
    .option('--header-underscores <policy>', 'client header names with _: drop (default), refuse or allow')
    .option('--sql-function <name>', 'postgres: allow this function beyond the built-in side-effect-free list (repeatable)', collect)
    .option('--hide <pattern>', "mcp: hide tools matching this pattern from every token, e.g. 'admin_*' (repeatable)", collect)
    .action(async (name: string, options: AddOptions, command: Command) => {
      const { client, out } = contextOf(command);
      const binding = { upstream: options.upstream, credential: credentialOf(options) };
      const existing = await client.call('GET', `/v1/services/${encodeURIComponent(name)}`).catch((err: Error) => {
        if (err.message.startsWith('not_found')) return undefined;
        throw err;
      });
      let result;
      if (existing === undefined) {
        const maxBodyBytes = options.maxBody === undefined ? undefined : Number(options.maxBody);
        if (maxBodyBytes !== undefined && !Number.isInteger(maxBodyBytes)) throw new CliError('--max-body: expected a number of bytes');
        result = await client.call('POST', '/v1/services', {
          name,
          kind: options.kind,
          ...(options.tokenHeader !== undefined && { tokenHeader: options.tokenHeader }),
          ...(maxBodyBytes !== undefined && { maxBodyBytes }),
          ...(options.paths !== undefined && { paths: options.paths }),
          ...(options.headerUnderscores !== undefined && { headerUnderscores: options.headerUnderscores }),
          ...(options.sqlFunction !== undefined && { sqlFunctions: options.sqlFunction }),
          ...(options.hide !== undefined && { hiddenTools: options.hide }),
          bindings: [{ env: options.env, ...binding }],
        });
      } else {
        if (existing.kind !== options.kind) throw new CliError(`service ${name} exists with kind ${String(existing.kind)}`);
        for (const [flag, field, given] of [['--paths', 'paths', options.paths], ['--header-underscores', 'headerUnderscores', options.headerUnderscores]] as const) {
          // These belong to the service, not to one binding: refuse rather than silently ignore a different value.
          if (given !== undefined && existing[field] !== given) throw new CliError(`${flag}: service ${name} exists with ${field} ${String(existing[field])}`);
        }
        for (const [flag, given] of [['--sql-function', options.sqlFunction], ['--hide', options.hide]] as const) {
          if (given !== undefined) throw new CliError(`${flag}: service ${name} exists; it is set when the service is first added`);
        }
        result = await client.call('PUT', `/v1/services/${encodeURIComponent(name)}/bindings/${encodeURIComponent(options.env)}`, binding);
      }
      out.print(result, () => `service ${name} (${options.kind}) in ${options.env} → ${options.upstream}`);
    });
  service.command('list')
    .description('list services')
    .action(async (_options: unknown, command: Command) => {
      const { client, out } = contextOf(command);
      const list = await client.call<{ items: Array<Record<string, unknown> & { bindings: Array<{ env: string; upstream: string }> }> }>('GET', '/v1/services');
      out.print(list, () => table(list.items.map((s) => ({ ...s, envs: s.bindings.map((b) => `${b.env}=${b.upstream}`) })), ['name', 'kind', 'envs']));
    });
  service.command('show <name>')
    .description('show a service')
    .action(async (name: string, _options: unknown, command: Command) => {
      const { client, out } = contextOf(command);
      const shown = await client.call('GET', `/v1/services/${encodeURIComponent(name)}`);
      out.print(shown, () => block(shown));
    });
  service.command('remove <name>')
    .description('remove a service')
    .action(async (name: string, _options: unknown, command: Command) => {
      const { client, out } = contextOf(command);
      await client.call('DELETE', `/v1/services/${encodeURIComponent(name)}`);
      out.print({ removed: name }, () => `removed service ${name}`);
    });
}
