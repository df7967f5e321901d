import { performance } from 'node:perf_hooks';
import { DecisionContext } from '../../core/decision.js';
import type { AnalyzedStatement } from '../sql/index.js';

// A PostgreSQL decision as the audit log holds it: the action is the
// statement kinds (`select`, `insert,select`, `connect` for a session), the
// resource the tables, then the fingerprint (never a literal value) and the
// rows the upstream reported.

export function decisionAt(clock: () => number, peer: string | undefined, action: string): DecisionContext {
  const context = new DecisionContext(clock(), performance.now(), peer, action);
  context.client = peer ?? null;
  return context;
}

/** By the analysis's statements array (cached verdicts share theirs, frozen): described once, not per Execute. */
const described = new WeakMap<readonly AnalyzedStatement[], { readonly action: string; readonly tables: string }>();

export function describeStatements(statements: readonly AnalyzedStatement[]): { readonly action: string; readonly tables: string } {
  let description = described.get(statements);
  if (description === undefined) {
    description = describe(statements);
    if (Object.isFrozen(statements)) described.set(statements, description);
  }
  return description;
}

function describe(statements: readonly AnalyzedStatement[]): { action: string; tables: string } {
  const kinds = new Set<string>();
  const tables = new Set<string>();
  for (const statement of statements) {
    kinds.add(statement.kind);
    for (const use of statement.uses) tables.add(`${use.schema}.${use.table}`);
  }
  return { action: [...kinds].join(',') || 'empty', tables: [...tables].join(',') };
}

/** The relay appends ` rows=N` (and ` failed`) when the upstream has answered. */
export function auditResource(tables: string, fingerprint: string | null): string {
  const text = tables === '' ? '-' : tables;
  return fingerprint === null ? text : `${text} fingerprint=${fingerprint}`;
}
