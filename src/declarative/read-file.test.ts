import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileError, readLatchkeyFile } from './read-file.js';

function problem(text: string): string {
  try {
    readLatchkeyFile(text, 'latchkey.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(FileError);
    return (err as FileError).message;
  }
  throw new Error('the file was accepted');
}

describe('reading latchkey.yaml', () => {
  it('reads the example and the README sample', () => {
    const example = readLatchkeyFile(readFileSync(resolve('examples/latchkey.yaml'), 'utf8'), 'examples/latchkey.yaml');
    expect(example.desired.services.orders!.bindings.dev).toEqual({ upstream: 'http://127.0.0.1:9000', credential: { env: 'DEV_ORDERS_API_KEY' } });
    expect(example.desired.roles['orders-reader']!.permissions).toEqual(['orders:read:/v1/orders/**']);
    const readme = readFileSync(resolve('README.md'), 'utf8');
    const sample = /```yaml\n([\s\S]*?)```/.exec(readme.slice(readme.indexOf('## Configuration as code')))![1]!;
    const parsed = readLatchkeyFile(sample, 'README.md').desired;
    expect(Object.keys(parsed.environments)).toEqual(['dev', 'qa']);
    expect(parsed.roles['orders-reader']).toEqual({ description: 'reads orders', permissions: ['orders:read:/v1/orders/**'] });
  });

  it('names the line and column of each kind of problem', () => {
    expect(problem('roles:\n  r:\n    permissions: [a:b]\n  r:\n    permissions: [a:b]\n')).toBe('latchkey.yaml:4:3: Map keys must be unique');
    expect(problem('environments:\n  qa:\n    maxTtl: forever\n')).toBe('latchkey.yaml:3:13: environments.qa.maxTtl: expected a duration such as 30d, 12h or 2w');
    expect(problem('environments:\n  QA: {}\n')).toBe('latchkey.yaml:2:3: environments.QA: invalid name: must match [a-z][a-z0-9]{0,11}');
    expect(problem('services:\n  s:\n    kind: http\n    sqlFunctions: [now]\n')).toBe('latchkey.yaml:4:19: services.s.sqlFunctions: only a postgres service has a function allow-list');
    expect(problem('services:\n  s:\n    kind: http\n    bindings:\n      dev:\n        upstream: http://x\n        credential: { env: A, file: /b }\n'))
      .toMatch(/^latchkey\.yaml:7:21: services\.s\.bindings\.dev\.credential: give exactly one of env/);
    expect(problem('services:\n  s:\n    kind: ftp\n')).toMatch(/^latchkey\.yaml:3:11: services\.s\.kind: /);
    expect(problem('roles:\n  r: {}\n')).toMatch(/^latchkey\.yaml:2:6: roles\.r\.permissions: /);
    expect(problem('tokens: []\n')).toBe('latchkey.yaml:1:1: tokens: unknown field "tokens"');
    expect(problem('{"roles": {"r": {"permissions": "x"}}}')).toMatch(/^latchkey\.yaml:1:33: roles\.r\.permissions: /);
  });

  it('refuses anything that looks like a secret, by line, without echoing it', () => {
    for (const [text, at] of [
      ['services:\n  s:\n    kind: http\n    password: hunter2\n', '4:5'],
      ['services:\n  s:\n    kind: http\n    api_key: hunter2\n', '4:5'],
      ['services:\n  s:\n    kind: http\n    bindings:\n      dev:\n        upstream: https://ops:hunter2@api.example.com\n', '6:19'],
      ['roles:\n  r:\n    description: "Basic b3BzOmh1bnRlcjI="\n    permissions: [a:b]\n', '3:18'],
    ] as const) {
      const message = problem(text);
      expect(message.startsWith(`latchkey.yaml:${at}: `), message).toBe(true);
      expect(message).toContain('secrets never go into this file');
      expect(message).not.toContain('hunter2');
      expect(message).not.toContain('b3BzOmh1bnRlcjI=');
    }
    // tokenHeader names a header, not a secret; a credential names a variable.
    expect(() => readLatchkeyFile('services:\n  s:\n    kind: http\n    tokenHeader: X-Key\n', 'f')).not.toThrow();
  });
});
