import { resolve } from 'node:path';
import { z } from 'zod';

// The `leaks` and `alerts` sections of latchkey.yaml (issue 14), kept apart
// from config.ts so that file only names them.

const envVariable = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name');

export const ALERT_KINDS = ['leak_revoked', 'honeytoken_used', 'token_expiring', 'token_auto_disabled', 'audit_loss'] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];

export const leaksFileSchema = z.strictObject({
  /** GitHub's secret-scanning public keys, the JSON of https://api.github.com/meta/public_keys/secret_scanning. */
  githubKeysFile: z.string().min(1).optional(),
  /** Or fetched from this URL (GitHub's: https://api.github.com/meta/public_keys/secret_scanning), refreshed and cached. */
  githubKeysUrl: z.url().optional(),
  /** How often the keys are fetched again. Default one hour. */
  githubKeysRefreshMs: z.int().min(10_000).max(7 * 86_400_000).optional(),
}).refine((leaks) => leaks.githubKeysFile === undefined || leaks.githubKeysUrl === undefined, 'give githubKeysFile or githubKeysUrl, not both');

export const alertsFileSchema = z.strictObject({
  webhooks: z.array(z.strictObject({
    url: z.url(),
    /** The HMAC-SHA256 key is read from this variable, never from the file. */
    secretEnv: envVariable,
    kinds: z.array(z.enum(ALERT_KINDS)).min(1).optional(),
  })).max(20).optional(),
  /** Tries per delivery, the first included. */
  attempts: z.int().min(1).max(20).optional(),
});

export interface AlertWebhookConfig {
  readonly url: string;
  readonly secretEnv: string;
  readonly kinds: readonly AlertKind[];
}

export interface LeaksConfig {
  readonly githubKeysFile: string | undefined;
  readonly githubKeysUrl: string | undefined;
  readonly githubKeysRefreshMs: number;
}

export interface AlertsConfig {
  readonly webhooks: readonly AlertWebhookConfig[];
  readonly attempts: number;
}

export function leaksConfig(file: z.infer<typeof leaksFileSchema> | undefined): LeaksConfig {
  return {
    githubKeysFile: file?.githubKeysFile === undefined ? undefined : resolve(file.githubKeysFile),
    githubKeysUrl: file?.githubKeysUrl,
    githubKeysRefreshMs: file?.githubKeysRefreshMs ?? 3_600_000,
  };
}

export function alertsConfig(file: z.infer<typeof alertsFileSchema> | undefined): AlertsConfig {
  return {
    webhooks: (file?.webhooks ?? []).map((hook) => ({ url: hook.url, secretEnv: hook.secretEnv, kinds: hook.kinds ?? ALERT_KINDS })),
    attempts: file?.attempts ?? 5,
  };
}
