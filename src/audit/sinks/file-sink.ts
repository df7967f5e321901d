import { open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import type { AuditEvent } from '../event.js';
import { eventJsonLine } from '../export.js';
import type { AuditSink } from './sink.js';

// Committed audit events appended to a JSONL file, for log shippers that tail
// files. When the file would pass `maxBytes` it is rotated the way logrotate
// names them: audit.jsonl → audit.jsonl.1 → audit.jsonl.2 …, keeping
// `maxFiles` old files. Writes are chained, so lines keep chain order.

export interface FileSinkOptions {
  readonly path: string;
  /** Default 100 MiB. */
  readonly maxBytes?: number;
  /** Rotated files kept besides the current one. Default 10. */
  readonly maxFiles?: number;
  /** fsync after each batch. Off by default: the store holds the durable copy. */
  readonly sync?: boolean;
}

export function createFileSink(options: FileSinkOptions): AuditSink {
  const { path } = options;
  const maxBytes = options.maxBytes ?? 100 * 1024 * 1024;
  const maxFiles = Math.max(0, options.maxFiles ?? 10);
  let handle: FileHandle | undefined;
  let size = 0;
  let chain: Promise<void> = Promise.resolve();

  async function ensureOpen(): Promise<FileHandle> {
    if (handle === undefined) {
      // 0600: an audit trail says who did what; it is not for every local user.
      handle = await open(path, 'a', 0o600);
      size = (await handle.stat()).size;
    }
    return handle;
  }

  async function rotate(): Promise<void> {
    await handle?.close();
    handle = undefined;
    if (maxFiles === 0) {
      await rm(path, { force: true });
      return;
    }
    await rm(`${path}.${maxFiles}`, { force: true });
    for (let n = maxFiles - 1; n >= 1; n--) {
      if (await exists(`${path}.${n}`)) await rename(`${path}.${n}`, `${path}.${n + 1}`);
    }
    await rename(path, `${path}.1`);
  }

  async function append(events: readonly AuditEvent[]): Promise<void> {
    const bytes = Buffer.from(events.map(eventJsonLine).join(''));
    await ensureOpen();
    // A batch is never split across files; a single batch larger than maxBytes gets a file to itself.
    if (size > 0 && size + bytes.length > maxBytes) {
      await rotate();
      await ensureOpen();
    }
    await handle!.write(bytes);
    size += bytes.length;
    if (options.sync === true) await handle!.datasync();
  }

  return {
    name: 'file',
    write(events: readonly AuditEvent[]): Promise<void> {
      const next = chain.then(() => append(events));
      // The chain continues after a failed write; the failure goes to this caller only.
      chain = next.catch(() => undefined);
      return next;
    },
    async close(): Promise<void> {
      await chain;
      await handle?.close();
      handle = undefined;
    },
  };
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}
