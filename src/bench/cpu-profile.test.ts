import { describe, expect, it } from 'vitest';
import { profileParts } from './cpu-profile.js';

// The benchmark's profile breakdown (LATCHKEY_BENCH_PROFILE): each sample's self time lands in one part, idle in none.

const frame = (id: number, functionName: string, url = '') => ({ id, callFrame: { functionName, url } });

describe('the CPU profile breakdown', () => {
  it('adds each sample to the part of its function, and leaves idle time out', () => {
    const nodes = [
      frame(1, '(idle)'),
      frame(2, 'writev'),
      frame(3, '#append', 'file:///repo/build/store/sqlite/sqlite-store.js'),
      frame(4, 'hash', 'node:internal/crypto/hash'),
      frame(5, 'canonicalFlat', 'file:///repo/build/audit/canonical.js'),
      frame(6, 'run', 'file:///repo/build/gateway/http/pipeline.js'),
      frame(7, 'parseHeaders', 'file:///repo/node_modules/undici/lib/core/util.js'),
      frame(8, 'emit', 'node:events'),
      frame(9, '(garbage collector)'),
      frame(10, 'sqliteTransaction', 'file:///repo/node_modules/better-sqlite3/lib/methods/transaction.js'),
    ];
    const samples = [1, 2, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1];
    const parts = profileParts({ nodes, samples, timeDeltas: samples.map((_, i) => i + 1) });
    expect(Object.fromEntries(parts)).toEqual({
      'socket writes (syscalls included)': 2 + 3,
      'audit: SQLite inserts and commits': 4 + 11,
      'audit: SHA-256': 5,
      'audit: canonical JSON, redaction and bounds': 6,
      "Latchkey's gateway, core, policy and usage (the bench's own proxy for bare)": 7,
      'undici (the upstream client)': 8,
      "Node's HTTP, streams, events and timers": 9,
      'garbage collection': 10,
    });
  });
});
