import { describe, expect, it } from 'vitest';
import { idleShare, machineTicks } from './machine-idle.js';

const stat = (user: number, idle: number, iowait: number) =>
  `cpu  ${user} 0 100 ${idle} ${iowait} 0 10 0 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\nintr 123 4 5\n`;

describe('machine idle share', () => {
  it('is idle and iowait ticks over all ticks between two readings', () => {
    const before = machineTicks(() => stat(1000, 500, 50));
    const after = machineTicks(() => stat(1600, 850, 100));
    expect(before).toEqual({ idle: 550, total: 1660 });
    // 1,000 ticks passed, 400 of them idle or waiting.
    expect(idleShare(before, after)).toBeCloseTo(0.4, 10);
  });

  it('is unknown without /proc/stat, with a malformed one, or when no time passed', () => {
    expect(machineTicks(() => { throw new Error('ENOENT'); })).toBeNull();
    expect(machineTicks(() => 'cpu  1 2 3\n')).toBeNull();
    expect(machineTicks(() => 'intr 1 2 3\n')).toBeNull();
    const same = machineTicks(() => stat(1, 2, 3));
    expect(idleShare(same, same)).toBeNull();
    expect(idleShare(null, same)).toBeNull();
  });

  it('reads this machine', () => {
    const ticks = machineTicks();
    if (process.platform !== 'linux') return expect(ticks).toBeNull();
    expect(ticks!.total).toBeGreaterThan(ticks!.idle);
  });
});
