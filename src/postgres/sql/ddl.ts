// DDL on tables, views, indexes and sequences: a `ddl` use of every relation
// the statement creates, changes or drops — and of the relations it ties them
// to (a parent, a partition, a new name). A view's or CREATE TABLE AS's query is
// walked like any query, so a view cannot read what its creator may not.
// CASCADE is refused: it reaches objects the statement does not name. Every
// other kind of object (functions, triggers, rules, roles, ...) is refused in
// statements.ts.

import { refused, unsupported } from './refusal.js';
import { defineNodes, into, list, node, relationOf, struct, tablesNamed, target, unwrap, use, type Context, type Fields } from './walk.js';
import type { StatementShape } from './statements.js';

const RELATION_OBJECTS = new Set(['OBJECT_TABLE', 'OBJECT_VIEW', 'OBJECT_MATVIEW', 'OBJECT_INDEX', 'OBJECT_SEQUENCE']);

function noCascade(fields: Fields, what: string): void {
  if (fields.behavior === 'DROP_CASCADE') throw refused(`${what} ... CASCADE is refused: it reaches objects the statement does not name`);
}

const PARTITION_BOUND = {
  strategy: 'skip', is_default: 'skip', modulus: 'skip', remainder: 'skip', listdatums: 'node', lowerdatums: 'node', upperdatums: 'node', location: 'skip',
} as const;

const partitionBound = (value: unknown, context: Context): void => struct('PartitionBoundSpec', value, PARTITION_BOUND, context);

defineNodes({
  Constraint: {
    contype: 'skip', conname: 'skip', deferrable: 'skip', initdeferred: 'skip', is_enforced: 'skip', skip_validation: 'skip',
    initially_valid: 'skip', is_no_inherit: 'skip', raw_expr: 'node', cooked_expr: 'skip', generated_when: 'skip',
    generated_kind: 'skip', nulls_not_distinct: 'skip', keys: 'skip', without_overlaps: 'skip', including: 'skip',
    exclusions: (value) => {
      if (list(value).length > 0) throw refused('EXCLUDE constraints are not allowed (their operators are not checked)');
    },
    options: 'skip', indexname: 'skip', indexspace: 'skip', reset_default_tblspc: 'skip', access_method: 'skip', where_clause: 'node',
    // A foreign key puts triggers on the table it references and holds back its deletes: DDL on it.
    pktable: (value, context) => target(value, 'ddl', context),
    fk_attrs: 'skip', pk_attrs: 'skip', fk_with_period: 'skip', pk_with_period: 'skip', fk_matchtype: 'skip', fk_upd_action: 'skip',
    fk_del_action: 'skip', fk_del_set_cols: 'skip', old_conpfeqop: 'skip', old_pktable_oid: 'skip', location: 'skip',
  },
  // CREATE TABLE ... (LIKE other): copies other's definition, defaults included.
  TableLikeClause: { relation: (value, context) => target(value, 'select', context), options: 'skip', relationOid: 'skip' },
  PartitionBoundSpec: PARTITION_BOUND,
  PartitionCmd: { name: (value, context) => target(value, 'ddl', context), bound: partitionBound, concurrent: 'skip' },
  PartitionElem: { name: 'skip', expr: 'node', collation: 'skip', opclass: 'skip', location: 'skip' },
  ReplicaIdentityStmt: { identity_type: 'skip', name: 'skip' },
  AlterTableCmd: (fields: Fields, context: Context) => {
    if (fields.subtype === 'AT_ChangeOwner') throw refused('ALTER ... OWNER TO is refused: ownership is managed outside the gateway');
    if (fields.subtype === 'AT_GenericOptions') throw refused('foreign-data options are not allowed');
    // INHERIT parent: the table's rows join what the parent shows, as a partition's do: DDL on the parent.
    const inherits = fields.subtype === 'AT_AddInherit' || fields.subtype === 'AT_DropInherit';
    struct('AlterTableCmd', fields, ALTER_TABLE_CMD, context);
    if (inherits) target(unwrap(fields.def)[1], 'ddl', context);
    else node(fields.def, context);
  },
});

