// SQL analysis for the PostgreSQL gateway: every statement parsed by
// PostgreSQL's own parser, its whole tree walked against an allow-list, each
// table use and function call judged by the token's grant, verdicts cached.
export type { AnalyzedStatement, SqlAction, SqlRefusalReason, SqlScope, SqlVerdict, TableUse, TransactionControl } from './types.js';
export { loadSqlParser } from './parser.js';
export { sqlScope, grantCanWrite, CACHE_ENTRIES, type SqlScopeOptions } from './scope.js';
export { analyzeSql, type Analysis } from './analyze.js';
export { DEFAULT_FUNCTIONS } from './builtins.js';
