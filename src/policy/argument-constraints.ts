// Argument constraints of an mcp tool permission: `create_issue{repo=acme/*}`,
// `query{table=orders|customers,mode=read}`. Each constraint names one
// top-level argument and the globs (`*` any run of characters, `|` between
// alternatives) its string value must match. Parsed and compiled once; the
// hot path calls the compiled matchers and never reads the text.
//
// An allow's constraint holds when the argument is present, is a string and
// matches one alternative. A deny's constraint holds when the argument matches
// one alternative or is absent or not a string: a deny fails closed, so
// `!gh:call:push{branch=main}` cannot be stepped around by leaving branch out.

import { compileGlob, type NameMatcher } from './name-glob.js';
import { covers, globTokens } from './pattern-algebra.js';
import { PermissionSyntaxError } from './resource-syntax.js';

export interface ArgumentConstraint {
  /** The top-level argument's name. */
  readonly argument: string;
  /** Its allowed values, as globs; the value must match one. */
  readonly globs: readonly string[];
}

export interface CompiledConstraint extends ArgumentConstraint {
  readonly matchers: readonly NameMatcher[];
}

/** A tool name glob and its constraints, sorted by argument (none: the call is not constrained). */
export interface ToolPattern {
  readonly name: string;
  readonly constraints: readonly ArgumentConstraint[];
}

export const MAX_CONSTRAINTS = 16;
const ARGUMENT_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;
const RESERVED = /[{}=,|]/;

function fail(message: string): never {
  throw new PermissionSyntaxError(message);
}

/** Splits `name{a=x|y,b=z}`; a resource without `{` has no constraints. */
export function parseToolPattern(resource: string): ToolPattern {
  const open = resource.indexOf('{');
  if (open < 0) {
    if (resource.includes('}')) fail(`tool pattern ${resource}: } without {`);
    return { name: resource, constraints: [] };
  }
  const name = resource.slice(0, open);
  if (name === '') fail(`tool pattern ${resource}: a tool name (or *) must come before {`);
  if (name.includes('}')) fail(`tool pattern ${resource}: } before {`);
  if (!resource.endsWith('}')) fail(`argument constraints in ${resource} must end with }`);
  const body = resource.slice(open + 1, -1);
  if (body === '') fail(`empty argument constraints {} in ${resource}; leave out the braces to allow any arguments`);
  const parts = body.split(',');
  if (parts.length > MAX_CONSTRAINTS) fail(`${resource} constrains more than ${MAX_CONSTRAINTS} arguments`);
  const seen = new Set<string>();
  const constraints = parts.map((part): ArgumentConstraint => {
    const equals = part.indexOf('=');
    if (equals < 0) fail(`argument constraint ${JSON.stringify(part)} in ${resource}: expected argument=glob`);
    const argument = part.slice(0, equals);
    if (!ARGUMENT_NAME.test(argument)) fail(`argument name ${JSON.stringify(argument)} in ${resource}: expected [A-Za-z_][A-Za-z0-9_.-]*`);
    if (seen.has(argument)) fail(`argument ${argument} is constrained twice in ${resource}; put the values in one constraint with |`);
    seen.add(argument);
    const globs = part.slice(equals + 1).split('|');
    for (const glob of globs) {
      if (glob === '') fail(`argument ${argument} in ${resource} has an empty value; use * for any string`);
      if (RESERVED.test(glob)) fail(`value ${JSON.stringify(glob)} of argument ${argument} in ${resource}: { } = , | cannot appear in a value`);
      if (glob.includes('**')) fail(`value ${JSON.stringify(glob)} of argument ${argument} in ${resource}: ** is the same as *, write *`);
    }
    return { argument, globs };
  });
  constraints.sort((a, b) => (a.argument < b.argument ? -1 : a.argument > b.argument ? 1 : 0));
  return { name, constraints };
}

export function toolPatternText(pattern: ToolPattern): string {
  if (pattern.constraints.length === 0) return pattern.name;
  return `${pattern.name}{${pattern.constraints.map((c) => `${c.argument}=${c.globs.join('|')}`).join(',')}}`;
}

export function compileConstraints(constraints: readonly ArgumentConstraint[]): readonly CompiledConstraint[] {
  return constraints.map((constraint) => ({ ...constraint, matchers: constraint.globs.map(compileGlob) }));
}

function valueMatches(constraint: CompiledConstraint, value: string): boolean {
  for (let i = 0; i < constraint.matchers.length; i++) if ((constraint.matchers[i] as NameMatcher)(value)) return true;
  return false;
}

/** The first constraint an allow's call fails, or null when every one holds. */
export function failedConstraint(constraints: readonly CompiledConstraint[], args: Readonly<Record<string, unknown>> | undefined): CompiledConstraint | null {
  for (let i = 0; i < constraints.length; i++) {
    const constraint = constraints[i] as CompiledConstraint;
    const value = args === undefined || !Object.hasOwn(args, constraint.argument) ? undefined : args[constraint.argument];
    if (typeof value !== 'string' || !valueMatches(constraint, value)) return constraint;
  }
  return null;
}

/** A deny's constraints hold: each argument matches, or is absent or not a string (fail closed). */
export function denyConstraintsHold(constraints: readonly CompiledConstraint[], args: Readonly<Record<string, unknown>> | undefined): boolean {
  for (let i = 0; i < constraints.length; i++) {
    const constraint = constraints[i] as CompiledConstraint;
    const value = args === undefined || !Object.hasOwn(args, constraint.argument) ? undefined : args[constraint.argument];
    if (typeof value === 'string' && !valueMatches(constraint, value)) return false;
  }
  return true;
}

/**
 * Every call `inner` lets through, `outer` does: each argument `outer`
 * constrains, `inner` constrains too, every one of its globs inside one of
 * `outer`'s. (Sound for allows, and for denies, whose absent-argument rule is
 * the same on both sides.)
 */
export function constraintsCover(outer: readonly ArgumentConstraint[], inner: readonly ArgumentConstraint[]): boolean {
  for (const constraint of outer) {
    const narrower = inner.find((candidate) => candidate.argument === constraint.argument);
    if (narrower === undefined) return false;
    const outerGlobs = constraint.globs.map(globTokens);
    for (const glob of narrower.globs) {
      const tokens = globTokens(glob);
      if (!outerGlobs.some((outerGlob) => covers(outerGlob, tokens))) return false;
    }
  }
  return true;
}
