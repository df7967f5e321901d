import { z } from 'zod';

// The `lifecycle` section of latchkey.yaml: the token scheduler's rules and
// the depth of child tokens (issue 13), kept apart from config.ts.

const envName = z.string().regex(/^[a-z][a-z0-9]{0,11}$/, 'must be an environment name');

export const lifecycleFileSchema = z.strictObject({
  /** A token_expiring notice this many days before a token expires. Default 7; 0 turns notices off. */
  noticeDays: z.number().min(0).max(365).optional(),
  /** Per environment: disable active tokens unused for this many days (token_auto_disabled). Default: none. */
  autoDisableDays: z.record(envName, z.number().positive().max(3650)).optional(),
  /** How often the scheduler runs. Default 60,000 ms. */
  intervalMs: z.int().min(1000).max(3_600_000).optional(),
  /** How many levels of child tokens below a root. Default 4. */
  maxDepth: z.int().min(1).max(16).optional(),
  /** How often each process writes its usage counts. Default 5,000 ms. */
  usageFlushMs: z.int().min(100).max(600_000).optional(),
});

export interface LifecycleConfig {
  readonly noticeDays: number;
  readonly autoDisableDays: Readonly<Record<string, number>>;
  readonly intervalMs: number;
  readonly maxDepth: number;
  readonly usageFlushMs: number;
}

export const LIFECYCLE_DEFAULTS: LifecycleConfig = { noticeDays: 7, autoDisableDays: {}, intervalMs: 60_000, maxDepth: 4, usageFlushMs: 5000 };

export function lifecycleConfig(file: z.infer<typeof lifecycleFileSchema> | undefined): LifecycleConfig {
  return {
    noticeDays: file?.noticeDays ?? LIFECYCLE_DEFAULTS.noticeDays,
    autoDisableDays: { ...file?.autoDisableDays },
    intervalMs: file?.intervalMs ?? LIFECYCLE_DEFAULTS.intervalMs,
    maxDepth: file?.maxDepth ?? LIFECYCLE_DEFAULTS.maxDepth,
    usageFlushMs: file?.usageFlushMs ?? LIFECYCLE_DEFAULTS.usageFlushMs,
  };
}