const ALTER_TABLE_CMD = {
  subtype: 'skip', name: 'skip', num: 'skip', newowner: 'skip', def: 'skip', missing_ok: 'skip', recurse: 'skip',
  behavior: (value: unknown) => {
    if (value === 'DROP_CASCADE') throw refused('ALTER TABLE ... CASCADE is refused: it reaches objects the statement does not name');
  },
} as const;

const create = (fields: Fields, context: Context): StatementShape => {
  if (fields.ofTypename !== undefined) throw unsupported('CREATE TABLE ... OF type');
  target(fields.relation, 'ddl', context);
  struct('CreateStmt', fields, {
    relation: 'skip', tableElts: 'node', constraints: 'node', options: 'skip', oncommit: 'skip', tablespacename: 'skip',
    accessMethod: 'skip', if_not_exists: 'skip', partbound: partitionBound,
    // A child or a partition of a table adds rows to what the parent shows: DDL on the parent.
    inhRelations: (value) => list(value).forEach((item) => target(unwrap(item)[1], 'ddl', context)),
    partspec: (value) => struct('PartitionSpec', value, { strategy: 'skip', partParams: 'node', location: 'skip' }, context),
  }, context);
  return { kind: 'ddl' };
};

const createTableAs = (fields: Fields, context: Context): StatementShape => {
  if (fields.objtype !== 'OBJECT_TABLE' && fields.objtype !== 'OBJECT_MATVIEW') throw unsupported(`CREATE ${String(fields.objtype)} AS`);
  struct('CreateTableAsStmt', fields, {
    query: (value) => node(value, { ...context, ctes: new Set(), locking: false }), into: (value) => into(value, context),
    objtype: 'skip', is_select_into: 'skip', if_not_exists: 'skip',
  }, context);
  return { kind: 'ddl' };
};

const view = (fields: Fields, context: Context): StatementShape => {
  target(fields.view, 'ddl', context);
  struct('ViewStmt', fields, { view: 'skip', aliases: 'skip', query: 'node', replace: 'skip', options: 'skip', withCheckOption: 'skip' }, context);
  return { kind: 'ddl' };
};

const index = (fields: Fields, context: Context): StatementShape => {
  target(fields.relation, 'ddl', context);
  struct('IndexStmt', fields, {
    idxname: 'skip', relation: 'skip', accessMethod: 'skip', tableSpace: 'skip', indexParams: 'node', indexIncludingParams: 'node',
    options: 'skip', whereClause: 'node', excludeOpNames: (value) => {
      if (list(value).length > 0) throw refused('exclusion operators are not allowed');
    },
    idxcomment: 'skip', indexOid: 'skip', oldNumber: 'skip', oldCreateSubid: 'skip', oldFirstRelfilelocatorSubid: 'skip', unique: 'skip',
    nulls_not_distinct: 'skip', primary: 'skip', isconstraint: 'skip', iswithoutoverlaps: 'skip', deferrable: 'skip', initdeferred: 'skip',
    transformed: 'skip', concurrent: 'skip', if_not_exists: 'skip', reset_default_tblspc: 'skip',
  }, context);
  return { kind: 'ddl' };
};

const drop = (fields: Fields, context: Context): StatementShape => {
  if (!RELATION_OBJECTS.has(String(fields.removeType))) throw refused(`DROP of ${String(fields.removeType).replace('OBJECT_', '').toLowerCase()} objects is refused: only tables, views, indexes and sequences`);
  noCascade(fields, 'DROP');
  struct('DropStmt', fields, { objects: 'skip', removeType: 'skip', behavior: 'skip', missing_ok: 'skip', concurrent: 'skip' }, context);
  for (const item of list(fields.objects)) {
    const [type, object] = unwrap(item);
    if (type !== 'List') throw unsupported(`DROP of a ${type}`);
    const name = list(object.items).map((part) => String(unwrap(part)[1].sval));
    if (name.length === 0 || name.length > 2) throw refused(`DROP ${name.join('.')}: name schema.table`);
    const [schema, table] = name.length === 2 ? [name[0], name[1]!] : [undefined, name[0]!];
    for (const [s, t] of tablesNamed(schema, table)) use(context, 'ddl', s, t);
  }
  return { kind: 'ddl' };
};

