import { stringify } from 'yaml';
import { defaultMaxTtl } from '../admin/index.js';
import { formatDuration } from '../config/index.js';
import type { CredentialSource } from '../store/records.js';
import type { CurrentBinding, CurrentService, CurrentState } from './current.js';

// The server's state in the file format, so that `latchkey export > latchkey.yaml`
// then `latchkey apply -f latchkey.yaml` changes nothing. A value equal to the
// server's default is left out, as a person would write the file.

function credentialEntry(source: CredentialSource) {
  if (source.from === 'none') return undefined;
  const where = source.from === 'env' ? { env: source.variable } : { file: source.path };
  const defaultScheme = source.header.toLowerCase() === 'authorization' ? 'Bearer' : '';
  return {
    ...where,
    ...(source.header !== 'Authorization' && { header: source.header }),
    ...(source.scheme !== defaultScheme && { scheme: source.scheme }),
  };
}

function bindingEntry(binding: CurrentBinding) {
  const credential = credentialEntry(binding.credential);
  return { upstream: binding.upstream, ...(credential !== undefined && { credential }) };
}

function serviceEntry(service: CurrentService) {
  return {
    kind: service.kind,
    ...(service.paths !== 'exact' && { paths: service.paths }),
    ...(service.headerUnderscores !== 'drop' && { headerUnderscores: service.headerUnderscores }),
    ...(service.tokenHeader !== null && { tokenHeader: service.tokenHeader }),
    ...(service.maxBodyBytes !== 10 * 1024 * 1024 && { maxBodyBytes: service.maxBodyBytes }),
    ...(service.sqlFunctions.length > 0 && { sqlFunctions: service.sqlFunctions }),
    ...(service.hiddenTools.length > 0 && { hiddenTools: service.hiddenTools }),
    bindings: Object.fromEntries(service.bindings.map((binding) => [binding.env, bindingEntry(binding)])),
  };
}

export function exportDocument(state: CurrentState) {
  return {
    version: 1 as const,
    environments: Object.fromEntries(state.environments.map((env) =>
      [env.name, env.maxTtlMs === defaultMaxTtl(env.name) ? {} : { maxTtl: formatDuration(env.maxTtlMs) }])),
    services: Object.fromEntries(state.services.map((service) => [service.name, serviceEntry(service)])),
    roles: Object.fromEntries(state.roles.map((role) =>
      [role.name, { ...(role.description !== '' && { description: role.description }), permissions: role.permissions }])),
  };
}

export function exportYaml(state: CurrentState, from: string): string {
  const header = `# Latchkey configuration exported from ${from}. Apply it with: latchkey apply -f FILE\n` +
    '# Upstream secrets are named by where the gateway reads them (env or file), never written here.\n';
  return header + stringify(exportDocument(state), { lineWidth: 0 });
}
