// The top of the walk: which statements exist for the gateway, what kind each
// is (for audit and messages), and the rules of the ones that are not queries —
// transactions, settings, COPY, EXPLAIN, cursors. DDL is in ddl.ts. A statement
// type not listed is refused.

import { GUARDED_SETTINGS, SETTABLE, SHOWABLE } from './builtins.js';
import { ddlStatement, DDL_STATEMENTS } from './ddl.js';
import { refused, unsupported } from './refusal.js';
import { list, node, struct, target, unwrap, type Context, type Fields } from './walk.js';
import type { TransactionControl } from './types.js';

export interface StatementShape {
  readonly kind: string;
  readonly transaction?: TransactionControl;
}

type Statement = (fields: Fields, context: Context) => StatementShape;

const query = (kind: string): Statement => (fields, context) => {
  node({ [`${kind[0]!.toUpperCase()}${kind.slice(1)}Stmt`]: fields }, context);
  return { kind };
};

/** Never through the gateway, whatever the grant, and why. */
const ALWAYS_REFUSED: Readonly<Record<string, string>> = {
  DoStmt: 'DO runs code the gateway cannot see',
  PrepareStmt: 'SQL-level PREPARE is refused: a name prepared here could be run by EXECUTE after the grant changed; use the extended protocol (Parse/Bind/Execute), which the gateway authorizes',
  ExecuteStmt: 'SQL-level EXECUTE is refused: the gateway cannot see which statement the name stands for; use the extended protocol (Parse/Bind/Execute)',
  LoadStmt: 'LOAD loads code into the server',
  ListenStmt: 'LISTEN is refused: notifications carry other sessions\' data',
  UnlistenStmt: 'UNLISTEN is refused, as LISTEN is',
  NotifyStmt: 'NOTIFY is refused: it signals other sessions',
  AlterSystemStmt: 'ALTER SYSTEM changes the server\'s configuration',
  CreateExtensionStmt: 'CREATE EXTENSION installs code into the database',
  AlterExtensionStmt: 'ALTER EXTENSION changes installed code',
  AlterExtensionContentsStmt: 'ALTER EXTENSION changes installed code',
  CreateFunctionStmt: 'CREATE FUNCTION and PROCEDURE define code the gateway cannot see',
  AlterFunctionStmt: 'ALTER FUNCTION changes code the gateway cannot see',
  CreateTrigStmt: 'CREATE TRIGGER runs functions on other sessions\' writes',
  CreateEventTrigStmt: 'CREATE EVENT TRIGGER runs functions on other sessions\' DDL',
  RuleStmt: 'CREATE RULE rewrites other sessions\' statements',
  CreatePolicyStmt: 'row-level security policies are set up outside the gateway',
  AlterPolicyStmt: 'row-level security policies are set up outside the gateway',
  GrantStmt: 'privileges are granted outside the gateway',
  GrantRoleStmt: 'roles are granted outside the gateway',
  AlterDefaultPrivilegesStmt: 'privileges are granted outside the gateway',
  CreateRoleStmt: 'roles are managed outside the gateway',
  AlterRoleStmt: 'roles are managed outside the gateway',
  AlterRoleSetStmt: 'roles are managed outside the gateway',
  DropRoleStmt: 'roles are managed outside the gateway',
  ReassignOwnedStmt: 'ownership is managed outside the gateway',
  DropOwnedStmt: 'ownership is managed outside the gateway',
  AlterOwnerStmt: 'ownership is managed outside the gateway',
  CreatedbStmt: 'databases are managed outside the gateway',
  DropdbStmt: 'databases are managed outside the gateway',
  AlterDatabaseStmt: 'databases are managed outside the gateway',
  AlterDatabaseSetStmt: 'databases are managed outside the gateway',
  CreateSubscriptionStmt: 'a subscription connects the server to another host',
  AlterSubscriptionStmt: 'a subscription connects the server to another host',
  CreatePublicationStmt: 'replication is set up outside the gateway',
  CreateForeignServerStmt: 'a foreign server connects the server to another host',
  CreateUserMappingStmt: 'a user mapping holds another host\'s credential',
  CreateForeignTableStmt: 'a foreign table reads another host',
  ImportForeignSchemaStmt: 'a foreign table reads another host',
  CheckPointStmt: 'CHECKPOINT is an administrator\'s command',
  CreateTableSpaceStmt: 'tablespaces are managed outside the gateway',
  CreateCastStmt: 'a cast defines code that later statements run',
  CreateOpClassStmt: 'an operator class defines code that later statements run',
  DefineStmt: 'CREATE AGGREGATE, OPERATOR and TYPE define code that later statements run',
  CreateConversionStmt: 'a conversion defines code that later statements run',
  CreatePLangStmt: 'a language loads code into the server',
  CreateTransformStmt: 'a transform defines code that later statements run',
  SecLabelStmt: 'security labels are managed outside the gateway',
};

