import { readFile } from 'node:fs/promises';
import type { CredentialSource } from '../../store/records.js';

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

/**
 * Reads the upstream secret once, when the service loads: from the gateway's
 * environment or from a file. Problems are described without the secret.
 */
export async function resolveCredential(source: CredentialSource, environment: NodeJS.ProcessEnv = process.env): Promise<CredentialResult> {
  if (source.from === 'none') return { ok: true, credential: null };
  let secret: string | undefined;
  if (source.from === 'env') {
    secret = environment[source.variable];
    if (secret === undefined || secret === '') return { ok: false, problem: `environment variable ${source.variable} is not set` };
  } else {
    try {
      secret = (await readFile(source.path, 'utf8')).trim();
    } catch (err) {
      return { ok: false, problem: `credential file ${source.path} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})` };
    }
    if (secret === '') return { ok: false, problem: `credential file ${source.path} is empty` };
  }
  if (!HEADER_NAME.test(source.header)) return { ok: false, problem: `invalid credential header name ${JSON.stringify(source.header)}` };
  const value = source.scheme === '' ? secret : `${source.scheme} ${secret}`;
  if (!HEADER_VALUE.test(value)) return { ok: false, problem: 'the credential contains characters not allowed in a header value' };
  return { ok: true, credential: { header: source.header.toLowerCase(), value } };
}
