import type { Change, Plan } from './plan.js';

// The plan as a person reviews it, like `terraform plan`: one block per
// change, each field before → after, the tokens a role change reaches, and
// what the server will refuse.

const SIGN = { create: '+', update: '~', delete: '-' } as const;

function fieldLine(change: Change, field: Change['fields'][number]): string {
  if (change.op === 'create') return `    ${field.field}: ${field.after ?? '-'}`;
  if (change.op === 'delete') return `    ${field.field}: ${field.before ?? '-'}`;
  return `    ${field.field}: ${field.before ?? '-'} → ${field.after ?? '-'}`;
}

function changeBlock(change: Change): string {
  const lines = [`${SIGN[change.op]} ${change.op} ${change.kind} ${change.name}`];
  if (change.kind === 'role' && change.op === 'update') {
    for (const permission of change.added ?? []) lines.push(`    + permission ${permission}`);
    for (const permission of change.removed ?? []) lines.push(`    - permission ${permission}`);
    lines.push(...change.fields.filter((f) => f.field !== 'permissions').map((f) => fieldLine(change, f)));
  } else {
    lines.push(...change.fields.map((f) => fieldLine(change, f)));
  }
  if (change.holders === null) lines.push('    held by: unknown (the admin token may not list tokens: latchkey:tokens.read)');
  else if (change.holders !== undefined) {
    lines.push(change.holders.length === 0 ? '    held by no live token'
      : `    held by ${change.holders.length} live token${change.holders.length === 1 ? '' : 's'}: ` +
        change.holders.map((h) => `${h.id} (${h.name}, ${h.env})`).join(', '));
  }
  if (change.refusal !== null) lines.push(`    ! ${change.refusal}`);
  return lines.join('\n');
}

export function renderPlan(plan: Plan, source: string): string {
  const count = (op: Change['op']) => plan.changes.filter((c) => c.op === op).length;
  const blocks = plan.changes.map(changeBlock);
  const summary = plan.changes.length === 0
    ? `No changes: the server matches ${source}.`
    : `Plan: ${count('create')} to create, ${count('update')} to update, ${count('delete')} to delete.`;
  const unmanaged = plan.unmanaged.length === 0 ? [] : [`Not in ${source}, left as they are (--prune deletes roles and services): ${plan.unmanaged.join(', ')}`];
  return [...blocks, summary, ...unmanaged].join('\n');
}
