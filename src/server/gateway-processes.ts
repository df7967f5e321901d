import cluster, { type Worker } from 'node:cluster';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AggregatorRegistry, type Registry } from 'prom-client';
import type { ListenAddress } from '../gateway/options.js';

// `latchkey gateway --processes N`: N gateway processes sharing the node's
// listening ports through node:cluster, for machines with more cores than one
// event loop can use. The primary process opens no store and serves no
// request: it forks the N processes, each a whole gateway node (its own cache,
// store pool, audit recorder and change feed), answers /metrics (the sum over
// the processes), /healthz and /readyz, replaces a process that dies, and
// stops them all on SIGINT or SIGTERM.
//
// The audit chain stays one total order because every process appends through
// the shared PostgreSQL store, whose append takes a transaction-scoped advisory
// lock and links onto the head it reads under that lock (postgres-audit.ts),
// exactly as separate gateway nodes do. Revocations reach every process through
// the store's LISTEN/NOTIFY feed. A SQLite store has no feed between
// processes, so more than one process needs a postgres:// store.

export const MAX_GATEWAY_PROCESSES = 64;

const READY = 'latchkey:ready';
const READINESS = 'latchkey:readiness';
const SHUTDOWN = 'latchkey:shutdown';
const OPS_ADDRESS_ENV = 'LATCHKEY_GATEWAY_OPS_ADDRESS';

/** In a process of --processes: the primary's ops listener (host and port), which the node must treat as its own. */
export function primaryOpsAddress(): { host: string; port: number } | null {
  const match = /^(.+):(\d+)$/.exec(process.env[OPS_ADDRESS_ENV] ?? '');
  return match === null ? null : { host: match[1]!, port: Number(match[2]) };
}

/** What a process tells the primary once its node serves: the lines the primary prints for it. */
interface ReadyMessage {
  readonly type: typeof READY;
  readonly lines: string;
}

interface ReadinessMessage {
  readonly type: typeof READINESS;
  readonly id: number;
  readonly ready?: boolean;
}

/** The number of processes `--processes` asks for, or why it cannot be used. */
export function parseProcessCount(value: string): number | string {
  if (!/^\d{1,3}$/.test(value)) return `--processes must be a whole number from 1 to ${MAX_GATEWAY_PROCESSES}, not ${JSON.stringify(value.slice(0, 20))}`;
  const count = Number(value);
  if (count < 1 || count > MAX_GATEWAY_PROCESSES) return `--processes must be from 1 to ${MAX_GATEWAY_PROCESSES}, not ${count}`;
  return count;
}

/** Whether this process is one of the N started by `--processes` (the primary is not). */
export function isGatewayProcess(): boolean {
  return cluster.isWorker;
}

export interface GatewayProcess {
  /** Whether the node would answer /readyz with 200. */
  ready(): boolean;
  readonly metrics: Registry;
  /** Graceful: drain, flush the audit queue, close the store. */
  close(): Promise<void>;
}

/**
 * The process side: tells the primary the node serves, answers its readiness
 * questions and its metrics scrapes, and closes the node when told to or when
 * the primary is gone (a process must never outlive the one that supervises it).
 */
