import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

// Where a proxy's busy time goes, from the V8 CPU profile (`--cpu-prof`) of
// its main thread: each sample's self time put in one part (socket writes,
// the audit log's SQLite work, hashing and serialization, undici, Node's HTTP
// machinery, Latchkey's own code, GC, the rest), as a share of the busy
// (non-idle) time and as µs per request at the CPU per request the benchmark
// measured. A native call made from JavaScript (a write syscall, a SQLite
// statement) counts as the self time of the function V8 shows for it, so
// socket writes include the kernel's share. The profile is the main thread's
// alone, while the measured CPU is the process's: a worker thread's time (WAL
// checkpoints) is spread over the parts.

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string };
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

const SOCKET_WRITES = new Set(['writev', 'writeLatin1String', 'writeUtf8String', 'writeBuffer']);

/** The part a sample's function belongs to; null for idle time. */
function partOf(functionName: string, url: string): string | null {
  if (functionName === '(idle)') return null;
  if (SOCKET_WRITES.has(functionName)) return 'socket writes (syscalls included)';
  if (functionName === '(garbage collector)') return 'garbage collection';
  if (/better-sqlite3|\/store\/sqlite\//.test(url)) return 'audit: SQLite inserts and commits';
  if (/node:internal\/crypto\/hash/.test(url)) return 'audit: SHA-256';
  if (/\/audit\/(canonical|chain|redact|bound)\.js/.test(url) || /^RegExp: (\["|lk_)/.test(functionName)) return 'audit: canonical JSON, redaction and bounds';
  if (/\/audit\//.test(url)) return 'audit: recorder';
  if (/undici|^wasm:/.test(url)) return 'undici (the upstream client)';
  if (/\/build\/(gateway|core|policy|usage|token|bench)\//.test(url)) return "Latchkey's gateway, core, policy and usage (the bench's own proxy for bare)";
  if (url.startsWith('node:')) return "Node's HTTP, streams, events and timers";
  return 'other (V8 runtime, regular expressions, program)';
}

/** Busy time per part, in profile microseconds. */
export function profileParts(profile: CpuProfile): Map<string, number> {
  const selfTime = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    selfTime.set(id, (selfTime.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const parts = new Map<string, number>();
  for (const node of profile.nodes) {
    const time = selfTime.get(node.id);
    if (time === undefined) continue;
    const part = partOf(node.callFrame.functionName, node.callFrame.url);
    if (part !== null) parts.set(part, (parts.get(part) ?? 0) + time);
  }
  return parts;
}

/** Prints the breakdown of each process's profile in `dir` (named by pid, as --cpu-prof names them). */
export function printProfileBreakdowns(dir: string, processes: ReadonlyArray<{ readonly label: string; readonly pid: number; readonly cpuUsPerRequest: number }>): void {
  let files: string[];
  try {
    files = readdirSync(dir);
  } catch (error) {
    process.stdout.write(`no CPU profiles to break down in ${dir}: ${(error as Error).message}\n`);
    return;
  }
  for (const { label, pid, cpuUsPerRequest } of processes) {
    const file = files.find((name) => name.endsWith('.cpuprofile') && name.split('.')[3] === String(pid));
    if (file === undefined) {
      process.stdout.write(`no CPU profile of ${label} (pid ${pid}) in ${dir}\n`);
      continue;
    }
    const parts = profileParts(JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile);
    const busy = [...parts.values()].reduce((sum, time) => sum + time, 0);
    process.stdout.write(`\nwhere ${label}'s main thread spends its busy time (${file}; µs at ${cpuUsPerRequest.toFixed(1)} µs of CPU per request)\n`);
    for (const [part, time] of [...parts].sort((a, b) => b[1] - a[1])) {
      const share = time / Math.max(1, busy);
      process.stdout.write(`  ${(share * 100).toFixed(1).padStart(5)} %  ${(share * cpuUsPerRequest).toFixed(1).padStart(5)} µs  ${part}\n`);
    }
  }
}
