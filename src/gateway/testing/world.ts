import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import { Registry } from 'prom-client';
import { request } from 'undici';
import { createAuditRecorder } from '../../audit/index.js';
import type { AuditRecorder } from '../../audit/recorder.js';
import { openPostgresStore, openSqliteStore } from '../../store/index.js';
import { createTestDatabase } from '../../test-support/postgres.js';
import { aToken } from '../../store/contract/fixtures.js';
import { SYSTEM_ACTOR, type CredentialSource, type Service, type ServiceBinding, type TokenRecord } from '../../store/records.js';
import type { Store } from '../../store/store.js';
import { generateToken, TokenHasher } from '../../token/index.js';
import { startHttpGateway, type HttpGateway } from '../gateway.js';
import type { HttpGatewayOptions } from '../options.js';

// One gateway test world: a real store, the real audit recorder, a frozen but
// movable clock, helpers that create services and issue tokens the way the
// admin API does (keyed hash only), and a client for the gateway.

export const T0 = 1_767_225_600_000;

export interface IssuedToken {
  readonly token: string;
  readonly record: TokenRecord;
}

export interface GatewayReply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  readonly json: { error?: string; message?: string; [key: string]: unknown } | null;
}

export class GatewayWorld {
  now = T0;
  readonly clock = (): number => this.now;
  readonly hasher = new TokenHasher(TokenHasher.generateKey());
  readonly logs: string[] = [];
  readonly logger: Logger;
  readonly registry = new Registry();
  recorder!: AuditRecorder;
  gateway!: HttpGateway;
  readonly #cleanups: Array<() => Promise<void> | void> = [];

  constructor(
    readonly store: Store,
    /** The PostgreSQL database URL, when the store is PostgreSQL. */
    readonly pgUrl: string | null = null,
  ) {
    const sink = new Writable({
      write: (chunk: Buffer, _encoding, callback) => {
        this.logs.push(chunk.toString());
        callback();
      },
    });
    this.logger = pino({ level: 'debug' }, sink);
  }

  static async sqlite(): Promise<GatewayWorld> {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-gw-'));
    const store = await openSqliteStore({ file: join(dir, 'latchkey.db') });
    const world = new GatewayWorld(store);
    world.#cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    await world.environments('prod', 'staging', 'dev');
    return world;
  }

  onCleanup(step: () => Promise<void> | void): void {
    this.#cleanups.push(step);
  }

  async environments(...names: string[]): Promise<void> {
    const existing = new Set((await this.store.listEnvironments()).map((e) => e.name));
    for (const name of names) {
      if (!existing.has(name)) await this.store.createEnvironment({ name, maxTtlMs: 365 * 86_400_000, createdAt: T0 }, SYSTEM_ACTOR);
    }
  }

  async addService(name: string, bindings: readonly ServiceBinding[], overrides: Partial<Service> = {}): Promise<Service> {
    const service: Service = { name, kind: 'http', bindings, tokenHeader: null, maxBodyBytes: 1_048_576, paths: 'exact', headerUnderscores: 'drop', sqlFunctions: [], hiddenTools: [], createdAt: T0, updatedAt: T0, ...overrides };
    await this.store.createService(service, SYSTEM_ACTOR);
    return service;
  }

  async issue(overrides: Partial<TokenRecord> = {}): Promise<IssuedToken> {
    const env = overrides.env ?? 'prod';
    const token = generateToken(env);
    const record = aToken({
      name: 'ci deploy',
      env,
      roles: [],
      permissions: [],
      expiresAt: this.now + 3_600_000,
      createdAt: this.now,
      updatedAt: this.now,
      ...overrides,
    }, { token, hasher: this.hasher });
    await this.store.createToken(record, SYSTEM_ACTOR);
    return { token, record };
  }

  async start(overrides: Partial<HttpGatewayOptions> = {}): Promise<HttpGateway> {
    // Tests that break the store would otherwise wait out the recorder's 10 s close.
    if (overrides.recorder === undefined) this.recorder ??= createAuditRecorder({ store: this.store, failMode: 'closed', logger: this.logger, closeTimeoutMs: 1000 });
    else {
      if (this.recorder !== undefined && this.recorder !== overrides.recorder) await this.recorder.close();
      this.recorder = overrides.recorder;
    }
    this.gateway = await startHttpGateway({
      store: this.store,
      hasher: this.hasher,
      env: 'prod',
      recorder: this.recorder,
      metrics: this.registry,
      logger: this.logger,
      listen: { host: '127.0.0.1', port: 0 },
      nodeName: 'gw-test',
      clock: this.clock,
      ...overrides,
    });
    return this.gateway;
  }

  /** Another node on its own store instance, recorder and registry (the world's store stays the admin's). */
  async startNode(store: Store, overrides: Partial<HttpGatewayOptions> = {}): Promise<HttpGateway> {
    const recorder = overrides.recorder ?? createAuditRecorder({ store, failMode: 'closed', logger: this.logger, closeTimeoutMs: 1000 });
    const gateway = await startHttpGateway({
      store,
      hasher: this.hasher,
      env: 'prod',
      recorder,
      metrics: new Registry(),
      logger: this.logger,
      listen: { host: '127.0.0.1', port: 0 },
      clock: this.clock,
      ...overrides,
    });
    this.#cleanups.push(async () => {
      await gateway.close();
      await recorder.close();
      await store.close().catch(() => {});
    });
    return gateway;
  }

  static async postgres(): Promise<GatewayWorld> {
    const database = await createTestDatabase();
    const store = await openPostgresStore({ url: database.url });
    const world = new GatewayWorld(store, database.url);
    world.#cleanups.push(() => database.drop());
    await world.environments('prod', 'staging', 'dev');
    return world;
  }

  get base(): string {
    return `http://127.0.0.1:${this.gateway.address.port}`;
  }

  async send(
    path: string,
    options: { token?: string; method?: string; headers?: Record<string, string>; body?: string | Buffer; gateway?: HttpGateway } = {},
  ): Promise<GatewayReply> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
    const port = (options.gateway ?? this.gateway).address.port;
    const reply = await request(`http://127.0.0.1:${port}${path}`, {
      method: (options.method ?? 'GET') as 'GET',
      headers,
      ...(options.body !== undefined ? { body: options.body } : {}),
    });
    const text = await reply.body.text();
    let json: GatewayReply['json'] = null;
    try {
      json = JSON.parse(text) as GatewayReply['json'];
    } catch {
      json = null;
    }
    return { status: reply.statusCode, headers: reply.headers as GatewayReply['headers'], text, json };
  }

  /** Every decision event written so far (after flushing the recorder). */
  async decisions(): Promise<Array<Record<string, unknown>>> {
    await this.recorder.flush();
    const events = await this.store.readAudit({ kind: 'decision', limit: 10_000 });
    return events.map((event) => event.detail as unknown as Record<string, unknown>);
  }

  async close(): Promise<void> {
    await this.gateway?.close();
    await this.recorder?.close();
    await this.store.close().catch(() => {});
    for (const step of this.#cleanups.reverse()) await step();
  }
}

export function binding(env: string, upstream: string, credential: CredentialSource = { from: 'none' }): ServiceBinding {
  return { env, upstream, credential };
}

export function envCredential(variable: string, header = 'Authorization', scheme = 'Bearer'): CredentialSource {
  return { from: 'env', variable, header, scheme };
}