const alterTable = (fields: Fields, context: Context): StatementShape => {
  if (!RELATION_OBJECTS.has(String(fields.objtype))) throw unsupported(`ALTER ${String(fields.objtype)}`);
  target(fields.relation, 'ddl', context);
  struct('AlterTableStmt', fields, { relation: 'skip', cmds: 'node', objtype: 'skip', missing_ok: 'skip' }, context);
  return { kind: 'ddl' };
};

/** A renamed relation: DDL on it under both names (renaming into a name is creating it). */
const rename = (fields: Fields, context: Context): StatementShape => {
  const type = String(fields.renameType);
  noCascade(fields, 'ALTER ... RENAME');
  const tables = relationOf(fields.relation, context);
  for (const [schema, table] of tables) use(context, 'ddl', schema, table);
  if (RELATION_OBJECTS.has(type)) {
    for (const [schema] of tables) use(context, 'ddl', schema, String(fields.newname));
  } else if (type !== 'OBJECT_COLUMN' && type !== 'OBJECT_TABCONSTRAINT') {
    throw refused(`ALTER ... RENAME of ${type.replace('OBJECT_', '').toLowerCase()} objects is refused`);
  }
  struct('RenameStmt', fields, {
    renameType: 'skip', relationType: 'skip', relation: 'skip', object: 'skip', subname: 'skip', newname: 'skip', behavior: 'skip', missing_ok: 'skip',
  }, context);
  return { kind: 'ddl' };
};

const moveSchema = (fields: Fields, context: Context): StatementShape => {
  if (!RELATION_OBJECTS.has(String(fields.objectType))) throw refused(`ALTER ... SET SCHEMA of ${String(fields.objectType).replace('OBJECT_', '').toLowerCase()} objects is refused`);
  const tables = relationOf(fields.relation, context);
  for (const [schema, table] of tables) {
    use(context, 'ddl', schema, table);
    use(context, 'ddl', String(fields.newschema), table);
  }
  struct('AlterObjectSchemaStmt', fields, { objectType: 'skip', relation: 'skip', object: 'skip', newschema: 'skip', missing_ok: 'skip' }, context);
  return { kind: 'ddl' };
};

const sequence = (type: string) => (fields: Fields, context: Context): StatementShape => {
  target(fields.sequence, 'ddl', context);
  struct(type, fields, { sequence: 'skip', options: 'skip', ownerId: 'skip', for_identity: 'skip', missing_ok: 'skip', if_not_exists: 'skip' }, context);
  return { kind: 'ddl' };
};

const refresh = (fields: Fields, context: Context): StatementShape => {
  target(fields.relation, 'ddl', context);
  struct('RefreshMatViewStmt', fields, { concurrent: 'skip', skipData: 'skip', relation: 'skip' }, context);
  return { kind: 'ddl' };
};

/** VACUUM and ANALYZE of named tables; of the whole database they are an administrator's. */
const vacuum = (fields: Fields, context: Context): StatementShape => {
  const relations = list(fields.rels);
  if (relations.length === 0) throw refused('VACUUM or ANALYZE of the whole database is refused: name the tables');
  for (const item of relations) {
    const [type, relation] = unwrap(item);
    if (type !== 'VacuumRelation') throw unsupported(type);
    struct('VacuumRelation', relation, { relation: (value) => target(value, 'ddl', context), oid: 'skip', va_cols: 'skip' }, context);
  }
  struct('VacuumStmt', fields, { options: 'skip', rels: 'skip', is_vacuumcmd: 'skip' }, context);
  return { kind: fields.is_vacuumcmd === true ? 'vacuum' : 'analyze' };
};

const DDL: Readonly<Record<string, (fields: Fields, context: Context) => StatementShape>> = {
  CreateStmt: create,
  CreateTableAsStmt: createTableAs,
  ViewStmt: view,
  IndexStmt: index,
  DropStmt: drop,
  AlterTableStmt: alterTable,
  RenameStmt: rename,
  AlterObjectSchemaStmt: moveSchema,
  CreateSeqStmt: sequence('CreateSeqStmt'),
  AlterSeqStmt: sequence('AlterSeqStmt'),
  RefreshMatViewStmt: refresh,
  VacuumStmt: vacuum,
};

export const DDL_STATEMENTS: ReadonlySet<string> = new Set(Object.keys(DDL));

export function ddlStatement(type: string, fields: Fields, context: Context): StatementShape {
  return DDL[type]!(fields, context);
}
