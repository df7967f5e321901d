// The action vocabulary of each service kind: which words a permission may use
// and which concrete actions each word stands for. Parser, compiler,
// containment and explanations all read these tables, so they cannot disagree.

import { ADMIN_ACTIONS } from './admin-actions.js';
import type { PolicyServiceKind } from './types.js';

/** The only HTTP methods a permission can grant; any other method is always denied. */
export const HTTP_METHODS = ['GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

export const POSTGRES_ACTIONS = ['select', 'insert', 'update', 'delete', 'truncate', 'ddl'] as const;
export type PostgresAction = (typeof POSTGRES_ACTIONS)[number];

export const MCP_ACTIONS = ['call', 'read', 'get'] as const;
export type McpAction = (typeof MCP_ACTIONS)[number];

type ActionTable = ReadonlyMap<string, readonly string[]>;

function table(entries: readonly (readonly [string, readonly string[]])[]): ActionTable {
  return new Map(entries.map(([word, actions]) => [word, Object.freeze([...actions])]));
}

const HTTP_WORDS = table([
  // GET also covers HEAD: servers answer HEAD by running the GET handler, so a deny on GET
  // that left HEAD open would leak what it hides (headers, existence, length).
  ...HTTP_METHODS.map((method) => [method, method === 'GET' ? ['GET', 'HEAD'] : [method]] as const),
  ['read', ['GET', 'HEAD', 'OPTIONS']],
  ['write', ['POST', 'PUT', 'PATCH']],
  ['delete', ['DELETE']],
  ['*', HTTP_METHODS],
]);

const POSTGRES_WORDS = table([
  ...POSTGRES_ACTIONS.map((action) => [action, [action]] as const),
  ['read', ['select']],
  ['write', ['insert', 'update', 'delete']],
  ['*', POSTGRES_ACTIONS],
]);

const MCP_WORDS = table([...MCP_ACTIONS.map((action) => [action, [action]] as const), ['*', MCP_ACTIONS]]);

const ADMIN_WORDS = table([...ADMIN_ACTIONS.map((action) => [action, [action]] as const), ['*', ADMIN_ACTIONS]]);

const WORDS: Readonly<Record<PolicyServiceKind, ActionTable>> = {
  http: HTTP_WORDS,
  postgres: POSTGRES_WORDS,
  mcp: MCP_WORDS,
  latchkey: ADMIN_WORDS,
};

/** Every concrete action of a kind, in a stable order (the index is used by the compiler). */
export function concreteActions(kind: PolicyServiceKind): readonly string[] {
  return WORDS[kind].get('*') as readonly string[];
}

/** The concrete actions an action word grants, or undefined when the word is not valid for the kind. */
export function actionsOf(kind: PolicyServiceKind, word: string): readonly string[] | undefined {
  return WORDS[kind].get(word);
}

/** The words a permission of this kind may use, for error messages. */
export function actionWords(kind: PolicyServiceKind): readonly string[] {
  return [...WORDS[kind].keys()];
}

const INDEXES: Readonly<Record<PolicyServiceKind, ReadonlyMap<string, number>>> = {
  http: indexOf('http'),
  postgres: indexOf('postgres'),
  mcp: indexOf('mcp'),
  latchkey: indexOf('latchkey'),
};

function indexOf(kind: PolicyServiceKind): ReadonlyMap<string, number> {
  return new Map(concreteActions(kind).map((action, index) => [action, index]));
}

/** The position of a concrete action in `concreteActions(kind)`, or -1. */
export function actionIndex(kind: PolicyServiceKind, action: string): number {
  return INDEXES[kind].get(action) ?? -1;
}
