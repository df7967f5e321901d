import { redactText } from '../audit/index.js';
import { invalid } from '../errors/index.js';
import { resolveCredential } from '../core/services/index.js';
import type { AdminContext } from './context.js';

// No admin request carries an upstream credential: services name where the
// secret comes from, never the secret. So a body that contains one of the
// secrets this process can read for its services (pasted into a token's
// metadata, a role's description...) is refused before anything is stored,
// and the secret never reaches the store, the audit chain or a log. Shorter
// values than this are too likely to occur by chance to be told apart.
const MIN_SECRET_LENGTH = 8;

/** The upstream secrets the stored bindings resolve to here, without their scheme (`Bearer `). */
export async function upstreamSecrets({ store, credentials }: Pick<AdminContext, 'store' | 'credentials'>): Promise<string[]> {
  const secrets: string[] = [];
  for (const service of await store.listServices()) {
    for (const binding of service.bindings) {
      const resolved = await resolveCredential(binding.credential, binding.env, credentials);
      if (!resolved.ok || resolved.credential === null || binding.credential.from === 'none') continue;
      const scheme = binding.credential.scheme;
      const secret = scheme === '' ? resolved.credential.value : resolved.credential.value.slice(scheme.length + 1);
      if (secret.length >= MIN_SECRET_LENGTH) secrets.push(secret);
    }
  }
  return secrets;
}

/** Throws `invalid_request` naming the first field of `body` that contains one of `secrets` (never saying which). */
export function refuseSecretsIn(body: unknown, secrets: readonly string[], field = 'body'): void {
  if (secrets.length === 0) return;
  const holds = (text: string) => secrets.some((secret) => text.includes(secret));
  if (typeof body === 'string') {
    if (holds(body)) throw invalid(field, 'contains an upstream credential; secrets never go into the admin API');
  } else if (Array.isArray(body)) {
    body.forEach((item, index) => refuseSecretsIn(item, secrets, `${field}[${index}]`));
  } else if (typeof body === 'object' && body !== null) {
    for (const [key, value] of Object.entries(body)) {
      // The key itself is never echoed when it holds the secret.
      if (holds(key)) throw invalid(field, 'a field name contains an upstream credential; secrets never go into the admin API');
      const named = redactText(key);
      refuseSecretsIn(value, secrets, field === 'body' ? named : `${field}.${named}`);
    }
  }
}
