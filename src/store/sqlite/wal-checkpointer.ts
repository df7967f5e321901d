// Checkpoints of the SQLite write-ahead log, off the event loop. By default
// SQLite checkpoints inside whichever commit pushes the WAL past 1,000 pages:
// that commit copies about 4 MB into the database file and fsyncs it, on the
// thread that serves requests, and every request waiting for that commit
// waits too. A long-running process (`latchkey serve`, a gateway node) instead
// turns automatic checkpoints off on its connection and lets a worker thread,
// with a connection of its own, run passive checkpoints: they never block a
// writer, and a commit then costs only its own page writes.
//
// If the worker cannot start or stops, the connection's automatic checkpoints
// come back on, so the WAL can never grow without bound.
//
// A passive checkpoint never restarts the WAL: only a writer beginning a
// transaction does, when everything in the WAL is already in the database
// file. Under steady load the writer commits back to back, so a checkpoint
// running beside it never catches up with the last commit, and the WAL grew
// without end (1 GB in 10 s of `npm run bench -- audit`, each commit slower
// than the last as the WAL index to search grew). So once a pass finds the WAL
// past `restartPages` and all of it checkpointed, the worker pauses and asks
// the connection's own thread, which is between transactions whenever it reads
// a message, to checkpoint the few pages committed since and restart the WAL
// (RESTART, not waiting for any reader: if one holds the WAL, the next pass asks again).
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';

/** SQLite's own default, restored when the worker is not running. */
const AUTO_CHECKPOINT_PAGES = 1000;
const DEFAULT_RESTART_PAGES = 8192;

export interface WalCheckpointerOptions {
  /** How often the worker checkpoints. Default 100 ms. */
  readonly everyMs?: number;
  /** WAL length, in pages, past which the WAL is restarted from its start (see above). Default 8192 (32 MiB of 4 KiB pages). */
  readonly restartPages?: number;
  /** Told once when the worker fails and automatic checkpoints come back. */
  readonly onFailure?: (error: Error) => void;
}

// CommonJS, evaluated in the worker: the same code runs from the TypeScript sources (tests) and from dist.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma('busy_timeout = 0');
const checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
let stopped = false;
let timer;
function run() {
  if (stopped) return;
  let pass;
  try {
    pass = checkpoint.get();
  } catch (error) {
    // Busy or locked: another connection is checkpointing or migrating; try again next time.
    if (!/^SQLITE_(BUSY|LOCKED)/.test(error.code || '')) throw error;
  }
  if (pass !== undefined && pass.log >= workerData.restartPages && pass.checkpointed === pass.log) {
    // Paused until the writer has restarted the WAL: its checkpoint must not wait for this one.
    parentPort.postMessage({ restart: pass.log });
    return;
  }
  timer = setTimeout(run, workerData.everyMs);
}
parentPort.on('message', (message) => {
  if (message === 'resume') {
    timer = setTimeout(run, workerData.everyMs);
    return;
  }
  if (message !== 'stop') return;
  stopped = true;
  clearTimeout(timer);
  db.close();
  parentPort.close();
});
parentPort.postMessage('ready');
run();
`;

export class WalCheckpointer {
  readonly #db: Database.Database;
  readonly #worker: Worker;
  #running = false;
  #restarts = 0;
  #restartsBusy = 0;
  #exited = false;
  #stopped: Promise<void> | null = null;

  private constructor(db: Database.Database, worker: Worker) {
    this.#db = db;
    this.#worker = worker;
  }

  /** Starts the worker for `db` (a connection to `file`); resolves once it checkpoints, with automatic checkpoints off. */
  static async start(db: Database.Database, file: string, options: WalCheckpointerOptions = {}): Promise<WalCheckpointer> {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    const workerData = { file, driver, everyMs: options.everyMs ?? 100, restartPages: options.restartPages ?? DEFAULT_RESTART_PAGES };
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData });
    const checkpointer = new WalCheckpointer(db, worker);
    await new Promise<void>((resolve, reject) => {
      worker.once('message', () => resolve());
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`the WAL checkpoint worker exited with ${code}`)));
    });
    // By name: removeAllListeners() would also drop the Worker's own hooks, after which no message arrives.
    for (const event of ['message', 'error', 'exit']) worker.removeAllListeners(event);
    worker.on('error', (error: Error) => checkpointer.#failed(error, options.onFailure));
    worker.on('message', (message: unknown) => {
      if (typeof message === 'object' && message !== null && 'restart' in message) checkpointer.#restart();
    });
    worker.on('exit', (code) => {
      checkpointer.#exited = true;
      checkpointer.#failed(new Error(`the WAL checkpoint worker exited with ${code}`), options.onFailure);
    });
    // Not a reason to keep the process alive.
    worker.unref();
    db.pragma('wal_autocheckpoint = 0');
    checkpointer.#running = true;
    return checkpointer;
  }

  /** Whether the worker is checkpointing (false once it failed or stopped: SQLite checkpoints by itself again). */
  get running(): boolean {
    return this.#running;
  }

  /** Checkpoints what was committed since the worker's pass and restarts the WAL, then lets the worker go on. */
  #restart(): void {
    if (!this.#running) return;
    if (this.#db.open && !this.#db.inTransaction) {
      const busyTimeout = this.#db.pragma('busy_timeout', { simple: true }) as number;
      // Never wait here: this is the thread that serves requests.
      this.#db.pragma('busy_timeout = 0');
      try {
        const [result] = this.#db.pragma('wal_checkpoint(RESTART)') as { busy: number; log: number; checkpointed: number }[];
        this.#restarts += 1;
        if (result !== undefined && result.busy !== 0) this.#restartsBusy += 1;
      } catch {
        // Another connection holds a lock the checkpoint needs (or the file cannot be written just now): the
        // worker's next pass asks again, and a commit meanwhile only appends to a longer WAL.
        this.#restartsBusy += 1;
      } finally {
        this.#db.pragma(`busy_timeout = ${busyTimeout}`);
      }
    }
    this.#worker.postMessage('resume');
  }

  /** WAL restarts asked for, and how many of them found the WAL busy; for tests and diagnostics. */
  get restarts(): { readonly asked: number; readonly busy: number } {
    return { asked: this.#restarts, busy: this.#restartsBusy };
  }

  #failed(error: Error, onFailure: ((error: Error) => void) | undefined): void {
    if (!this.#running) return;
    this.#running = false;
    if (this.#db.open) this.#db.pragma(`wal_autocheckpoint = ${AUTO_CHECKPOINT_PAGES}`);
    onFailure?.(error);
  }

  /** Stops the worker and gives checkpoints back to the connection; before the connection closes. */
  stop(): Promise<void> {
    this.#stopped ??= new Promise<void>((resolve) => {
      this.#running = false;
      if (this.#db.open) this.#db.pragma(`wal_autocheckpoint = ${AUTO_CHECKPOINT_PAGES}`);
      // A worker that already died has nothing left to stop.
      if (this.#exited) return resolve();
      for (const event of ['message', 'error', 'exit']) this.#worker.removeAllListeners(event);
      this.#worker.once('exit', () => resolve());
      // Held until it has closed its connection, so a process that is shutting down waits for it.
      this.#worker.ref();
      this.#worker.postMessage('stop');
    });
    return this.#stopped;
  }

  /** For tests: ends the worker as a crash would. */
  async crashForTest(): Promise<void> {
    await this.#worker.terminate();
  }
}
