import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileGrant } from './compile-grant.js';
import { parsePermission, parsePermissions } from './parse-permission.js';
import type { ServiceCatalog } from './types.js';
import { isWithin } from './within.js';

const catalog: ServiceCatalog = { kindOf: (service) => (service === 'gh' ? 'mcp' : undefined) };
const grant = (...texts: string[]) => compileGrant(parsePermissions(texts, catalog));

describe('argument constraints: syntax', () => {
  it('parses to a canonical form with arguments sorted', () => {
    expect(parsePermission('gh:call:create_issue{state=open|closed,repo=acme/*}', catalog).text).toBe('gh:call:create_issue{repo=acme/*,state=open|closed}');
    expect(parsePermission('!gh:call:*{repo=acme/secret}', catalog).text).toBe('!gh:call:*{repo=acme/secret}');
  });

  it.each([
    ['gh:call:create_issue{}', 'empty argument constraints {}'],
    ['gh:call:create_issue{repo}', 'argument constraint "repo" in create_issue{repo}: expected argument=glob'],
    ['gh:call:create_issue{repo=}', 'argument repo in create_issue{repo=} has an empty value'],
    ['gh:call:create_issue{repo=a,repo=b}', 'argument repo is constrained twice'],
    ['gh:call:create_issue{repo=a', 'must end with }'],
    ['gh:call:{repo=a}', 'a tool name (or *) must come before {'],
    ['gh:call:x{9repo=a}', 'argument name "9repo"'],
    ['gh:call:x{repo=a**}', 'value "a**" of argument repo'],
    ['gh:read:x{repo=a}', 'apply to tool calls only: write gh:call:x{repo=a}'],
    ['gh:*:x{repo=a}', 'apply to tool calls only'],
  ])('refuses %s, pointing at the bad part', (text, message) => {
    expect(() => parsePermission(text, catalog)).toThrow(message);
  });
});

describe('argument constraints: decisions', () => {
  it('allows only the arguments written, and names the argument it refused', () => {
    const g = grant('gh:call:create_issue{repo=acme/*,state=open|closed}');
    expect(g.decideMcp('gh', 'call', 'create_issue', { repo: 'acme/web', state: 'open', title: 'x' }).allowed).toBe(true);
    const outside = g.decideMcp('gh', 'call', 'create_issue', { repo: 'evil/web', state: 'open' });
    expect(outside.allowed).toBe(false);
    expect(outside.argument).toBe('repo');
    expect(outside.explanation).toContain('argument repo has a value outside repo=acme/*');
    expect(g.decideMcp('gh', 'call', 'create_issue', { repo: 'acme/web' }).argument).toBe('state');
    expect(g.decideMcp('gh', 'call', 'create_issue', { repo: 'acme/web', state: 'merged' }).argument).toBe('state');
    expect(g.decideMcp('gh', 'call', 'create_issue', { repo: ['acme/web'], state: 'open' }).explanation).toContain('repo is not a string');
    expect(g.decideMcp('gh', 'call', 'create_issue', undefined).argument).toBe('repo');
    // Only own properties count: a prototype's `repo` is not an argument.
    expect(g.decideMcp('gh', 'call', 'create_issue', Object.create({ repo: 'acme/web', state: 'open' }) as Record<string, unknown>).allowed).toBe(false);
  });

  it('lets another allow of the tool decide when one allow refuses its arguments', () => {
    const g = grant('gh:call:create_issue{repo=acme/*}', 'gh:call:create_issue{repo=beta/*}');
    expect(g.decideMcp('gh', 'call', 'create_issue', { repo: 'beta/x' }).matched).toBe('gh:call:create_issue{repo=beta/*}');
  });

  it('a constrained deny fails closed: it also holds when its argument is absent or not a string', () => {
    const g = grant('gh:call:push', '!gh:call:push{branch=main}');
    expect(g.decideMcp('gh', 'call', 'push', { branch: 'feature' }).allowed).toBe(true);
    expect(g.decideMcp('gh', 'call', 'push', { branch: 'main' }).allowed).toBe(false);
    expect(g.decideMcp('gh', 'call', 'push', {}).allowed).toBe(false);
    expect(g.decideMcp('gh', 'call', 'push', { branch: 7 }).allowed).toBe(false);
  });
});

