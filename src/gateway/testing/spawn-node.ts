import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// Gateway nodes as real separate processes. Tests run TypeScript through
// vitest, but a child process needs JavaScript: the node entry and what it
// imports are compiled with tsc into a private directory under
// node_modules/.cache (so `pg`, `undici`... resolve from the repository).

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

export interface CompiledEntry {
  readonly nodeMain: string;
  readonly cleanup: () => void;
}

export function compileGatewayEntry(): CompiledEntry {
  const dir = join(REPO, 'node_modules', '.cache', `latchkey-gw-${process.pid}-${randomBytes(4).toString('hex')}`);
  mkdirSync(dir, { recursive: true });
  // Below node_modules there is no package scope: say that these files are ES modules.
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}\n');
  const tsconfig = join(dir, 'tsconfig.json');
  writeFileSync(
    tsconfig,
    JSON.stringify({
      extends: join(REPO, 'tsconfig.json'),
      compilerOptions: { outDir: join(dir, 'dist'), rootDir: join(REPO, 'src'), sourceMap: false, noEmit: false },
      files: [join(REPO, 'src/gateway/testing/node-main.ts')],
      include: [],
    }),
  );
  const tsc = spawnSync(process.execPath, [join(REPO, 'node_modules/typescript/bin/tsc'), '-p', tsconfig], { encoding: 'utf8' });
  const nodeMain = join(dir, 'dist', 'gateway', 'testing', 'node-main.js');
  if (!existsSync(nodeMain)) throw new Error(`could not compile the gateway node: ${tsc.stdout}${tsc.stderr}`);
  return { nodeMain, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export { spawnGatewayProcess, type NodeProcess } from './node-process.js';
