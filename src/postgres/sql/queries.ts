// Queries: SELECT (set operations, FOR UPDATE/SHARE, SELECT INTO), the WITH
// clause and its scoping, and the writing statements INSERT, UPDATE, DELETE
// and MERGE with ON CONFLICT and RETURNING, wherever they sit in a tree.

import { unsupported } from './refusal.js';
import { defineNodes, list, node, struct, target, unwrap, type Context, type Fields, type Spec } from './walk.js';
import type { SqlAction } from './types.js';

const CTE_SEARCH: Spec = { search_col_list: 'skip', search_breadth_first: 'skip', search_seq_column: 'skip', location: 'skip' };
const CTE_CYCLE: Spec = {
  cycle_col_list: 'skip', cycle_mark_column: 'skip', cycle_mark_value: 'node', cycle_mark_default: 'node', cycle_path_column: 'skip',
  location: 'skip', cycle_mark_type: 'skip', cycle_mark_typmod: 'skip', cycle_mark_collation: 'skip', cycle_mark_neop: 'skip',
};

/**
 * A WITH clause: each CTE's body is walked seeing the CTEs before it (all of
 * them under RECURSIVE), and the context returned sees them all. A CTE body is
 * its own query: FOR UPDATE outside does not reach into it.
 */
export function withCtes(value: unknown, context: Context): Context {
  if (value === undefined) return context;
  const clause = value as { ctes?: unknown; recursive?: boolean };
  struct('WithClause', value, { ctes: 'skip', recursive: 'skip', location: 'skip' }, context);
  const ctes = list(clause.ctes).map((item) => {
    const [type, fields] = unwrap(item);
    if (type !== 'CommonTableExpr' || typeof fields.ctename !== 'string') throw unsupported(type);
    return fields;
  });
  const all = new Set([...context.ctes, ...ctes.map((cte) => String(cte.ctename))]);
  const visible = new Set(context.ctes);
  for (const cte of ctes) {
    const scope: Context = { ...context, ctes: clause.recursive === true ? all : new Set(visible), locking: false };
    struct('CommonTableExpr', cte, {
      ctename: 'skip', aliascolnames: 'skip', ctematerialized: 'skip', ctequery: 'node', location: 'skip',
      search_clause: (search) => struct('CTESearchClause', search, CTE_SEARCH, scope),
      cycle_clause: (cycle) => struct('CTECycleClause', cycle, CTE_CYCLE, scope),
      cterecursive: 'skip', cterefcount: 'skip', ctecolnames: 'skip', ctecoltypes: 'skip', ctecoltypmods: 'skip', ctecolcollations: 'skip',
    }, scope);
    visible.add(String(cte.ctename));
  }
  return { ...context, ctes: all };
}

const LOCKING_CLAUSE: Spec = { lockedRels: 'skip', strength: 'skip', waitPolicy: 'skip' };

/** The target of SELECT INTO / CREATE TABLE AS: a table created (ddl). */
export function into(value: unknown, context: Context): void {
  struct('IntoClause', value, {
    rel: (rel) => target(rel, 'ddl', context), colNames: 'skip', accessMethod: 'skip', options: 'skip', onCommit: 'skip',
    tableSpaceName: 'skip', viewQuery: 'node', skipData: 'skip',
  }, context);
}

function selectStmt(fields: Fields, outer: Context): void {
  const context = withCtes(fields.withClause, outer);
  // FOR UPDATE/SHARE (any strength, with or without OF): every table of this
  // level's FROM is locked. Over-approximating OF a, b keeps it simple and sound.
  const locking = list(fields.lockingClause).length > 0;
  const from: Context = locking ? { ...context, locking: true } : context;
  const arm = (value: unknown): void => selectStmt(value as Fields, context);
  struct('SelectStmt', fields, {
    distinctClause: 'node', intoClause: (value) => into(value, outer), targetList: 'node',
    fromClause: (value) => node(value, from), whereClause: 'node', groupClause: 'node', groupDistinct: 'skip',
    havingClause: 'node', windowClause: 'node', valuesLists: 'node', sortClause: 'node', limitOffset: 'node',
    limitCount: 'node', limitOption: 'skip',
    lockingClause: (value) => list(value).forEach((item) => struct('LockingClause', unwrap(item)[1], LOCKING_CLAUSE, context)),
    withClause: 'skip', op: 'skip', all: 'skip', larg: arm, rarg: arm,
  }, context);
}

/** RETURNING reads the rows written: PostgreSQL itself wants SELECT on them. */
function returning(relation: unknown, context: Context): (value: unknown) => void {
  return (value) => {
    struct('ReturningClause', value, { options: 'skip', exprs: 'node' }, context);
    if (list((value as { exprs?: unknown }).exprs).length > 0) target(relation, 'select', context);
  };
}

/** INSERT, UPDATE, DELETE and MERGE: their WITH, their target (never a CTE) used as `action`, RETURNING, and the rest by `spec`. */
function writing(type: string, action: SqlAction, spec: (fields: Fields, context: Context) => Spec) {
  return (fields: Fields, outer: Context): void => {
    const context = withCtes(fields.withClause, outer);
    target(fields.relation, action, context);
    struct(type, fields, { relation: 'skip', withClause: 'skip', returningClause: returning(fields.relation, context), ...spec(fields, context) }, context);
  };
}

const insertStmt = writing('InsertStmt', 'insert', (fields, context) => ({
  cols: 'node', selectStmt: 'node', override: 'skip',
  onConflictClause: (value) => {
    if ((value as { action?: string }).action === 'ONCONFLICT_UPDATE') target(fields.relation, 'update', context);
    struct('OnConflictClause', value, {
      action: 'skip', targetList: 'node', whereClause: 'node', location: 'skip',
      infer: (infer) => struct('InferClause', infer, { indexElems: 'node', whereClause: 'node', conname: 'skip', location: 'skip' }, context),
    }, context);
  },
}));

const updateStmt = writing('UpdateStmt', 'update', () => ({ targetList: 'node', whereClause: 'node', fromClause: 'node' }));

const deleteStmt = writing('DeleteStmt', 'delete', () => ({ usingClause: 'node', whereClause: 'node' }));

const MERGE_ACTIONS: Readonly<Record<string, SqlAction | null>> = { CMD_UPDATE: 'update', CMD_INSERT: 'insert', CMD_DELETE: 'delete', CMD_NOTHING: null };

// MERGE's target is read to match rows (select), then written by each WHEN's action.
const mergeStmt = writing('MergeStmt', 'select', (fields, context) => ({
  sourceRelation: 'node', joinCondition: 'node',
  mergeWhenClauses: (value) => list(value).forEach((item) => {
    const [type, clause] = unwrap(item);
    if (type !== 'MergeWhenClause') throw unsupported(type);
    const action = MERGE_ACTIONS[String(clause.commandType)];
    if (action === undefined) throw unsupported(`MERGE ${String(clause.commandType)}`);
    if (action !== null) target(fields.relation, action, context);
    struct('MergeWhenClause', clause, { matchKind: 'skip', commandType: 'skip', override: 'skip', condition: 'node', targetList: 'node', values: 'node' }, context);
  }),
}));

defineNodes({
  SelectStmt: selectStmt,
  InsertStmt: insertStmt,
  UpdateStmt: updateStmt,
  DeleteStmt: deleteStmt,
  MergeStmt: mergeStmt,
});
