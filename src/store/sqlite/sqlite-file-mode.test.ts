// Finding 11b: the SQLite file holds token hashes and the audit trail, so it
// and its -wal/-shm are 0600 whatever the umask and the directory.
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ALICE, aToken, withEnvironments } from '../contract/fixtures.js';
import { openSqliteStore } from './sqlite-store.js';

const dirs: string[] = [];
let umask: number | null = null;
afterEach(() => {
  if (umask !== null) process.umask(umask);
  umask = null;
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function modeOf(path: string): string {
  return (statSync(path).mode & 0o777).toString(8);
}

describe('sqlite file mode', () => {
  it('creates the database, -wal and -shm 0600 under a permissive umask, in a world-readable directory', async () => {
    umask = process.umask(0o000);
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-mode-'));
    dirs.push(dir);
    chmodSync(dir, 0o777);
    const file = join(dir, 'latchkey.db');
    const store = await openSqliteStore({ file });
    await withEnvironments(store, 'prod');
    await store.createToken(aToken(), ALICE);
    const files = [file, `${file}-wal`, `${file}-shm`].filter((path) => existsSync(path));
    expect(files).toHaveLength(3);
    for (const path of files) expect(modeOf(path), path).toBe('600');
    await store.close();
  });

  it('puts right a database file left 0644 by an earlier version', async () => {
    umask = process.umask(0o000);
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-mode-'));
    dirs.push(dir);
    const file = join(dir, 'latchkey.db');
    writeFileSync(file, '', { mode: 0o644 });
    expect(modeOf(file)).toBe('644');
    const store = await openSqliteStore({ file });
    await withEnvironments(store, 'prod');
    for (const path of [file, `${file}-wal`, `${file}-shm`]) expect(modeOf(path), path).toBe('600');
    await store.close();
  });
});
