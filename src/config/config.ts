import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { isMap, isScalar, LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import { ENV_PATTERN } from '../token/index.js';
import { alertsConfig, alertsFileSchema, leaksConfig, leaksFileSchema, type AlertsConfig, type LeaksConfig } from './leak-response.js';
import { lifecycleConfig, lifecycleFileSchema, type LifecycleConfig } from './lifecycle.js';

// Configuration is read once at start from defaults, an optional file
// (latchkey.yaml or latchkey.json) and LATCHKEY_* variables, validated, and
// handed on as a typed value. Nothing re-reads it per request.

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

export function parseListenAddress(text: string, what: string): ListenAddress {
  const match = /^(?:(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):)?([0-9]{1,5})$/.exec(text);
  const port = match === null ? NaN : Number(match[2]);
  if (match === null || port > 65535) throw new ConfigError(`${what}: expected HOST:PORT, got ${JSON.stringify(text)}`);
  const host = match[1] === undefined ? '127.0.0.1' : match[1].replace(/^\[|\]$/g, '');
  return { host, port };
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const address = z.string().min(1);

/** Where one environment's bindings may read upstream secrets from; each key left out takes its default. */
const credentialSources = z.strictObject({
  variables: z.array(z.string().regex(/^[A-Za-z0-9_*]{1,128}$/, 'must be a variable name glob such as DEV_*')).optional(),
  directories: z.array(z.string().min(1).refine(isAbsolute, 'must be an absolute path')).optional(),
});
const credentialsSchema = z.record(z.string().regex(ENV_PATTERN, 'must be an environment name'), credentialSources);

const fileSchema = z.strictObject({
  dataDir: z.string().min(1).optional(),
  store: z.string().min(1).optional(),
  redis: z.string().regex(/^rediss?:\/\//, 'must be a redis:// URL').optional(),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).optional(),
  listen: z
    .strictObject({ admin: address.optional(), gateway: address.optional(), postgres: address.optional(), auth: address.optional() })
    .optional(),
  postgres: z
    .strictObject({
      tls: z
        .strictObject({ cert: z.string().min(1), key: z.string().min(1), required: z.boolean().optional() })
        .optional(),
      maxMessageBytes: z.int().min(1024).max(1_073_741_824).optional(),
    })
    .optional(),
  forwardAuth: z
    .strictObject({
      trustedProxies: z.array(z.string()).optional(),
      secretEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name').optional(),
      credentialServices: z.array(z.string().min(1)).optional(),
    })
    .optional(),
  gateway: z
    .strictObject({
      maxStalenessMs: z.int().min(0).max(3_600_000).optional(),
      trustedProxies: z.array(z.string()).optional(),
      nodeName: z.string().min(1).max(128).optional(),
      maxInFlightPerToken: z.int().min(1).max(1_000_000).optional(),
      maxInFlightPerService: z.int().min(1).max(1_000_000).optional(),
      foldRefusals: z.boolean().optional(),
    })
    .optional(),
  audit: z
    .strictObject({
      failMode: z.enum(['closed', 'open']).optional(),
      file: z.string().min(1).optional(),
      checkpointEvery: z.int().min(1).optional(),
      checkpointIntervalMs: z.int().min(100).optional(),
      checkpointFile: z.string().min(1).optional(),
      webhook: z
        .strictObject({ url: z.url(), secretEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/) })
        .optional(),
    })
    .optional(),
  credentials: credentialsSchema.optional(),
  leaks: leaksFileSchema.optional(),
  alerts: alertsFileSchema.optional(),
  lifecycle: lifecycleFileSchema.optional(),
});

export type ConfigFile = z.infer<typeof fileSchema>;

export interface LatchkeyConfig {
  readonly dataDir: string;
  /** A SQLite file path or a postgres:// URL. */
  readonly store: string;
  readonly redis: string | undefined;
  readonly logLevel: string;
  readonly listen: { readonly admin: ListenAddress; readonly gateway: ListenAddress; readonly postgres: ListenAddress; readonly auth: ListenAddress };
  /** The PostgreSQL gateway (src/postgres) beyond its address. */
  readonly postgres: {
    /** PEM files of the listener's certificate and key; undefined: SSLRequest is answered `N`. */
    readonly tls: { readonly cert: string; readonly key: string; readonly required: boolean } | undefined;
    readonly maxMessageBytes: number;
  };
  /** The forward-auth endpoint (src/forward-auth): who may ask it, and which services' credentials it hands out. */
  readonly forwardAuth: {
    /** CIDRs of the proxies allowed to ask; default loopback only. */
    readonly trustedProxies: readonly string[];
    /** A variable holding a shared secret the proxy sends in X-Latchkey-Auth-Secret; undefined: none required. */
    readonly secretEnv: string | undefined;
    /** Services whose upstream credential is returned to the proxy on allow. */
    readonly credentialServices: readonly string[];
  };
  readonly gateway: {
    readonly maxStalenessMs: number;
    readonly trustedProxies: readonly string[];
    readonly nodeName: string;
    /** Requests in flight per token (429 concurrency_limited past it). */
    readonly maxInFlightPerToken: number;
    /** Requests in flight per service binding. */
    readonly maxInFlightPerService: number;
    /** Fold refusals made before a token is known into one event per key and batch (audit/refusal-summary.ts). */
    readonly foldRefusals: boolean;
  };
  readonly audit: {
    readonly failMode: 'closed' | 'open';
    readonly file: string | undefined;
    readonly checkpointEvery: number;
    readonly checkpointIntervalMs: number;
    readonly checkpointFile: string | undefined;
    readonly webhook: { readonly url: string; readonly secretEnv: string } | undefined;
  };
  /** The file it was read from, absolute; undefined when there was none. Never a credential source. */
  readonly configFile: string | undefined;
  /** Per environment, as given (environments absent get the default: `<ENV>_*` variables, no files). */
  readonly credentials: CredentialsConfig;
  readonly leaks: LeaksConfig;
  readonly alerts: AlertsConfig;
  readonly lifecycle: LifecycleConfig;
  /** LATCHKEY_SECRET, when set: the token hashing key shared by nodes that share no disk. */
  readonly secret: string | undefined;
}

export type CredentialsConfig = Readonly<Record<string, { readonly variables?: readonly string[]; readonly directories?: readonly string[] }>>;

export interface ConfigOverrides {
  readonly configFile?: string;
  readonly dataDir?: string;
  readonly store?: string;
  readonly admin?: string;
  readonly gateway?: string;
  readonly postgres?: string;
  readonly auth?: string;
  readonly redis?: string;
  readonly pgTlsCert?: string;
  readonly pgTlsKey?: string;
}

function readConfigFile(path: string): ConfigFile {
  let raw: unknown;
  // Where in a YAML file a path's value (or, for an unknown key, the key itself) is written.
  let lineOf: (keys: readonly PropertyKey[], unknownKey?: string) => number | undefined = () => undefined;
  try {
    const text = readFileSync(path, 'utf8');
    if (path.endsWith('.json')) {
      raw = JSON.parse(text);
    } else {
      const lines = new LineCounter();
      const doc = parseDocument(text, { lineCounter: lines });
      if (doc.errors.length > 0) throw doc.errors[0]!;
      raw = doc.toJS();
      lineOf = (keys, unknownKey) => {
        let node = (keys.length === 0 ? doc.contents : doc.getIn(keys, true)) as unknown;
        if (unknownKey !== undefined) node = isMap(node) ? node.items.find((item) => isScalar(item.key) && item.key.value === unknownKey)?.key : undefined;
        const range = (node as { range?: [number, number, number] } | undefined)?.range;
        return range === undefined ? undefined : lines.linePos(range[0]).line;
      };
    }
  } catch (err) {
    throw new ConfigError(`${path}: cannot read: ${(err as Error).message}`);
  }
  const parsed = fileSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.length > 0 ? issue.path.join('.') : '(top level)';
    const line = issue.code === 'unrecognized_keys' ? lineOf(issue.path, issue.keys[0]!) : lineOf(issue.path);
    const hint = issue.code === 'unrecognized_keys' ? unknownKeyHint(issue.path, issue.keys[0]!) : '';
    throw new ConfigError(`${path}${line === undefined ? '' : `:${line}`}: ${where}: ${issue.message}${hint}`);
  }
  return parsed.data;
}

/** The keys allowed where an unknown one was written, and the likely one (`admin:` is `listen.admin`). */
function unknownKeyHint(parent: readonly PropertyKey[], key: string): string {
  let schema: z.ZodType = fileSchema;
  for (const step of parent) {
    const shape = (schema as unknown as { shape?: Record<string, z.ZodType> }).shape;
    const next = shape?.[String(step)];
    if (next === undefined) return '';
    schema = (next as unknown as { unwrap?: () => z.ZodType }).unwrap?.() ?? next;
  }
  const known = Object.keys((schema as unknown as { shape?: Record<string, unknown> }).shape ?? {});
  if (known.length === 0) return '';
  const listen = Object.keys(fileSchema.shape.listen.unwrap().shape);
  const likely = parent.length === 0 && listen.includes(key) ? `; did you mean listen.${key}?` : '';
  return `${likely}; the keys here are ${known.join(', ')} (see "Configuration" in the README)`;
}

/** LATCHKEY_CREDENTIALS holds the same object as the file's `credentials` key, as JSON, and replaces it. */
function readCredentials(env: NodeJS.ProcessEnv, file: ConfigFile): CredentialsConfig {
  const text = env.LATCHKEY_CREDENTIALS;
  if (text === undefined || text === '') return file.credentials ?? {};
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new ConfigError('LATCHKEY_CREDENTIALS: must be JSON such as {"dev":{"variables":["DEV_*"]}}');
  }
  const parsed = credentialsSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(`LATCHKEY_CREDENTIALS: ${issue.path.join('.') || '(top level)'}: ${issue.message}`);
  }
  return parsed.data;
}

