// The README's reason-code table follows the registry: every code it lists
// exists with that status, and every gateway code is listed.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { REASONS, type ReasonCode } from './registry.js';

/** Codes only the admin API answers with; the gateway table leaves them out. */
const ADMIN_ONLY = new Set<ReasonCode>(['invalid_request', 'not_found', 'conflict', 'unsupported_media_type', 'internal_error']);

function readmeTable(): Map<string, string> {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const section = readme.slice(readme.indexOf('## How the gateway answers'));
  const codes = new Map<string, string>();
  for (const line of section.split('\n')) {
    const row = /^\| ([0-9/]+) \| (.*) \|$/.exec(line);
    if (row === null) continue;
    for (const code of row[2]!.matchAll(/`([a-z_]+)`/g)) codes.set(code[1]!, row[1]!);
  }
  return codes;
}

describe('README reason-code table', () => {
  it('lists every gateway code of the registry under its status', () => {
    const table = readmeTable();
    for (const [code, { status }] of Object.entries(REASONS) as [ReasonCode, { status: number }][]) {
      if (ADMIN_ONLY.has(code) && !table.has(code)) continue;
      expect(table.get(code), code).toBeDefined();
      expect(table.get(code)!.split('/'), code).toContain(String(status));
    }
  });

  it('lists no code the registry does not have', () => {
    for (const code of readmeTable().keys()) expect(Object.hasOwn(REASONS, code), code).toBe(true);
  });
});
