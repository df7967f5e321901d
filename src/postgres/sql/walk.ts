// The tree walk: every node of a parsed statement is visited, and a node type,
// or a field of a known node, that is not listed here is refused — an unknown
// construct may hide a table or a call. What the walk finds it records: each
// table use (select, insert, update, delete, truncate, ddl) wherever it sits,
// and each function called. Deciding is scope.ts's job.
//
// libpg-query gives a node as `{ TypeName: fields }`; a field typed as one
// struct (RangeVar, WithClause, TypeName, ...) comes without the wrapper, so
// the walk names the struct it expects there.

import { CAST_TYPES, OPERATORS } from './builtins.js';
import { refused, SqlRefusal, unsupported } from './refusal.js';
import type { SqlAction, TableUse } from './types.js';

export type Fields = Record<string, unknown>;

/** What one statement's walk found; shared, appended to, by every node of the statement. */
export interface Findings {
  readonly uses: TableUse[];
  readonly functions: string[];
}

export interface Context {
  readonly findings: Findings;
  /** CTE names visible here: an unqualified name in FROM that is one of them is not a table. */
  readonly ctes: ReadonlySet<string>;
  /** Inside the FROM of a SELECT ... FOR UPDATE/SHARE: every table read is also locked (update). */
  readonly locking: boolean;
  /**
   * In a function's column definition list (`AS t(x type)`), where a column's
   * type converts the function's output as a cast does: built-in types only.
   */
  readonly castTypes?: boolean;
}

export function newContext(): Context {
  return { findings: { uses: [], functions: [] }, ctes: new Set(), locking: false };
}

/** A field's treatment: ignored (scalars, names), walked as node(s), or a handler. */
type Field = 'skip' | 'node' | ((value: unknown, context: Context) => void);
export type Spec = Readonly<Record<string, Field>>;
export type Handler = Spec | ((fields: Fields, context: Context) => void);

export function use(context: Context, action: SqlAction, schema: string, table: string): void {
  context.findings.uses.push({ action, schema, table });
}

/** The single `{ Type: fields }` of a wrapped node. */
export function unwrap(value: unknown): [string, Fields] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw unsupported('a malformed node');
  const keys = Object.keys(value);
  if (keys.length !== 1) throw unsupported('a malformed node');
  const type = keys[0]!;
  return [type, (value as Record<string, unknown>)[type] as Fields];
}

export function list(value: unknown): readonly unknown[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw unsupported('a malformed list');
  return value;
}

/** Applies a spec to a struct's fields; a field the spec does not name is refused. */
export function struct(type: string, fields: unknown, spec: Spec, context: Context): void {
  if (fields === undefined) return;
  if (typeof fields !== 'object' || fields === null) throw unsupported(type);
  for (const [name, value] of Object.entries(fields)) {
    const field = spec[name];
    if (field === undefined) throw unsupported(`${type}.${name}`);
    if (field === 'skip') continue;
    if (field === 'node') node(value, context);
    else field(value, context);
  }
}

/** Walks a wrapped node, or a list of them. */
export function node(value: unknown, context: Context): void {
  if (value === undefined || value === null) return;
  if (Array.isArray(value)) {
    for (const item of value) node(item, context);
    return;
  }
  // A NULL inside a list (a function without a column definition list, say) comes as `{}`.
  if (typeof value === 'object' && Object.keys(value).length === 0) return;
  const [type, fields] = unwrap(value);
  const handler = NODES.get(type);
  if (handler === undefined) throw unsupportedNode(type);
  if (typeof handler === 'function') handler(fields, context);
  else struct(type, fields, handler, context);
}

function unsupportedNode(type: string): SqlRefusal {
  if (type.startsWith('Json')) {
    return unsupported(`SQL/JSON syntax (${type}), which an older server reads as a call to a function of that name,`);
  }
  if (type.startsWith('Xml')) return refused(`XML functions (${type}) are not allowed through the gateway`);
  return unsupported(`${type}`);
}

// ---- names -----------------------------------------------------------------

function strings(value: unknown): string[] {
  return list(value).map((item) => {
    const [type, fields] = unwrap(item);
    if (type !== 'String' || typeof fields.sval !== 'string') throw unsupported(`a ${type} in a name`);
    return fields.sval;
  });
}

export function quoteName(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) ? name : `"${name.replaceAll('"', '""')}"`;
}

/**
 * Where PostgreSQL finds a relation named without a schema, the gateway having
 * pinned search_path to public: pg_catalog is searched first, so a name that
 * could be a system catalog (they all begin pg_) needs both places granted.
 */
export function tablesNamed(schema: string | undefined, table: string, persistence?: string): Array<readonly [string, string]> {
  if (persistence === 't') return [['pg_temp', table]];
  if (schema !== undefined) return [[schema, table]];
  if (table.startsWith('pg_')) return [['pg_catalog', table], ['public', table]];
  return [['public', table]];
}

