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
// past `restartPages` and all of it checkpointed, the worker passes again at
// once until a pass finds few new pages, then asks for a pause: the store
// holds back its next audit append (`gate`; the event loop is not blocked,
// events queue up in the recorder) while the worker checkpoints the few pages
// committed since, and the append that then goes first restarts the WAL.
// Measured under the audit bench's load: appends held 6-7 ms (median, 17-23 ms at
// most) once per 32 MiB of WAL. Checkpointing those pages on the writer's
// thread instead stalled the event loop for 19 ms (median) each time, and
// pausing without the quick passes held appends for 22-47 ms.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';

/** SQLite's own default, restored when the worker is not running. */
const AUTO_CHECKPOINT_PAGES = 1000;
const DEFAULT_RESTART_PAGES = 8192;
const GATE_MAX_MS = 1000;

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
const CATCH_UP_PAGES = 256;
const MAX_QUICK_PASSES = 8;
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma('busy_timeout = 0');
const checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
let stopped = false;
let timer;
/** One passive checkpoint: { busy, log, checkpointed }, or undefined when busy or locked (another connection is checkpointing or migrating). */
function pass() {
  try {
    return checkpoint.get();
  } catch (error) {
    if (!/^SQLITE_(BUSY|LOCKED)/.test(error.code || '')) throw error;
    return undefined;
  }
}
// Catching up before a restart: the WAL's length at the last pass, the pages committed during it, and how many quick passes so far.
let lastLog = -1;
let lastFresh = Infinity;
let quickPasses = 0;
function run() {
  if (stopped) return;
  const done = pass();
  if (done !== undefined && done.log >= workerData.restartPages && done.checkpointed === done.log) {
    // Pages committed while the previous pass ran. While there are many and fewer each time, pass again at
    // once: the appends held back for the last pass then wait the shorter. A writer that outpaces the
    // passes is held back at once.
    const fresh = lastLog < 0 ? done.log : done.log - lastLog;
    if (fresh > CATCH_UP_PAGES && fresh < lastFresh && quickPasses < MAX_QUICK_PASSES) {
      lastLog = done.log;
      lastFresh = fresh;
      quickPasses += 1;
      timer = setTimeout(run, 0);
      return;
    }
    // Paused: the writer holds its appends back, then says 'final'.
    parentPort.postMessage('drain');
  } else {
    timer = setTimeout(run, workerData.everyMs);
  }
  lastLog = -1;
  lastFresh = Infinity;
  quickPasses = 0;
}
parentPort.on('message', (message) => {
  if (message === 'final') {
    if (stopped) return;
    // What was committed since the last pass, while nothing more is: the next append finds all of the WAL checkpointed.
    pass();
    parentPort.postMessage('drained');
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
  #gate: { readonly open: Promise<void>; readonly release: () => void; readonly timer: NodeJS.Timeout } | null = null;
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
    // execArgv: none of the parent's flags (under --input-type=module the CommonJS source would not evaluate).
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData, execArgv: [] });
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
      if (message === 'drain') checkpointer.#drain();
      else if (message === 'drained') checkpointer.#release();
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

  /**
   * Resolves when audit appends may go on; undefined (nearly always) when
   * they need not wait. Held while the worker checkpoints the last pages
   * before a WAL restart, at most GATE_MAX_MS.
   */
  get gate(): Promise<void> | undefined {
    return this.#gate?.open;
  }

  #drain(): void {
    if (!this.#running || this.#gate !== null) return;
    let release!: () => void;
    const open = new Promise<void>((resolve) => (release = resolve));
    // Never held for long, whatever the worker does. Not unref'd: it keeps a process whose only work is an
    // append held here alive until the worker answers (the worker itself does not keep the process alive).
    const timer = setTimeout(() => this.#release(), GATE_MAX_MS);
    this.#gate = { open, release, timer };
    this.#restarts += 1;
    this.#worker.postMessage('final');
  }

  #release(): void {
    const gate = this.#gate;
    if (gate === null) return;
    this.#gate = null;
    clearTimeout(gate.timer);
    gate.release();
  }

  /** How many times the worker has held appends back for a WAL restart; for tests and diagnostics. */
  get restarts(): number {
    return this.#restarts;
  }

  #failed(error: Error, onFailure: ((error: Error) => void) | undefined): void {
    if (!this.#running) return;
    this.#running = false;
    this.#release();
    if (this.#db.open) this.#db.pragma(`wal_autocheckpoint = ${AUTO_CHECKPOINT_PAGES}`);
    onFailure?.(error);
  }

  /** Stops the worker and gives checkpoints back to the connection; before the connection closes. */
  stop(): Promise<void> {
    this.#stopped ??= new Promise<void>((resolve) => {
      this.#running = false;
      this.#release();
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