export function serveAsGatewayProcess(node: GatewayProcess, lines: string): void {
  // Adds prom-client's answer to the primary's scrape, from this node's registry.
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([node.metrics]);
  let closing: Promise<void> | null = null;
  const stop = (code: number) => {
    closing ??= node.close().then(
      () => process.exit(code),
      (err: unknown) => {
        process.stderr.write(`latchkey: gateway process ${process.pid} failed to close: ${(err as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('message', (message: { type?: string; id?: number }) => {
    if (message?.type === SHUTDOWN) stop(0);
    else if (message?.type === READINESS && typeof message.id === 'number') {
      process.send?.({ type: READINESS, id: message.id, ready: closing === null && node.ready() } satisfies ReadinessMessage);
    }
  });
  process.on('disconnect', () => stop(1));
  // A terminal's Ctrl-C reaches every process of the group: close gracefully; the primary does not replace it while stopping.
  process.once('SIGINT', () => stop(0));
  process.once('SIGTERM', () => stop(0));
  process.send?.({ type: READY, lines } satisfies ReadyMessage);
}

export interface GatewayProcessesOptions {
  readonly count: number;
  /** /metrics, /healthz and /readyz, served by the primary; null for none. */
  readonly opsListen: ListenAddress | null;
  /** Where the primary says what it does (a process replaced, one that would not stop). */
  readonly log: (line: string) => void;
  /** How long the processes have to close before they are killed. Default 30 s. */
  readonly stopTimeoutMs?: number;
  /** Wait before a dead process is replaced. Default 1 s. */
  readonly restartDelayMs?: number;
}

export interface GatewayProcesses {
  /** What the first process said it serves. */
  readonly lines: string;
  readonly opsAddress: ListenAddress | null;
  /** The pids now serving, one per slot. */
  pids(): number[];
  /** Resolves when the processes stop for good, with why (a process that kept dying). Not when stop() was asked. */
  readonly failed: Promise<string>;
  stop(): Promise<void>;
}

/** Processes that die more often than this within a minute stop the gateway: something is wrong that a restart does not fix. */
const MAX_DEATHS_PER_MINUTE = 10;

/**
 * The primary side: forks the processes and resolves once every one serves.
 * One that exits before it serves fails the start (its error is on the shared
 * stderr); one that dies later is replaced.
 */
export async function startGatewayProcesses(options: GatewayProcessesOptions): Promise<GatewayProcesses> {
  const { count, log } = options;
  const stopTimeoutMs = options.stopTimeoutMs ?? 30_000;
  const restartDelayMs = options.restartDelayMs ?? 1000;
  const slots: Array<Worker | null> = Array.from({ length: count }, () => null);
  const serving = new Set<Worker>();
  const deaths: number[] = [];
  let stopping = false;
  let reportFailure: (why: string) => void = () => {};
  const failed = new Promise<string>((resolve) => (reportFailure = resolve));
  let lines = '';
  let started = false;
  let startFailed: ((err: Error) => void) | null = null;
  let allServing: (() => void) | null = null;

  function fork(slot: number): void {
    const worker = cluster.fork({
      LATCHKEY_GATEWAY_PROCESS: String(slot + 1),
      // The primary's ops listener is Latchkey's own: no service's upstream may be it (OwnListeners).
      ...(opsAddress !== null && { [OPS_ADDRESS_ENV]: `${opsAddress.host}:${opsAddress.port}` }),
    });
    slots[slot] = worker;
    worker.on('message', (message: { type?: string; lines?: string }) => {
      if (message?.type !== READY) return;
      serving.add(worker);
      if (lines === '' && typeof message.lines === 'string') lines = message.lines;
      if (!started && serving.size === count) allServing?.();
    });
    worker.once('exit', (code, signal) => {
      serving.delete(worker);
      if (slots[slot] === worker) slots[slot] = null;
      if (stopping) return;
      const how = signal === null ? `with code ${code}` : `on ${signal}`;
      if (!started) {
        startFailed?.(new Error(`gateway process ${slot + 1} of ${count} exited ${how} before it served (its error is above)`));
        return;
      }
      const now = Date.now();
      deaths.push(now);
      while (deaths.length > 0 && deaths[0]! < now - 60_000) deaths.shift();
      if (deaths.length > MAX_DEATHS_PER_MINUTE) {
        reportFailure(`gateway processes died ${deaths.length} times within a minute; the last exited ${how}`);
        return;
      }
      log(`latchkey: gateway process ${worker.process.pid} (${slot + 1} of ${count}) exited ${how}; starting another`);
      setTimeout(() => {
        if (!stopping) fork(slot);
      }, restartDelayMs).unref();
    });
  }

  async function stopAll(): Promise<void> {
    stopping = true;
    const alive = slots.filter((w): w is Worker => w !== null && !w.isDead());
    await Promise.all(alive.map((worker) => new Promise<void>((resolve) => {
      if (worker.isDead()) return resolve();
      const timer = setTimeout(() => {
        log(`latchkey: gateway process ${worker.process.pid} did not stop within ${stopTimeoutMs} ms; killing it`);
        worker.process.kill('SIGKILL');
      }, stopTimeoutMs);
      worker.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      if (worker.isConnected()) worker.send({ type: SHUTDOWN });
      else worker.process.kill('SIGTERM');
    })));
  }

  // Declared before the ops listener starts: /readyz may be asked while the processes start.
  let readinessId = 0;
  let ops: Server | null = null;
  let opsAddress: ListenAddress | null = null;
  if (options.opsListen !== null) {
    const aggregator = new AggregatorRegistry();
    ops = createServer((req, res) => {
      if (req.url === '/metrics') {
        aggregator.clusterMetrics().then(
          (text) => res.writeHead(200, { 'content-type': aggregator.contentType }).end(text),
          () => res.writeHead(500).end(),
        );
      } else if (req.url === '/healthz') {
        const up = slots.filter((w) => w !== null && serving.has(w)).length;
        res.writeHead(up > 0 ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: up > 0, processes: up, of: count }));
      } else if (req.url === '/readyz') {
        void readiness().then((each) => {
          const ready = each.every(Boolean);
          res.writeHead(ready ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ ready, processes: each }));
        });
      } else res.writeHead(404).end();
    });
    const server = ops;
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(options.opsListen!.port, options.opsListen!.host, () => resolve());
      });
    } catch (err) {
      server.close();
      throw err;
    }
    opsAddress = { host: options.opsListen.host, port: (server.address() as AddressInfo).port };
  }

  const everyoneServes = new Promise<void>((resolve, reject) => {
    allServing = resolve;
    startFailed = reject;
  });
  for (let slot = 0; slot < count; slot++) fork(slot);
  try {
    await everyoneServes;
  } catch (err) {
    await stopAll();
    ops?.close();
    throw err;
  }
  started = true;

  /** Asks every slot's process; a slot without a serving process, or one that does not answer within a second, is not ready. */
  async function readiness(): Promise<boolean[]> {
    return Promise.all(slots.map((worker) => new Promise<boolean>((resolve) => {
      if (worker === null || !serving.has(worker) || !worker.isConnected()) return resolve(false);
      const id = ++readinessId;
      const timer = setTimeout(() => done(false), 1000);
      const onMessage = (message: ReadinessMessage) => {
        if (message?.type === READINESS && message.id === id) done(message.ready === true);
      };
      function done(ready: boolean): void {
        clearTimeout(timer);
        worker!.off('message', onMessage);
        resolve(ready);
      }
      worker.on('message', onMessage);
      worker.send({ type: READINESS, id } satisfies ReadinessMessage);
    })));
  }

  let stopped: Promise<void> | null = null;
  return {
    lines,
    opsAddress,
    failed,
    pids: () => slots.filter((w): w is Worker => w !== null && serving.has(w)).map((w) => w.process.pid!),
    stop() {
      stopped ??= (async () => {
        if (ops !== null) {
          const server = ops;
          await new Promise<void>((resolve) => {
            server.close(() => resolve());
            server.closeAllConnections();
          });
        }
        await stopAll();
      })();
      return stopped;
    },
  };
}
