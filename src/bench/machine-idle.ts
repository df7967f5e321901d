import { readFileSync } from 'node:fs';

// How much of the machine's CPU a benchmark round left idle, from Linux's
// /proc/stat: a proxy whose event loop holds one core at 100 % while the
// machine has cores to spare is limited by that loop's own work, not by the
// load generator or the upstream.

/** The machine's CPU time so far, idle and in all, in clock ticks (Linux's /proc/stat); null elsewhere. */
export function machineTicks(stat: () => string = () => readFileSync('/proc/stat', 'utf8')): { idle: number; total: number } | null {
  let text: string;
  try {
    text = stat();
  } catch {
    return null;
  }
  const fields = /^cpu\s+([\d ]+)$/m.exec(text)?.[1]?.trim().split(/\s+/).map(Number);
  if (fields === undefined || fields.length < 5 || fields.some((n) => !Number.isFinite(n))) return null;
  // user nice system idle iowait irq softirq steal (guest time is already in user): idle is idle + iowait.
  const total = fields.slice(0, 8).reduce((sum, n) => sum + n, 0);
  return { idle: fields[3]! + fields[4]!, total };
}

/** The share of the machine's CPUs left idle between two readings; null when either is missing. */
export function idleShare(before: ReturnType<typeof machineTicks>, after: ReturnType<typeof machineTicks>): number | null {
  if (before === null || after === null || after.total <= before.total) return null;
  return (after.idle - before.idle) / (after.total - before.total);
}
