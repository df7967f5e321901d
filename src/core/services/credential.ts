import { constants } from 'node:fs';
import { open, readlink } from 'node:fs/promises';
import type { CredentialSource } from '../../store/records.js';
import type { CredentialPolicy } from './credential-policy.js';

/** The header the gateway adds to every forwarded request: lowercase name, full value. Never logged. */
export interface UpstreamCredential {
  readonly header: string;
  readonly value: string;
}

export type CredentialResult =
  | { readonly ok: true; readonly credential: UpstreamCredential | null }
  | { readonly ok: false; readonly problem: string };

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
/** A credential is a token or a key, not a document; a bigger file is a wrong path. */
const MAX_CREDENTIAL_FILE_BYTES = 64 * 1024;

/**
 * Reads the upstream secret once, when the service loads: from the gateway's
 * environment or from a file, and only from a source the policy allows for
 * the binding's environment. Problems are described without the secret.
 */
export async function resolveCredential(
  source: CredentialSource,
  env: string,
  policy: CredentialPolicy,
  environment: NodeJS.ProcessEnv = process.env,
): Promise<CredentialResult> {
  if (source.from === 'none') return { ok: true, credential: null };
  let secret: string | undefined;
  if (source.from === 'env') {
    const refused = policy.checkVariable(env, source.variable);
    if (refused !== null) return { ok: false, problem: `credential variable refused: ${refused}` };
    secret = environment[source.variable];
    if (secret === undefined || secret === '') return { ok: false, problem: `environment variable ${source.variable} is not set` };
  } else {
    const verdict = await policy.checkFile(env, source.path);
    if (!verdict.ok) return { ok: false, problem: `credential file ${source.path} refused: ${verdict.problem}` };
    const read = await readChecked(verdict.real);
    if (!read.ok) return { ok: false, problem: `credential file ${source.path} ${read.problem}` };
    secret = read.secret.trim();
    if (secret === '') return { ok: false, problem: `credential file ${source.path} is empty` };
  }
  if (!HEADER_NAME.test(source.header)) return { ok: false, problem: `invalid credential header name ${JSON.stringify(source.header)}` };
  const value = source.scheme === '' ? secret : `${source.scheme} ${secret}`;
  if (!HEADER_VALUE.test(value)) return { ok: false, problem: 'the credential contains characters not allowed in a header value' };
  return { ok: true, credential: { header: source.header.toLowerCase(), value } };
}

/**
 * Opens the checked real path without following a last-moment symlink and
 * without blocking on a FIFO, and (where /proc is mounted) confirms the file
 * opened is the one that was checked, so a directory swapped in between the
 * check and the open is not read through.
 */
async function readChecked(real: string): Promise<{ ok: true; secret: string } | { ok: false; problem: string }> {
  let handle;
  try {
    handle = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    return { ok: false, problem: `cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})` };
  }
  try {
    const opened = await readlink(`/proc/self/fd/${handle.fd}`).catch(() => real);
    if (opened !== real) return { ok: false, problem: 'changed while it was being read' };
    const stats = await handle.stat();
    if (!stats.isFile()) return { ok: false, problem: 'is not a regular file' };
    if (stats.size > MAX_CREDENTIAL_FILE_BYTES) return { ok: false, problem: `is larger than ${MAX_CREDENTIAL_FILE_BYTES} bytes` };
    return { ok: true, secret: await handle.readFile('utf8') };
  } catch (err) {
    return { ok: false, problem: `cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})` };
  } finally {
    await handle.close().catch(() => {});
  }
}

/**
 * Removes, in place, the client's own copies of the binding's credential
 * header before the real one is added. Per binding: another environment's
 * credential header is an ordinary header here. No allocation unless a name
 * has the header's length.
 */
export function dropClientCopies(forward: string[], header: string): void {
  let kept = 0;
  for (let i = 0; i < forward.length; i += 2) {
    const name = forward[i]!;
    if (name.length === header.length && name.toLowerCase() === header) continue;
    if (kept !== i) {
      forward[kept] = name;
      forward[kept + 1] = forward[i + 1]!;
    }
    kept += 2;
  }
  forward.length = kept;
}
