import { readFileSync } from 'node:fs';

/** The version of the installed package (package.json two folders above dist/config/ or src/config/). */
export const LATCHKEY_VERSION: string = (() => {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
})();
