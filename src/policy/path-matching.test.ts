import { describe, expect, it } from 'vitest';
import { compileGrant } from './compile-grant.js';
import { normalizePath } from './normalize-path.js';
import { parsePermissions } from './parse-permission.js';
import { foldPattern, foldRequestSegments, type PathMatching } from './path-matching.js';
import { ANY, ONE } from './pattern-algebra.js';
import type { ServiceCatalog } from './types.js';

function fold(path: string, matching: PathMatching) {
  const normalized = normalizePath(path);
  if (!normalized.ok) throw new Error(normalized.detail);
  return foldRequestSegments(normalized.segments, matching);
}

const segmentsOf = (path: string, matching: PathMatching) => {
  const folded = fold(path, matching);
  return folded.ok ? folded.segments : folded.detail;
};

describe('foldRequestSegments', () => {
  it('exact leaves the segments as they are', () => {
    expect(segmentsOf('/v1/ADMIN./x', 'exact')).toEqual(['v1', 'ADMIN.', 'x']);
  });

  it('case-insensitive folds ASCII letters only, and keeps dots, spaces and suffixes', () => {
    expect(segmentsOf('/v1/ADMIN/X', 'case-insensitive')).toEqual(['v1', 'admin', 'x']);
    expect(segmentsOf('/v1/%41dmin.JSON', 'case-insensitive')).toEqual(['v1', 'admin.json']);
    expect(segmentsOf('/v1/admin%20/x', 'case-insensitive')).toEqual(['v1', 'admin ', 'x']);
  });

  for (const path of ['/v1/adm%C4%B1n/x', '/v1/%E2%84%AA', '/v1/%C5%BFecret', '/v1/caf%C3%A9']) {
    it(`case-insensitive and lenient refuse non-ASCII ${path}`, () => {
      for (const matching of ['case-insensitive', 'lenient'] as const) expect(fold(path, matching).ok).toBe(false);
      expect(fold(path, 'exact').ok).toBe(true);
    });
  }

  it('lenient drops trailing dots and spaces of every segment and the format suffix of the last', () => {
    expect(segmentsOf('/v1/admin./x', 'lenient')).toEqual(['v1', 'admin', 'x']);
    expect(segmentsOf('/v1/admin%20%20/x', 'lenient')).toEqual(['v1', 'admin', 'x']);
    expect(segmentsOf('/v1/Admin.JSON', 'lenient')).toEqual(['v1', 'admin']);
    expect(segmentsOf('/v1/admin.json.xml', 'lenient')).toEqual(['v1', 'admin']);
    expect(segmentsOf('/v1/admin.%20.json', 'lenient')).toEqual(['v1', 'admin']);
    expect(segmentsOf('/v1/admin.json/x', 'lenient')).toEqual(['v1', 'admin.json', 'x']);
    expect(segmentsOf('/v1/.well-known', 'lenient')).toEqual(['v1', '.well-known']);
  });

  for (const path of ['/v1/admin~/x', '/v1/ADMIN~1', '/v1/admin::$INDEX_ALLOCATION/x', '/v1/admin%3A%3A$DATA', '/v1/...', '/v1/.%20./x', '/v1/.json']) {
    it(`lenient refuses ${path}`, () => {
      expect(fold(path, 'lenient').ok).toBe(false);
    });
  }
});

describe('foldPattern', () => {
  it('folds literals like the requests of the service, once, at compile time', () => {
    expect(foldPattern(['v1', 'Admin', ANY], 'case-insensitive')).toEqual([['v1', 'admin', ANY]]);
    expect(foldPattern(['v1', 'Reports.', ONE, 'Q1.pdf'], 'lenient')).toEqual([['v1', 'reports', ONE, 'q1']]);
    expect(foldPattern(['v1', 'Admin'], 'exact')).toEqual([['v1', 'Admin']]);
  });

  it('a lenient literal before a final ** is folded both as a middle and as a final segment', () => {
    expect(foldPattern(['v1', 'admin.json', ANY], 'lenient')).toEqual([['v1', 'admin.json', ANY], ['v1', 'admin']]);
    expect(foldPattern(['v1', 'admin', ANY], 'lenient')).toEqual([['v1', 'admin', ANY]]);
  });
});

describe('grants compiled for a service profile', () => {
  const profiles: Record<string, PathMatching> = { ci: 'case-insensitive', loose: 'lenient', strict: 'exact' };
  const catalog: ServiceCatalog = { kindOf: (s) => (s in profiles ? 'http' : undefined), pathMatchingOf: (s) => profiles[s] };
  const grantOf = (...texts: string[]) => compileGrant(parsePermissions(texts, catalog), catalog);
  const decide = (grant: ReturnType<typeof grantOf>, service: string, method: string, path: string) => {
    const matching = profiles[service]!;
    const folded = fold(path, matching);
    if (!folded.ok) return 'ambiguous';
    return grant.decideHttp(service, method, folded.segments, matching).allowed ? 'allowed' : 'denied';
  };

  it('a deny holds against every spelling its upstream resolves to the same resource', () => {
    const grant = grantOf('loose:*', '!loose:*:/v1/admin/**', 'ci:*', '!ci:*:/v1/Admin/**');
    for (const path of ['/v1/ADMIN/x', '/v1/admin.json', '/v1/admin%20/x', '/v1/admin./x', '/v1/Admin.Json.']) {
      expect(decide(grant, 'loose', 'GET', path)).toBe('denied');
    }
    expect(decide(grant, 'loose', 'GET', '/v1/administrator/x')).toBe('allowed');
    expect(decide(grant, 'ci', 'DELETE', '/v1/admin/x')).toBe('denied');
    expect(decide(grant, 'ci', 'GET', '/v1/ADMIN')).toBe('denied');
    expect(decide(grant, 'ci', 'GET', '/v1/admins')).toBe('allowed');
  });

  it('an exact service is untouched', () => {
    const grant = grantOf('strict:*', '!strict:*:/v1/admin/**');
    expect(decide(grant, 'strict', 'GET', '/v1/ADMIN/x')).toBe('allowed');
    expect(decide(grant, 'strict', 'GET', '/v1/admin/x')).toBe('denied');
  });

  it('a grant compiled for one profile denies a request folded for another (the service changed since)', () => {
    const grant = grantOf('ci:*');
    const folded = fold('/v1/x', 'exact');
    expect(folded.ok && grant.decideHttp('ci', 'GET', folded.segments, 'exact').allowed).toBe(false);
    expect(folded.ok && grant.decideHttp('ci', 'GET', folded.segments, 'case-insensitive').allowed).toBe(true);
    // Compiled without a catalog, every service is exact.
    expect(compileGrant(parsePermissions(['ci:*'], catalog)).decideHttp('ci', 'GET', ['v1'], 'case-insensitive').allowed).toBe(false);
  });
});
