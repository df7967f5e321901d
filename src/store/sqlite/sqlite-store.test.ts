import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runStoreContract } from '../store.contract.js';
import { openSqliteStore } from './sqlite-store.js';

function sqliteContract(name: string, spanEvery?: number): void {
  runStoreContract(name, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-store-'));
    const file = join(dir, 'data', 'latchkey.db');
    const options = { file, ...(spanEvery !== undefined && { spanEvery }) };
    const store = await openSqliteStore(options);
    return {
      store,
      reopen: () => openSqliteStore(options),
      cleanup: async () => {
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  });
}

// The default leaves the contract's few events past every lookup span (read directly); a small group makes reads by
// token and by time cross from spans to the unspanned newest events at every point of the contract's appends.
sqliteContract('sqlite');
sqliteContract('sqlite, lookup spans every 4 events', 4);