// ---- transactions --------------------------------------------------------------

const TRANSACTIONS: Readonly<Record<string, TransactionControl>> = {
  TRANS_STMT_BEGIN: 'begin', TRANS_STMT_START: 'begin', TRANS_STMT_COMMIT: 'commit', TRANS_STMT_ROLLBACK: 'rollback',
  TRANS_STMT_SAVEPOINT: 'savepoint', TRANS_STMT_RELEASE: 'release', TRANS_STMT_ROLLBACK_TO: 'rollback_to',
};

/**
 * The modes of BEGIN and SET TRANSACTION: isolation and DEFERRABLE are the
 * client's; READ ONLY is allowed, READ WRITE never (the gateway owns the
 * read-only state). These constants are built by the grammar from keywords,
 * not written as literals, so the normalized text (the cache key) keeps them.
 */
function transactionModes(value: unknown, context: Context): void {
  for (const item of list(value)) {
    const [type, option] = unwrap(item);
    if (type !== 'DefElem') throw unsupported(type);
    struct('DefElem', option, { defnamespace: 'skip', defname: 'skip', arg: 'skip', defaction: 'skip', location: 'skip' }, context);
    if (option.defname === 'transaction_isolation' || option.defname === 'transaction_deferrable') continue;
    if (option.defname !== 'transaction_read_only') throw unsupported(`the transaction mode ${String(option.defname)}`);
    const [, constant] = unwrap(option.arg);
    const readOnly = (constant.ival as { ival?: number } | undefined)?.ival === 1;
    if (!readOnly) throw refused('READ WRITE is refused: the gateway sets the read-only state of the session');
  }
}

const transaction: Statement = (fields, context) => {
  const kind = String(fields.kind);
  const control = TRANSACTIONS[kind];
  if (control === undefined) {
    throw refused(kind === 'TRANS_STMT_PREPARE' ? 'PREPARE TRANSACTION is refused: a prepared transaction outlives the session' : 'COMMIT PREPARED and ROLLBACK PREPARED are refused');
  }
  struct('TransactionStmt', fields, { kind: 'skip', options: transactionModes, savepoint_name: 'skip', gid: 'skip', chain: 'skip', location: 'skip' }, context);
  return { kind: control, transaction: control };
};

// ---- settings --------------------------------------------------------------------

function settable(name: string, verb: string): void {
  const guarded = GUARDED_SETTINGS.get(name);
  if (guarded !== undefined) throw refused(`${verb} ${name} is refused: ${guarded}`);
  if (!SETTABLE.has(name)) throw refused(`${verb} ${name} is refused: not a setting the gateway lets a client change`);
}

const setting: Statement = (fields, context) => {
  const kind = String(fields.kind);
  const name = typeof fields.name === 'string' ? fields.name : '';
  struct('VariableSetStmt', fields, { kind: 'skip', name: 'skip', args: 'skip', jumble_args: 'skip', is_local: 'skip', location: 'skip' }, context);
  if (kind === 'VAR_RESET_ALL') throw refused('RESET ALL is refused: it would undo the settings the gateway pins');
  if (kind === 'VAR_SET_MULTI') {
    if (name !== 'TRANSACTION') throw refused(`SET ${name} is refused: the gateway sets the session's transaction characteristics`);
    transactionModes(fields.args, context);
    return { kind: 'set' };
  }
  const verb = kind === 'VAR_RESET' ? 'RESET' : 'SET';
  if (kind !== 'VAR_SET_VALUE' && kind !== 'VAR_SET_DEFAULT' && kind !== 'VAR_SET_CURRENT' && kind !== 'VAR_RESET') throw unsupported(`SET ${kind}`);
  settable(name, verb);
  return { kind: verb.toLowerCase() };
};

