import type { CompiledGrant } from '../../policy/types.js';
import type { AnalyzedStatement } from '../sql/index.js';

// The session's prepared statements and portals as the gateway authorized
// them. A statement remembers the grant it was checked under: Bind and
// Execute re-check it when the token's grant is another object (changed,
// narrowed, reloaded). Changes are optimistic (pipelined messages see them at
// once) and undone when the upstream refuses or skips the message.

export interface PreparedStatement {
  readonly sql: string;
  grant: CompiledGrant;
  statements: readonly AnalyzedStatement[];
  fingerprint: string;
}

export interface Undo {
  readonly map: 'statement' | 'portal';
  readonly name: string;
  readonly previous: PreparedStatement | undefined;
}

export class SessionStatements {
  readonly #statements = new Map<string, PreparedStatement>();
  readonly #portals = new Map<string, PreparedStatement>();

  statement(name: string): PreparedStatement | undefined {
    return this.#statements.get(name);
  }

  portal(name: string): PreparedStatement | undefined {
    return this.#portals.get(name);
  }

  prepare(name: string, statement: PreparedStatement): Undo {
    return this.#set('statement', name, statement);
  }

  bind(portal: string, statement: PreparedStatement): Undo {
    return this.#set('portal', portal, statement);
  }

  close(target: 'S' | 'P', name: string): Undo {
    return this.#set(target === 'S' ? 'statement' : 'portal', name, undefined);
  }

  /** A simple Query drops the unnamed statement and portal upstream. */
  dropUnnamed(): void {
    this.#statements.delete('');
    this.#portals.delete('');
  }

  undo(change: Undo): void {
    const map = change.map === 'statement' ? this.#statements : this.#portals;
    if (change.previous === undefined) map.delete(change.name);
    else map.set(change.name, change.previous);
  }

  #set(which: 'statement' | 'portal', name: string, value: PreparedStatement | undefined): Undo {
    const map = which === 'statement' ? this.#statements : this.#portals;
    const previous = map.get(name);
    if (value === undefined) map.delete(name);
    else map.set(name, value);
    return { map: which, name, previous };
  }
}
