import type { AdminApi } from './current.js';
import type { Change, Plan } from './plan.js';
import type { FilePath, LoadedFile } from './read-file.js';

// Carrying a plan out: one admin API request per change, in the plan's order
// (environments, services, bindings, roles, then deletions), so each change is
// authorized by its route's own permission and audited by the admin audit
// like the same change made by hand. A plan with a change the server would
// refuse is not started at all.

export class ApplyError extends Error {
  override readonly name = 'ApplyError';

  constructor(message: string, readonly code: string, readonly applied: number) {
    super(message);
  }
}

/** The API's binding field names as the file spells them: the file says `env:` and `file:` for the credential's source. */
function fileField(field: string): FilePath {
  return field.replace(/^credential\.variable/, 'credential.env').replace(/^credential\.path/, 'credential.file').split('.');
}

/** The file path a server-named field (`permissions[2]`, `bindings[0].upstream`, `body.credential.variable`) stands for. */
function fieldPath(change: Change, field: string): FilePath | null {
  if (change.at === null) return null;
  const permission = /^permissions\[(\d+)\]/.exec(field);
  if (change.kind === 'role' && permission !== null) return [...change.at, 'permissions', Number(permission[1])];
  const binding = /^bindings\[(\d+)\]\.(upstream|credential)/.exec(field);
  if (change.kind === 'service' && binding !== null) {
    const bodies = (change.request?.body as { bindings?: Array<{ env: string }> } | undefined)?.bindings ?? [];
    const env = bodies[Number(binding[1])]?.env;
    if (env !== undefined) return [...change.at, 'bindings', env, ...fileField(field.slice(field.indexOf('.') + 1))];
  }
  const own = /^body\.(upstream|credential)/.exec(field);
  if (change.kind === 'binding' && own !== null) return [...change.at, ...fileField(field.slice('body.'.length))];
  return change.at;
}

export function refusals(plan: Plan): Change[] {
  return plan.changes.filter((change) => change.refusal !== null);
}

export async function applyPlan(plan: Plan, api: AdminApi, loaded: LoadedFile): Promise<number> {
  const refused = refusals(plan);
  if (refused.length > 0) {
    throw new ApplyError(`${refused.length} change${refused.length === 1 ? '' : 's'} in the plan would be refused (${refused.map((c) => `${c.kind} ${c.name}`).join(', ')}); ` +
      'nothing was changed', 'plan_refused', 0);
  }
  let applied = 0;
  for (const change of plan.changes) {
    const request = change.request!;
    try {
      await api.call(request.method, request.path, request.body);
    } catch (err) {
      const code = (err as { code?: string }).code ?? 'internal_error';
      const message = (err as Error).message;
      const field = /^invalid_request: ([^:\s]+):/.exec(message)?.[1];
      const path = field === undefined ? change.at : fieldPath(change, field);
      const where = path === null ? '' : (() => {
        // A refusal of the whole thing (not of one field) points at its name.
        const { line, column } = loaded.positionOf(path, path === change.at);
        return `${loaded.source}:${line}:${column}: `;
      })();
      throw new ApplyError(`${where}${change.op} ${change.kind} ${change.name} refused by the server (${applied} of ${plan.changes.length} changes applied before it): ${message}`,
        code, applied);
    }
    applied += 1;
  }
  return applied;
}
