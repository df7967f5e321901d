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
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';

/** SQLite's own default, restored when the worker is not running. */
const AUTO_CHECKPOINT_PAGES = 1000;

export interface WalCheckpointerOptions {
  /** How often the worker checkpoints. Default 100 ms. */
  readonly everyMs?: number;
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
  try {
    checkpoint.get();
  } catch (error) {
    // Busy or locked: another connection is checkpointing or migrating; try again next time.
    if (!/^SQLITE_(BUSY|LOCKED)/.test(error.code || '')) throw error;
  }
  timer = setTimeout(run, workerData.everyMs);
}
parentPort.on('message', (message) => {
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
  #exited = false;
  #stopped: Promise<void> | null = null;

  private constructor(db: Database.Database, worker: Worker) {
    this.#db = db;
    this.#worker = worker;
  }

  /** Starts the worker for `db` (a connection to `file`); resolves once it checkpoints, with automatic checkpoints off. */
  static async start(db: Database.Database, file: string, options: WalCheckpointerOptions = {}): Promise<WalCheckpointer> {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { file, driver, everyMs: options.everyMs ?? 100 } });
    const checkpointer = new WalCheckpointer(db, worker);
    await new Promise<void>((resolve, reject) => {
      worker.once('message', () => resolve());
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`the WAL checkpoint worker exited with ${code}`)));
    });
    worker.removeAllListeners();
    worker.on('error', (error: Error) => checkpointer.#failed(error, options.onFailure));
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
      this.#worker.removeAllListeners();
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
