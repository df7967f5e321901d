import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TokenHasher } from '../token/index.js';

// The server key under which token hashes are computed. Every process that
// verifies tokens against one store needs the same key: the data directory's
// key file, or LATCHKEY_SECRET for nodes that do not share a disk.

export const TOKEN_KEY_FILE = join('keys', 'token-hmac.key');

export class KeyError extends Error {
  override readonly name = 'KeyError';
}

export function ensureDataDir(dataDir: string): void {
  mkdirSync(join(dataDir, 'keys'), { recursive: true, mode: 0o700 });
}

/**
 * Loads the token hashing key; creates it (mode 0600) when `create` is set and
 * no key exists. Refuses a key file that others can read.
 */
export function loadTokenHasher(dataDir: string, secret: string | undefined, create: boolean): TokenHasher {
  if (secret !== undefined && secret !== '') {
    if (secret.length < 32) throw new KeyError('LATCHKEY_SECRET must be at least 32 characters');
    return new TokenHasher(Buffer.from(secret, 'utf8'));
  }
  const file = join(dataDir, TOKEN_KEY_FILE);
  if (!existsSync(file)) {
    if (!create) throw new KeyError(`no server key at ${file}: run 'latchkey init' or set LATCHKEY_SECRET`);
    ensureDataDir(dataDir);
    // 'wx' fails if another process created it first; then we read theirs.
    try {
      writeFileSync(file, TokenHasher.generateKey().toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  const mode = statSync(file).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new KeyError(`${file} is readable by others (mode ${mode.toString(8)}); run: chmod 600 ${file}`);
  }
  const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
  if (key.length < 32) throw new KeyError(`${file} does not hold a valid key`);
  return new TokenHasher(key);
}