const show: Statement = (fields, context) => {
  struct('VariableShowStmt', fields, { name: 'skip' }, context);
  const name = String(fields.name);
  if (!SHOWABLE.has(name)) throw refused(`SHOW ${name} is refused: settings can tell more than the grant does`);
  return { kind: 'show' };
};

// ---- COPY, EXPLAIN, cursors, locks -------------------------------------------------

const COPY_OPTIONS = new Set([
  'format', 'freeze', 'delimiter', 'null', 'default', 'header', 'quote', 'escape', 'force_quote', 'force_not_null',
  'force_null', 'encoding', 'on_error', 'log_verbosity', 'reject_limit', 'oids',
]);

function options(statement: string, allowed: ReadonlySet<string>, context: Context): (value: unknown) => void {
  return (value) => {
    for (const item of list(value)) {
      const [type, option] = unwrap(item);
      if (type !== 'DefElem') throw unsupported(type);
      if (!allowed.has(String(option.defname))) throw unsupported(`the ${statement} option ${String(option.defname)}`);
      struct('DefElem', option, { defnamespace: 'skip', defname: 'skip', arg: 'node', defaction: 'skip', location: 'skip' }, context);
    }
  };
}

/** COPY to the client or from it only: a server file or program is the server acting outside SQL. */
const copy: Statement = (fields, context) => {
  if (fields.is_program === true) throw refused('COPY TO/FROM PROGRAM is refused: it runs a program on the database server');
  if (fields.filename !== undefined) throw refused('COPY with a server file is refused: only COPY TO STDOUT and FROM STDIN are allowed');
  const from = fields.is_from === true;
  struct('CopyStmt', fields, {
    relation: (value) => target(value, from ? 'insert' : 'select', context), query: 'node', attlist: 'skip', is_from: 'skip',
    is_program: 'skip', filename: 'skip', options: options('COPY', COPY_OPTIONS, context), whereClause: 'node',
  }, context);
  return { kind: 'copy' };
};

const EXPLAIN_OPTIONS = new Set(['analyze', 'verbose', 'costs', 'settings', 'generic_plan', 'buffers', 'serialize', 'wal', 'timing', 'summary', 'memory', 'format']);

/** EXPLAIN's statement is authorized as if it ran, ANALYZE or not: the same grant either way, whatever the option says. */
const explain: Statement = (fields, context) => {
  struct('ExplainStmt', fields, { query: 'skip', options: options('EXPLAIN', EXPLAIN_OPTIONS, context) }, context);
  walkStatement(fields.query, context);
  return { kind: 'explain' };
};

const declare: Statement = (fields, context) => {
  struct('DeclareCursorStmt', fields, { portalname: 'skip', options: 'skip', query: 'node' }, context);
  return { kind: 'declare' };
};

/** LOCK: ACCESS SHARE is what a read takes; ROW SHARE and ROW EXCLUSIVE what a write takes; anything stronger blocks others as DDL does. */
const lock: Statement = (fields, context) => {
  const mode = typeof fields.mode === 'number' ? fields.mode : 8;
  const action = mode <= 1 ? 'select' : mode <= 3 ? 'update' : 'ddl';
  struct('LockStmt', fields, {
    relations: (value) => list(value).forEach((item) => target(unwrap(item)[1], action, context)), mode: 'skip', nowait: 'skip',
  }, context);
  return { kind: 'lock' };
};

const truncate: Statement = (fields, context) => {
  if (fields.behavior === 'DROP_CASCADE') throw refused('TRUNCATE ... CASCADE is refused: it empties tables the statement does not name');
  struct('TruncateStmt', fields, {
    relations: (value) => list(value).forEach((item) => target(unwrap(item)[1], 'truncate', context)), restart_seqs: 'skip', behavior: 'skip',
  }, context);
  return { kind: 'truncate' };
};