describe('argument constraints: isWithin', () => {
  const within = (child: string[], parent: string[]) => isWithin(parsePermissions(child, catalog), parsePermissions(parent, catalog));

  it('a constrained permission is within the unconstrained one and within a wider constraint, never the reverse', () => {
    expect(within(['gh:call:create_issue{repo=acme/*}'], ['gh:call:create_issue'])).toBe(true);
    expect(within(['gh:call:create_issue{repo=acme/*}'], ['gh:call:create_issue{repo=*}'])).toBe(true);
    expect(within(['gh:call:create_issue{repo=*}'], ['gh:call:create_issue{repo=acme/*}'])).toBe(false);
    expect(within(['gh:call:create_issue'], ['gh:call:create_issue{repo=acme/*}'])).toBe(false);
    expect(within(['gh:call:create_issue{repo=acme/web,state=open}'], ['gh:call:create_issue{repo=acme/*}'])).toBe(true);
    expect(within(['gh:call:create_issue{repo=acme/web}'], ['gh:call:create_issue{repo=acme/*,state=open}'])).toBe(false);
    expect(within(['gh:call:create_issue{state=open}'], ['gh:call:create_issue{state=open|closed}'])).toBe(true);
    expect(within(['gh:call:create_issue{state=open|merged}'], ['gh:call:create_issue{state=open|closed}'])).toBe(false);
  });

  it('a parent deny must be kept by the child', () => {
    expect(within(['gh:call:push'], ['gh:call:push', '!gh:call:push{branch=main}'])).toBe(false);
    expect(within(['gh:call:push', '!gh:call:push{branch=main}'], ['gh:call:push', '!gh:call:push{branch=main}'])).toBe(true);
    expect(within(['gh:call:push', '!gh:call:push{branch=*}'], ['gh:call:push', '!gh:call:push{branch=main}'])).toBe(true);
  });

  const glob = fc.array(fc.constantFrom('a', 'b', '/', '*'), { minLength: 1, maxLength: 4 }).map((chars) => chars.join('').replace(/\*+/g, '*'));
  const constraint = fc.tuple(fc.constantFrom('repo', 'state'), fc.array(glob, { minLength: 1, maxLength: 2 }));
  const permission = fc.tuple(fc.boolean(), fc.constantFrom('t', 't*', '*'), fc.array(constraint, { maxLength: 2 })).map(([deny, name, constraints]) => {
    const unique = new Map(constraints);
    const body = [...unique].map(([argument, globs]) => `${argument}=${globs.join('|')}`).join(',');
    return `${deny ? '!' : ''}gh:call:${name}${body === '' ? '' : `{${body}}`}`;
  });
  const value = fc.option(fc.array(fc.constantFrom('a', 'b', '/'), { maxLength: 4 }).map((c) => c.join('')), { nil: undefined });
  const call = fc.record({ name: fc.constantFrom('t', 'tx', 'u'), repo: value, state: value });

  it('never holds when a sampled call is allowed by the child and refused by the parent', () => {
    fc.assert(
      fc.property(fc.array(permission, { maxLength: 4 }), fc.array(permission, { maxLength: 4 }), fc.array(call, { maxLength: 30 }), (childTexts, parentTexts, calls) => {
        const child = parsePermissions(childTexts, catalog);
        const parent = parsePermissions(parentTexts, catalog);
        if (!isWithin(child, parent)) return;
        const childGrant = compileGrant(child);
        const parentGrant = compileGrant(parent);
        for (const { name, repo, state } of calls) {
          const args: Record<string, unknown> = {};
          if (repo !== undefined) args.repo = repo;
          if (state !== undefined) args.state = state;
          if (childGrant.decideMcp('gh', 'call', name, args).allowed) expect(parentGrant.decideMcp('gh', 'call', name, args).allowed).toBe(true);
        }
      }),
      { numRuns: 400 },
    );
  });

  it('a permission narrowed by a constraint is within the permission it narrows', () => {
    fc.assert(
      fc.property(permission, constraint, (text, [argument, globs]) => {
        if (text.startsWith('!') || text.includes('{')) return;
        const narrowed = `${text}{${argument}=${globs.join('|')}}`;
        expect(within([narrowed], [text])).toBe(true);
      }),
    );
  });
});