function findConfigFile(explicit: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  const named = explicit ?? env.LATCHKEY_CONFIG;
  if (named !== undefined && named !== '') {
    if (!existsSync(named)) throw new ConfigError(`config file ${named} does not exist`);
    return named;
  }
  return ['latchkey.yaml', 'latchkey.yml', 'latchkey.json'].find((name) => existsSync(name));
}

/** Precedence: command-line flags, then LATCHKEY_* variables, then the config file, then defaults. */
export function loadConfig(overrides: ConfigOverrides = {}, env: NodeJS.ProcessEnv = process.env): LatchkeyConfig {
  const path = findConfigFile(overrides.configFile, env);
  const file = path === undefined ? ({} as ConfigFile) : readConfigFile(path);
  const dataDir = resolve(overrides.dataDir ?? env.LATCHKEY_DATA ?? file.dataDir ?? 'latchkey-data');
  const store = overrides.store ?? env.LATCHKEY_STORE ?? file.store ?? join(dataDir, 'latchkey.db');
  const redis = overrides.redis ?? env.LATCHKEY_REDIS ?? file.redis;
  if (redis !== undefined && !/^rediss?:\/\//.test(redis)) throw new ConfigError('redis: must be a redis:// URL');
  return {
    dataDir,
    store,
    redis,
    logLevel: env.LATCHKEY_LOG_LEVEL ?? file.logLevel ?? 'info',
    listen: {
      admin: parseListenAddress(overrides.admin ?? env.LATCHKEY_ADMIN_ADDR ?? file.listen?.admin ?? '127.0.0.1:7700', 'admin address'),
      gateway: parseListenAddress(overrides.gateway ?? env.LATCHKEY_GATEWAY_ADDR ?? file.listen?.gateway ?? '127.0.0.1:7701', 'gateway address'),
      postgres: parseListenAddress(overrides.postgres ?? env.LATCHKEY_PG_ADDR ?? file.listen?.postgres ?? '127.0.0.1:7702', 'postgres address'),
      auth: parseListenAddress(overrides.auth ?? env.LATCHKEY_AUTH_ADDR ?? file.listen?.auth ?? '127.0.0.1:7703', 'forward-auth address'),
    },
    postgres: {
      tls: postgresTls(overrides, env, file),
      maxMessageBytes: file.postgres?.maxMessageBytes ?? 1024 * 1024,
    },
    forwardAuth: {
      trustedProxies: file.forwardAuth?.trustedProxies ?? ['127.0.0.0/8', '::1/128'],
      secretEnv: file.forwardAuth?.secretEnv,
      credentialServices: file.forwardAuth?.credentialServices ?? [],
    },
    gateway: {
      maxStalenessMs: file.gateway?.maxStalenessMs ?? 30_000,
      trustedProxies: file.gateway?.trustedProxies ?? [],
      nodeName: file.gateway?.nodeName ?? env.LATCHKEY_NODE ?? `node-${process.pid}`,
      maxInFlightPerToken: file.gateway?.maxInFlightPerToken ?? 64,
      maxInFlightPerService: file.gateway?.maxInFlightPerService ?? 512,
      foldRefusals: file.gateway?.foldRefusals ?? true,
    },
    audit: {
      failMode: file.audit?.failMode ?? 'closed',
      file: file.audit?.file,
      checkpointEvery: file.audit?.checkpointEvery ?? 1000,
      checkpointIntervalMs: file.audit?.checkpointIntervalMs ?? 60_000,
      checkpointFile: file.audit?.checkpointFile,
      webhook: file.audit?.webhook,
    },
    configFile: path === undefined ? undefined : resolve(path),
    credentials: readCredentials(env, file),
    leaks: leaksConfig(file.leaks),
    alerts: alertsConfig(file.alerts),
    lifecycle: lifecycleConfig(file.lifecycle),
    secret: env.LATCHKEY_SECRET,
  };
}

/** The PostgreSQL listener's certificate and key: both or neither, relative paths from the working directory. */
function postgresTls(overrides: ConfigOverrides, env: NodeJS.ProcessEnv, file: ConfigFile): LatchkeyConfig['postgres']['tls'] {
  const cert = overrides.pgTlsCert ?? env.LATCHKEY_PG_TLS_CERT ?? file.postgres?.tls?.cert;
  const key = overrides.pgTlsKey ?? env.LATCHKEY_PG_TLS_KEY ?? file.postgres?.tls?.key;
  const required = file.postgres?.tls?.required ?? false;
  if (cert === undefined && key === undefined) return undefined;
  if (cert === undefined || key === undefined) {
    throw new ConfigError(`postgres.tls: the certificate and its key go together: ${cert === undefined ? 'cert (--pg-tls-cert, LATCHKEY_PG_TLS_CERT)' : 'key (--pg-tls-key, LATCHKEY_PG_TLS_KEY)'} is missing`);
  }
  return { cert: resolve(cert), key: resolve(key), required };
}
