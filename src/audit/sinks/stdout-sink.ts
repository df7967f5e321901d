import { once } from 'node:events';
import type { AuditEvent } from '../event.js';
import { eventJsonLine } from '../export.js';
import type { AuditSink } from './sink.js';

// Committed audit events as JSONL on stdout, for containers whose platform
// collects stdout. Pino logs go to stdout as well; each audit line is a
// complete JSON object with `seq` and `hash`, which tells them apart.

export function createStdoutSink(out: NodeJS.WritableStream = process.stdout): AuditSink {
  let chain: Promise<void> = Promise.resolve();
  return {
    name: 'stdout',
    write(events: readonly AuditEvent[]): Promise<void> {
      const text = events.map(eventJsonLine).join('');
      const next = chain.then(async () => {
        if (!out.write(text)) await once(out as NodeJS.EventEmitter, 'drain');
      });
      chain = next.catch(() => undefined);
      return next;
    },
    async close(): Promise<void> {
      await chain;
    },
  };
}
