import { readdir, realpath, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve, sep } from 'node:path';
import type { CredentialsConfig, LatchkeyConfig } from '../../config/config.js';
import { compileGlob, type NameMatcher } from '../../policy/name-glob.js';

// Which variables and files a binding of each environment may name as its
// upstream credential. An operator's allow-list from the configuration, read
// once; Latchkey's own secrets are refused whatever it says. Used twice: by
// the admin API when a binding is written, and by the gateway when it loads
// one (a binding written before the rule, or before the configuration changed,
// must not be forwarded with a secret it may no longer name).

/** Kernel file systems: /proc/self/root leads anywhere, /proc/self/environ holds every variable. */
const KERNEL_ROOTS = ['/proc', '/sys', '/dev'];
/** node-postgres reads these for the store connection when its URL carries no password. */
const DRIVER_VARIABLES = ['PGPASSWORD', 'PGPASSFILE'];
const LATCHKEY_VARIABLE = /^LATCHKEY_/i;

/** What Latchkey itself reads, never an upstream credential. */
export interface LatchkeyOwnSecrets {
  /** Variable names beyond LATCHKEY_* (the audit webhook's secretEnv, ...). */
  readonly variables: readonly string[];
  /** Directories nothing under which may be read (the data directory). */
  readonly directories: readonly string[];
  /** Files (the config file, audit files, the SQLite store and its -wal/-shm/-journal siblings). */
  readonly files: readonly string[];
}

export type FileVerdict = { readonly ok: true; readonly real: string } | { readonly ok: false; readonly problem: string };

interface EnvironmentSources {
  readonly globs: readonly string[];
  readonly variables: readonly NameMatcher[];
  readonly directories: readonly string[];
}

export class CredentialPolicy {
  readonly #configured: CredentialsConfig;
  readonly #own: LatchkeyOwnSecrets;
  readonly #ownVariables: ReadonlySet<string>;
  readonly #byEnv = new Map<string, EnvironmentSources>();

  constructor(configured: CredentialsConfig, own: LatchkeyOwnSecrets) {
    this.#configured = configured;
    this.#own = own;
    this.#ownVariables = new Set([...DRIVER_VARIABLES, ...own.variables]);
  }

  /** No configuration at hand (tests, embedded gateways): the defaults, and only the built-in refusals. */
  static defaults(): CredentialPolicy {
    return new CredentialPolicy({}, { variables: [], directories: [], files: [] });
  }

  static forConfig(config: LatchkeyConfig): CredentialPolicy {
    const files = [config.configFile, config.audit.file, config.audit.checkpointFile].filter((f): f is string => f !== undefined).map((f) => resolve(f));
    if (!/^postgres(ql)?:\/\//i.test(config.store)) {
      const store = resolve(config.store);
      files.push(store, `${store}-wal`, `${store}-shm`, `${store}-journal`);
    }
    const variables = config.audit.webhook === undefined ? [] : [config.audit.webhook.secretEnv];
    return new CredentialPolicy(config.credentials, { variables, directories: [resolve(config.dataDir)], files });
  }

  /** A refusal (without any secret) or null when the variable may be read for this environment. */
  checkVariable(env: string, variable: string): string | null {
    if (LATCHKEY_VARIABLE.test(variable)) return "LATCHKEY_* variables hold Latchkey's own configuration and cannot be an upstream credential";
    if (this.#ownVariables.has(variable)) return `${variable} is one of Latchkey's own secrets and cannot be an upstream credential`;
    const sources = this.#sources(env);
    if (sources.variables.some((matches) => matches(variable))) return null;
    const allowed = sources.globs.length === 0 ? 'none' : sources.globs.join(', ');
    return `${variable} is not allowed for environment ${env} (allowed: ${allowed}; see credentials.${env}.variables)`;
  }

  /**
   * Resolves the path with every symlink and `..` followed, and accepts it only
   * when that real path is a regular file inside one of the environment's
   * directories and none of Latchkey's own. The caller reads `real`, never the
   * path as given, so a symlink swapped in later is not followed.
   */
  async checkFile(env: string, path: string): Promise<FileVerdict> {
    if (!isAbsolute(path)) return refuse('must be an absolute path');
    const { directories } = this.#sources(env);
    if (directories.length === 0) return refuse(`no credential files are allowed for environment ${env} (see credentials.${env}.directories)`);
    // Nothing outside the allowed directories is looked at on disk, so the answer says nothing of what exists there.
    const realDirectories = await Promise.all(directories.map((d) => realOrNull(d)));
    const named = resolve(path);
    if (!directories.some((d) => inside(named, d)) && !realDirectories.some((d) => d !== null && inside(named, d))) {
      return refuse(`is not inside a directory allowed for environment ${env} (see credentials.${env}.directories)`);
    }
    let real: string;
    try {
      real = await realpath(path);
    } catch (err) {
      return refuse(`cannot be resolved (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    const forbidden = await this.#forbiddenRoots();
    if (forbidden.some((root) => inside(real, root))) return refuse("resolves into Latchkey's own files or a kernel file system");
    if (!realDirectories.some((d) => d !== null && inside(real, d))) return refuse(`resolves outside the directories allowed for environment ${env}`);
    let identity: { dev: number; ino: number; isFile(): boolean };
    try {
      identity = await stat(real);
    } catch (err) {
      return refuse(`cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    if (!identity.isFile()) return refuse('is not a regular file');
    // A hard link shares no path with the file it names; its identity gives it away.
    for (const own of await this.#ownFiles()) {
      const other = await stat(own).catch(() => null);
      if (other !== null && other.dev === identity.dev && other.ino === identity.ino) return refuse("is one of Latchkey's own files");
    }
    return { ok: true, real };
  }

  #sources(env: string): EnvironmentSources {
    let sources = this.#byEnv.get(env);
    if (sources === undefined) {
      const configured = Object.hasOwn(this.#configured, env) ? this.#configured[env] : undefined;
      const globs = configured?.variables ?? [`${env.toUpperCase()}_*`];
      sources = { globs, variables: globs.map(compileGlob), directories: (configured?.directories ?? []).map((d) => resolve(d)) };
      this.#byEnv.set(env, sources);
    }
    return sources;
  }

  /** Real paths, worked out at each check: the data directory or an audit file may appear after start. */
  async #forbiddenRoots(): Promise<string[]> {
    const roots = [...KERNEL_ROOTS, ...this.#own.directories, ...this.#own.files];
    const real = await Promise.all(roots.map((root) => realOrNearest(root)));
    return [...roots, ...real];
  }

  async #ownFiles(): Promise<string[]> {
    const files = [...this.#own.files];
    for (const directory of this.#own.directories) {
      for (const where of [directory, join(directory, 'keys')]) {
        const names = await readdir(where).catch(() => [] as string[]);
        for (const name of names) files.push(join(where, name));
      }
    }
    return files;
  }
}

function refuse(problem: string): FileVerdict {
  return { ok: false, problem };
}

function inside(path: string, root: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : `${root}${sep}`);
}

async function realOrNull(path: string): Promise<string | null> {
  return realpath(path).catch(() => null);
}

/** The real path of `path`, or of its nearest existing ancestor joined with the rest. */
async function realOrNearest(path: string): Promise<string> {
  const real = await realOrNull(path);
  if (real !== null) return real;
  const parent = dirname(path);
  if (parent === path) return path;
  return join(await realOrNearest(parent), path.slice(parent.length));
}