const RANGE_VAR: Spec = { catalogname: 'skip', schemaname: 'skip', relname: 'skip', inh: 'skip', relpersistence: 'skip', alias: 'skip', location: 'skip' };

/** The tables a RangeVar names, for a statement that acts on it (never a CTE). */
export function relationOf(fields: unknown, context: Context): Array<readonly [string, string]> {
  struct('RangeVar', fields, RANGE_VAR, context);
  const range = fields as { catalogname?: string; schemaname?: string; relname?: string; relpersistence?: string };
  if (range.catalogname !== undefined) throw refused(`a three-part name (${range.catalogname}.${range.schemaname}.${range.relname}) is not allowed; name schema.table`);
  if (typeof range.relname !== 'string') throw unsupported('a relation without a name');
  return tablesNamed(range.schemaname, range.relname, range.relpersistence);
}

/** A statement's target table: acted on as `action`, whatever CTE shares its name. */
export function target(fields: unknown, action: SqlAction, context: Context): void {
  for (const [schema, table] of relationOf(fields, context)) use(context, action, schema, table);
}

/** A RangeVar read in FROM: a CTE in scope, or a table read (and locked under FOR UPDATE/SHARE). */
function readRelation(fields: Fields, context: Context): void {
  if (fields.schemaname === undefined && fields.catalogname === undefined && context.ctes.has(String(fields.relname))) {
    struct('RangeVar', fields, RANGE_VAR, context);
    return;
  }
  for (const [schema, table] of relationOf(fields, context)) {
    use(context, 'select', schema, table);
    if (context.locking) use(context, 'update', schema, table);
  }
}

// ---- calls, operators and casts ----------------------------------------------

function functionCall(fields: Fields, context: Context): void {
  const name = strings(fields.funcname);
  if (name.length === 0 || name.length > 2) throw refused(`a function named ${name.join('.')} is not allowed; name schema.function`);
  context.findings.functions.push(name.map(quoteName).join('.'));
  struct('FuncCall', fields, FUNC_CALL, context);
}

const WINDOW_DEF: Spec = {
  name: 'skip', refname: 'skip', partitionClause: 'node', orderClause: 'node', frameOptions: 'skip',
  startOffset: 'node', endOffset: 'node', location: 'skip',
};

const FUNC_CALL: Spec = {
  funcname: 'skip', args: 'node', agg_order: 'node', agg_filter: 'node',
  over: (value, context) => struct('WindowDef', value, WINDOW_DEF, context),
  agg_within_group: 'skip', agg_star: 'skip', agg_distinct: 'skip', func_variadic: 'skip', funcformat: 'skip', location: 'skip',
};

/** An operator name, `op` or `pg_catalog.op` (OPERATOR(pg_catalog.+)): only the built-in symbols. */
function operator(value: unknown): void {
  const name = strings(value);
  const symbol = name.at(-1);
  const qualified = name.length === 2 && name[0] === 'pg_catalog';
  if (symbol === undefined || !(name.length === 1 || qualified) || !OPERATORS.has(symbol)) {
    throw refused(`operator ${name.join('.')} is not allowed (only PostgreSQL's built-in operators are)`);
  }
}

const EXPR_KINDS = new Set([
  'AEXPR_OP', 'AEXPR_OP_ANY', 'AEXPR_OP_ALL', 'AEXPR_DISTINCT', 'AEXPR_NOT_DISTINCT', 'AEXPR_NULLIF', 'AEXPR_IN',
  'AEXPR_LIKE', 'AEXPR_ILIKE', 'AEXPR_SIMILAR', 'AEXPR_BETWEEN', 'AEXPR_NOT_BETWEEN', 'AEXPR_BETWEEN_SYM', 'AEXPR_NOT_BETWEEN_SYM',
]);

const A_EXPR: Spec = {
  kind: (value) => {
    if (!EXPR_KINDS.has(String(value))) throw unsupported(`the expression ${String(value)}`);
  },
  name: (value, context) => {
    // BETWEEN and friends carry their keyword as the name; the comparison is built in.
    const [first] = strings(value);
    if (first === 'BETWEEN' || first === 'NOT BETWEEN' || first === 'BETWEEN SYMMETRIC' || first === 'NOT BETWEEN SYMMETRIC') return;
    void context;
    operator(value);
  },
  lexpr: 'node', rexpr: 'node', rexpr_list_start: 'skip', rexpr_list_end: 'skip', location: 'skip',
};

const TYPE_NAME: Spec = {
  names: 'skip', typeOid: 'skip', setof: 'skip', pct_type: 'skip', typmods: 'node', typemod: 'skip', arrayBounds: 'skip', location: 'skip',
};

