import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runStoreContract } from '../store.contract.js';
import { openSqliteStore } from './sqlite-store.js';

runStoreContract('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-store-'));
  const file = join(dir, 'data', 'latchkey.db');
  const store = await openSqliteStore({ file });
  return {
    store,
    reopen: () => openSqliteStore({ file }),
    cleanup: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
