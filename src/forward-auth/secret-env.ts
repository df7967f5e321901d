import type { LatchkeyConfig } from '../config/index.js';

/** forwardAuth.secretEnv names a variable that must hold the secret: a missing one stops the start rather than open the endpoint. */
export function forwardAuthSecret(config: LatchkeyConfig): string | null {
  const name = config.forwardAuth.secretEnv;
  if (name === undefined) return null;
  const value = process.env[name];
  if (value === undefined || value.length < 16) throw new Error(`forwardAuth.secretEnv: ${name} must hold a secret of at least 16 characters`);
  return value;
}