/** The type of a cast: one of PostgreSQL's own (see CAST_TYPES), in pg_catalog or unqualified. */
export function castType(value: unknown, context: Context): void {
  struct('TypeName', value, TYPE_NAME, context);
  const type = value as { names?: unknown; setof?: boolean; pct_type?: boolean };
  const name = strings(type.names);
  const last = name.at(-1);
  const placed = name.length === 1 || (name.length === 2 && name[0] === 'pg_catalog');
  if (type.setof === true || type.pct_type === true || last === undefined || !placed || !CAST_TYPES.has(last)) {
    throw refused(`a cast to ${name.map(quoteName).join('.')} is not allowed (only to PostgreSQL's built-in types)`);
  }
}

/** A column's type in DDL: any type, but a type copied from a column (%TYPE) is refused. */
export function columnType(value: unknown, context: Context): void {
  if (context.castTypes === true) {
    castType(value, context);
    return;
  }
  struct('TypeName', value, TYPE_NAME, context);
  if ((value as { pct_type?: boolean }).pct_type === true) throw unsupported('a %TYPE reference');
}

// ---- queries -----------------------------------------------------------------

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

function insertStmt(fields: Fields, outer: Context): void {
  const context = withCtes(fields.withClause, outer);
  target(fields.relation, 'insert', context);
  struct('InsertStmt', fields, {
    relation: 'skip', cols: 'node', selectStmt: 'node', withClause: 'skip', override: 'skip',
    returningClause: returning(fields.relation, context),
    onConflictClause: (value) => {
      const clause = value as { action?: string };
      if (clause.action === 'ONCONFLICT_UPDATE') target(fields.relation, 'update', context);
      struct('OnConflictClause', value, {
        action: 'skip', targetList: 'node', whereClause: 'node', location: 'skip',
        infer: (infer) => struct('InferClause', infer, { indexElems: 'node', whereClause: 'node', conname: 'skip', location: 'skip' }, context),
      }, context);
    },
  }, context);
}

function updateStmt(fields: Fields, outer: Context): void {
  const context = withCtes(fields.withClause, outer);
  target(fields.relation, 'update', context);
  struct('UpdateStmt', fields, {
    relation: 'skip', targetList: 'node', whereClause: 'node', fromClause: 'node', withClause: 'skip',
    returningClause: returning(fields.relation, context),
  }, context);
}

function deleteStmt(fields: Fields, outer: Context): void {
  const context = withCtes(fields.withClause, outer);
  target(fields.relation, 'delete', context);
  struct('DeleteStmt', fields, {
    relation: 'skip', usingClause: 'node', whereClause: 'node', withClause: 'skip',
    returningClause: returning(fields.relation, context),
  }, context);
}

const MERGE_ACTIONS: Readonly<Record<string, SqlAction | null>> = { CMD_UPDATE: 'update', CMD_INSERT: 'insert', CMD_DELETE: 'delete', CMD_NOTHING: null };

function mergeStmt(fields: Fields, outer: Context): void {
  const context = withCtes(fields.withClause, outer);
  // MERGE's target is written, and read to match rows: select too.
  target(fields.relation, 'select', context);
  struct('MergeStmt', fields, {
    relation: 'skip', sourceRelation: 'node', joinCondition: 'node', withClause: 'skip',
    returningClause: returning(fields.relation, context),
    mergeWhenClauses: (value) => list(value).forEach((item) => {
      const [type, clause] = unwrap(item);
      if (type !== 'MergeWhenClause') throw unsupported(type);
      const action = MERGE_ACTIONS[String(clause.commandType)];
      if (action === undefined) throw unsupported(`MERGE ${String(clause.commandType)}`);
      if (action !== null) target(fields.relation, action, context);
      struct('MergeWhenClause', clause, { matchKind: 'skip', commandType: 'skip', override: 'skip', condition: 'node', targetList: 'node', values: 'node' }, context);
    }),
  }, context);
}

// ---- the node table ------------------------------------------------------------

const LEAF: Spec = { sval: 'skip', ival: 'skip', fval: 'skip', boolval: 'skip', bsval: 'skip' };

