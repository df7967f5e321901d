// The compiled forms of permissions that the compiler builds once and both the
// decisions and their explanations read: nothing here is parsed per request.

import type { CompiledConstraint } from './argument-constraints.js';
import type { NameMatcher } from './name-glob.js';
import type { SequencePattern } from './pattern-algebra.js';
import type { Decision, Permission } from './types.js';

/** An http allow as explanations need it (the tries hold the decisions). */
export interface HttpAllow {
  readonly permission: Permission;
  readonly pattern: SequencePattern;
}

export interface TableRule {
  readonly permission: Permission;
  /** The canonical `schema.table` glob, for explanations. */
  readonly glob: string;
  readonly schema: NameMatcher;
  readonly table: NameMatcher;
  readonly decision: Decision;
}

export interface NameRule {
  readonly permission: Permission;
  readonly glob: string;
  readonly name: NameMatcher;
  /** Argument constraints of a tool call permission; empty for everything else. */
  readonly constraints: readonly CompiledConstraint[];
  readonly decision: Decision;
}

export interface EnvRule {
  readonly permission: Permission;
  /** Undefined: every environment, and actions not scoped to one. */
  readonly env: string | undefined;
  readonly decision: Decision;
}
