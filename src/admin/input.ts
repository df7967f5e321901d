import { z } from 'zod';
import { containsSecret, redactText } from '../audit/index.js';
import { invalid } from '../errors/index.js';
import { ENV_PATTERN } from '../token/index.js';

// Input validation for the admin API: zod schemas, strict objects (unknown
// fields are errors), and the first problem reported with the field it concerns.

export function parseInput<T>(schema: z.ZodType<T>, value: unknown, where: 'body' | 'query'): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  // A record's keys are the caller's text: a field name echoed back must not carry a pasted secret.
  const path = issue.path.map((part) => redactText(String(part)));
  if (issue.code === 'unrecognized_keys') {
    const key = redactText(issue.keys[0]!);
    throw invalid([...path, key].join('.'), `unknown field ${JSON.stringify(key)}`);
  }
  const field = path.length === 0 ? where : path.reduce((acc, part) => (/^[0-9]+$/.test(part) ? `${acc}[${part}]` : acc === '' ? part : `${acc}.${part}`), '');
  throw invalid(field, issue.message);
}

const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

const NO_SECRET = 'looks like a secret (a Latchkey token or a Bearer/Basic credential); secrets never go into names, descriptions or metadata';

/** Names people type: 1–128 characters, no control characters, nothing that looks like a secret. */
export const nameText = z
  .string()
  .min(1, 'must not be empty')
  .max(128, 'must be at most 128 characters')
  .refine((text) => !CONTROL.test(text), 'must not contain control characters')
  .refine((text) => !containsSecret(text), NO_SECRET);

/** Free-form key/value labels on a token: bounded, and never a place for a secret. */
export const metadataRecord = z.record(
  z.string().max(64).refine((text) => !containsSecret(text), NO_SECRET),
  z.string().max(1024).refine((text) => !containsSecret(text), NO_SECRET),
);

export const serviceName = z
  .string()
  .regex(/^[a-z][a-z0-9_-]{0,63}$/, 'must be 1–64 characters of a-z, 0-9, _ and -, starting with a letter')
  .refine((name) => name !== 'latchkey', 'the name latchkey is reserved for the admin API');

export const envName = z.string().regex(ENV_PATTERN, 'must match [a-z][a-z0-9]{0,11}');

export const roleName = z.string().regex(/^[a-z][a-z0-9_.-]{0,63}$/, 'must be 1–64 characters of a-z, 0-9, _, . and -, starting with a letter');

export const permissionText = z.string().min(1, 'must not be empty').max(512, 'must be at most 512 characters');