const NODES = new Map<string, Handler>(Object.entries<Handler>({
  A_Const: { ival: 'skip', fval: 'skip', boolval: 'skip', sval: 'skip', bsval: 'skip', isnull: 'skip', location: 'skip' },
  ParamRef: { number: 'skip', location: 'skip' },
  ColumnRef: { fields: 'skip', location: 'skip' },
  String: LEAF, Integer: LEAF, Float: LEAF, Boolean: LEAF, BitString: LEAF,
  A_Star: {},
  List: { items: 'node' },
  A_Expr: A_EXPR,
  BoolExpr: { boolop: 'skip', args: 'node', location: 'skip' },
  NullTest: { arg: 'node', nulltesttype: 'skip', argisrow: 'skip', location: 'skip' },
  BooleanTest: { arg: 'node', booltesttype: 'skip', location: 'skip' },
  CaseExpr: { casetype: 'skip', casecollid: 'skip', arg: 'node', args: 'node', defresult: 'node', location: 'skip' },
  CaseWhen: { expr: 'node', result: 'node', location: 'skip' },
  CoalesceExpr: { coalescetype: 'skip', coalescecollid: 'skip', args: 'node', location: 'skip' },
  MinMaxExpr: { minmaxtype: 'skip', minmaxcollid: 'skip', inputcollid: 'skip', op: 'skip', args: 'node', location: 'skip' },
  RowExpr: { args: 'node', row_typeid: 'skip', row_format: 'skip', colnames: 'skip', location: 'skip' },
  A_ArrayExpr: { elements: 'node', list_start: 'skip', list_end: 'skip', location: 'skip' },
  A_Indirection: { arg: 'node', indirection: 'node' },
  A_Indices: { is_slice: 'skip', lidx: 'node', uidx: 'node' },
  CollateClause: { arg: 'node', collname: 'skip', location: 'skip' },
  SQLValueFunction: { op: 'skip', type: 'skip', typmod: 'skip', location: 'skip' },
  SetToDefault: { typeId: 'skip', typeMod: 'skip', collation: 'skip', location: 'skip' },
  GroupingFunc: { args: 'node', refs: 'skip', agglevelsup: 'skip', location: 'skip' },
  GroupingSet: { kind: 'skip', content: 'node', location: 'skip' },
  SortBy: { node: 'node', sortby_dir: 'skip', sortby_nulls: 'skip', useOp: (value) => operator(value), location: 'skip' },
  ResTarget: { name: 'skip', indirection: 'node', val: 'node', location: 'skip' },
  MultiAssignRef: { source: 'node', colno: 'skip', ncolumns: 'skip' },
  WindowDef: WINDOW_DEF,
  CurrentOfExpr: { cvarno: 'skip', cursor_name: 'skip', cursor_param: 'skip' },
  SubLink: {
    subLinkType: 'skip', subLinkId: 'skip', testexpr: 'node', operName: (value) => operator(value), subselect: 'node', location: 'skip',
  },
  TypeCast: { arg: 'node', typeName: castType, location: 'skip' },
  FuncCall: functionCall,
  NamedArgExpr: { arg: 'node', name: 'skip', argnumber: 'skip', location: 'skip' },
  IndexElem: {
    name: 'skip', expr: 'node', indexcolname: 'skip', collation: 'skip', opclass: 'skip', opclassopts: 'skip', ordering: 'skip', nulls_ordering: 'skip',
  },
  // FROM items
  RangeVar: readRelation,
  RangeSubselect: { lateral: 'skip', subquery: 'node', alias: 'skip' },
  RangeFunction: {
    lateral: 'skip', ordinality: 'skip', is_rowsfrom: 'skip', alias: 'skip',
    functions: (value, context) => node(value, { ...context, castTypes: true }),
    coldeflist: (value, context) => node(value, { ...context, castTypes: true }),
  },
  RangeTableSample: {
    relation: 'node', args: 'node', repeatable: 'node', location: 'skip',
    method: (value) => {
      const name = strings(value).join('.');
      if (name !== 'system' && name !== 'bernoulli') throw refused(`TABLESAMPLE ${name} is not allowed (only system and bernoulli)`);
    },
  },
  JoinExpr: {
    jointype: 'skip', isNatural: 'skip', larg: 'node', rarg: 'node', usingClause: 'skip', join_using_alias: 'skip', quals: 'node', alias: 'skip', rtindex: 'skip',
  },
  // column definitions (a function's column list, CREATE TABLE)
  ColumnDef: {
    colname: 'skip', typeName: columnType, compression: 'skip', inhcount: 'skip', is_local: 'skip', is_not_null: 'skip', is_from_type: 'skip',
    storage: 'skip', storage_name: 'skip', raw_default: 'node', cooked_default: 'node', identity: 'skip', identitySequence: 'skip',
    generated: 'skip', collClause: (value, context) => struct('CollateClause', value, { arg: 'node', collname: 'skip', location: 'skip' }, context),
    collOid: 'skip', constraints: 'node', fdwoptions: (value) => {
      if (list(value).length > 0) throw refused('foreign-data options are not allowed');
    }, location: 'skip',
  },
  // queries
  SelectStmt: selectStmt,
  InsertStmt: insertStmt,
  UpdateStmt: updateStmt,
  DeleteStmt: deleteStmt,
  MergeStmt: mergeStmt,
}));

/** Node types known to other parts of the walk (the DDL), added once at load. */
export function defineNodes(entries: Readonly<Record<string, Handler>>): void {
  for (const [type, handler] of Object.entries(entries)) NODES.set(type, handler);
}
