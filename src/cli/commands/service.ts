import type { Command } from 'commander';
import { CliError, type AdminClient } from '../client.js';
import { block, table } from '../output.js';
import { collect, contextOf } from '../context.js';

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

function credentialOf(options: Pick<AddOptions, 'credentialEnv' | 'credentialFile' | 'credentialHeader' | 'credentialScheme'>) {
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

interface UpdateOptions {
  env: string;
  upstream?: string;
  credentialEnv?: string;
  credentialFile?: string;
  credentialHeader?: string;
  credentialScheme?: string;
  /** false when --no-credential is given. */
  credential?: boolean;
}

interface Binding {
  env: string;
  upstream: string;
  credential: Record<string, string>;
  credentialReady?: boolean;
  credentialProblem?: string | null;
}

interface ServiceShown {
  kind: string;
  paths: string;
  headerUnderscores: string;
  bindings: Binding[];
}

async function serviceOrNone(client: AdminClient, name: string): Promise<ServiceShown | undefined> {
  return client.call<ServiceShown>('GET', `/v1/services/${encodeURIComponent(name)}`).catch((err: CliError) => {
    if (err.code === 'not_found') return undefined;
    throw err;
  });
}

/**
 * A binding whose credential the server cannot read works for no request
 * (502 upstream_credential_missing): say so now, with what to do, on stderr.
 */
function warnUnreadableCredential(service: { bindings: Binding[] }, env: string, json: boolean): void {
  const binding = service.bindings.find((b) => b.env === env);
  if (json || binding === undefined || binding.credentialReady !== false) return;
  process.stderr.write(`latchkey: warning: the server cannot read this binding's credential: ${binding.credentialProblem}; ` +
    'requests will get 502 upstream_credential_missing until it can (set it where `latchkey serve` runs, then restart it)\n');
}

/** Where the secret comes from, in words; never the secret. */
function describeCredential(credential: Record<string, string>): string {
  if (credential.from === 'env') return `variable ${credential.variable} in ${credential.header}`;
  if (credential.from === 'file') return `file ${credential.path} in ${credential.header}`;
  return 'none';
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
      const existing = await serviceOrNone(client, name);
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
        const bound = existing.bindings.find((b) => b.env === options.env);
        if (bound !== undefined) {
          // Adding never re-points where the real credential is sent: that is `service update`, which shows the change.
          throw new CliError(`service ${name} is already bound in ${options.env} (→ ${bound.upstream}); ` +
            `to change it: latchkey service update ${name} --env ${options.env} --upstream URL [--credential-env VAR | --credential-file PATH]`, 'conflict');
        }
        result = await client.call('POST', `/v1/services/${encodeURIComponent(name)}/bindings`, { env: options.env, ...binding });
      }
      out.print(result, () => `service ${name} (${options.kind}) in ${options.env} → ${options.upstream}`);
      warnUnreadableCredential(result as { bindings: Binding[] }, options.env, out.json);
    });
  service.command('update <name>')
    .description("change a service's upstream or credential source in one environment, showing before → after")
    .requiredOption('--env <env>', 'environment of the binding to change')
    .option('--upstream <url>', 'new upstream (default: unchanged)')
    .option('--credential-env <var>', "the upstream secret, read from this variable of the gateway's environment")
    .option('--credential-file <path>', 'the upstream secret, read from this file by the gateway')
    .option('--credential-header <name>', 'header the secret goes in')
    .option('--credential-scheme <scheme>', 'prefix before the secret')
    .option('--no-credential', 'send no upstream credential')
    .action(async (name: string, options: UpdateOptions, command: Command) => {
      const { client, out } = contextOf(command);
      const existing = await serviceOrNone(client, name);
      if (existing === undefined) throw new CliError(`service ${name} does not exist; add it with: latchkey service add ${name} --kind KIND --env ${options.env} --upstream URL`, 'not_found');
      const before = existing.bindings.find((b) => b.env === options.env);
      if (before === undefined) {
        throw new CliError(`service ${name} is not bound in ${options.env}; bind it with: latchkey service add ${name} --kind ${String(existing.kind)} --env ${options.env} --upstream URL`, 'not_found');
      }
      const changesCredential = options.credentialEnv !== undefined || options.credentialFile !== undefined || options.credential === false;
      if (options.upstream === undefined && !changesCredential && options.credentialHeader === undefined && options.credentialScheme === undefined) {
        throw new CliError('nothing to change: give --upstream, --credential-env, --credential-file, --credential-header, --credential-scheme or --no-credential');
      }
      const credential = options.credential === false ? { from: 'none' }
        : changesCredential ? credentialOf(options)
        : { ...before.credential, ...(options.credentialHeader !== undefined && { header: options.credentialHeader }), ...(options.credentialScheme !== undefined && { scheme: options.credentialScheme }) };
      const next = { upstream: options.upstream ?? before.upstream, credential };
      const result = await client.call('PUT', `/v1/services/${encodeURIComponent(name)}/bindings/${encodeURIComponent(options.env)}`, next);
      const after = (result as { bindings: Binding[] }).bindings.find((b) => b.env === options.env)!;
      out.print({ before, after, service: result }, () => [
        `service ${name} in ${options.env}:`,
        `  upstream    ${before.upstream} → ${after.upstream}`,
        `  credential  ${describeCredential(before.credential)} → ${describeCredential(after.credential)}`,
      ].join('\n'));
      warnUnreadableCredential(result as { bindings: Binding[] }, options.env, out.json);
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