const call: Statement = (fields, context) => {
  struct('CallStmt', fields, { funccall: (value) => node({ FuncCall: value }, context), funcexpr: 'skip', outargs: 'skip' }, context);
  return { kind: 'call' };
};

const discard: Statement = (fields, context) => {
  if (fields.target === 'DISCARD_ALL') throw refused('DISCARD ALL is refused: it would undo the settings the gateway pins');
  struct('DiscardStmt', fields, { target: 'skip' }, context);
  return { kind: 'discard' };
};

const plain = (type: string, kind: string, spec: Record<string, 'skip'>): Statement => (fields, context) => {
  struct(type, fields, spec, context);
  return { kind };
};

const STATEMENTS: Readonly<Record<string, Statement>> = {
  SelectStmt: query('select'),
  InsertStmt: query('insert'),
  UpdateStmt: query('update'),
  DeleteStmt: query('delete'),
  MergeStmt: query('merge'),
  TransactionStmt: transaction,
  VariableSetStmt: setting,
  VariableShowStmt: show,
  CopyStmt: copy,
  ExplainStmt: explain,
  DeclareCursorStmt: declare,
  LockStmt: lock,
  TruncateStmt: truncate,
  CallStmt: call,
  DiscardStmt: discard,
  FetchStmt: plain('FetchStmt', 'fetch', { direction: 'skip', howMany: 'skip', portalname: 'skip', ismove: 'skip' }),
  ClosePortalStmt: plain('ClosePortalStmt', 'close', { portalname: 'skip' }),
  DeallocateStmt: plain('DeallocateStmt', 'deallocate', { name: 'skip', isall: 'skip', location: 'skip' }),
  ConstraintsSetStmt: plain('ConstraintsSetStmt', 'set_constraints', { constraints: 'skip', deferred: 'skip' }),
};

/** Walks one statement (a wrapped node) and says what kind it is; throws SqlRefusal for what is refused. */
export function walkStatement(value: unknown, context: Context): StatementShape {
  const [type, fields] = unwrap(value);
  const statement = STATEMENTS[type];
  if (statement !== undefined) return statement(fields, context);
  if (DDL_STATEMENTS.has(type)) return ddlStatement(type, fields, context);
  const always = ALWAYS_REFUSED[type];
  if (always !== undefined) throw refused(always);
  throw unsupported(`the statement ${type}`);
}

/** The kind of a statement for a refusal message, without walking it. */
export function kindOf(value: unknown): string {
  try {
    const [type, fields] = unwrap(value);
    if (type === 'TransactionStmt') return TRANSACTIONS[String(fields.kind)] ?? 'transaction';
    if (type === 'VariableSetStmt') return fields.kind === 'VAR_RESET' || fields.kind === 'VAR_RESET_ALL' ? 'reset' : 'set';
    if (type === 'VacuumStmt') return fields.is_vacuumcmd === true ? 'vacuum' : 'analyze';
    if (DDL_STATEMENTS.has(type) || type === 'RuleStmt' || type === 'DefineStmt' || type === 'CommentStmt') return 'ddl';
    const known: Record<string, string> = {
      SelectStmt: 'select', InsertStmt: 'insert', UpdateStmt: 'update', DeleteStmt: 'delete', MergeStmt: 'merge', VariableShowStmt: 'show',
      CopyStmt: 'copy', ExplainStmt: 'explain', DeclareCursorStmt: 'declare', LockStmt: 'lock', TruncateStmt: 'truncate', CallStmt: 'call',
      DiscardStmt: 'discard', DoStmt: 'do', PrepareStmt: 'prepare', ExecuteStmt: 'execute', LoadStmt: 'load', ListenStmt: 'listen',
      NotifyStmt: 'notify', UnlistenStmt: 'unlisten', FetchStmt: 'fetch', ClosePortalStmt: 'close', DeallocateStmt: 'deallocate',
    };
    return known[type] ?? (type.startsWith('Create') || type.startsWith('Alter') || type.startsWith('Drop') ? 'ddl' : type.replace(/Stmt$/, '').toLowerCase());
  } catch {
    return 'unknown';
  }
}
