import { createHash } from 'node:crypto';
import { z } from 'zod';

// The partner program's request and answer. GitHub posts
// `[{ token, type, url, source }]`; the answer is one entry per token,
// `{ token_hash | token_raw, token_type, label: true_positive | false_positive }`.
// Latchkey answers with token_hash (SHA-256 hex of the raw token), which the
// format allows, so the plaintext is not echoed back over the wire.

export const MAX_REPORTED = 10_000;

export const githubReport = z.array(z.object({
  token: z.string().max(4096),
  type: z.string().max(256),
  url: z.string().max(4096).optional(),
  source: z.string().max(256).optional(),
})).max(MAX_REPORTED);

export type GithubReport = z.infer<typeof githubReport>;

export interface GithubLabel {
  readonly token_hash: string;
  readonly token_type: string;
  readonly label: 'true_positive' | 'false_positive';
}

export function githubTokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
