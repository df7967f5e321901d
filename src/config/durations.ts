// Human durations and rates as operators type them (`30m`, `12h`, `7d`, `100/min`),
// parsed once at the edge into milliseconds.

const UNIT_MS: Record<string, number> = {
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
};

const DURATION = /^([1-9][0-9]{0,8})(s|m|h|d|w)$/;

/** Returns milliseconds, or undefined when the text is not a duration such as `30m`, `12h`, `7d`. */
export function parseDuration(text: string): number | undefined {
  const match = DURATION.exec(text);
  if (match === null) return undefined;
  return Number(match[1]) * UNIT_MS[match[2]!]!;
}

export function formatDuration(ms: number): string {
  for (const unit of ['w', 'd', 'h', 'm', 's'] as const) {
    const size = UNIT_MS[unit]!;
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

const RATE_PERIOD_MS: Record<string, number> = {
  s: 1_000, sec: 1_000, second: 1_000,
  m: 60_000, min: 60_000, minute: 60_000,
  h: 3_600_000, hour: 3_600_000,
  d: 86_400_000, day: 86_400_000,
};

const RATE = /^([1-9][0-9]{0,8})\/([a-z]+)$/;

/** `100/min` → { count: 100, periodMs: 60000 }, or undefined. */
export function parseRate(text: string): { count: number; periodMs: number } | undefined {
  const match = RATE.exec(text);
  if (match === null) return undefined;
  const periodMs = RATE_PERIOD_MS[match[2]!];
  if (periodMs === undefined) return undefined;
  return { count: Number(match[1]), periodMs };
}
