import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContext } from 'node:tls';

// The PostgreSQL listener's TLS: a certificate and key read once at start.
// With it, an SSLRequest is answered `S` and the connection becomes TLS before
// the startup packet; a client off loopback may then log in (its token no
// longer crosses the network in clear text). `required` refuses logins that
// did not ask for TLS, loopback included.

export interface PostgresTls {
  readonly context: SecureContext;
  readonly required: boolean;
}

export class PostgresTlsError extends Error {
  override readonly name = 'PostgresTlsError';
}

/** The listener's TLS from PEM files; a clear error (naming the files, never their content) when they cannot be used. */
export function loadPostgresTls(files: { readonly cert: string; readonly key: string; readonly required: boolean }): PostgresTls {
  const cert = readPem(files.cert, 'certificate');
  const key = readPem(files.key, 'key');
  try {
    return { context: createSecureContext({ cert, key, minVersion: 'TLSv1.2' }), required: files.required };
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ERR_OSSL_X509_KEY_VALUES_MISMATCH' ? 'the key does not belong to the certificate' : 'not a PEM certificate and its private key';
    throw new PostgresTlsError(`postgres.tls: ${files.cert} and ${files.key} cannot be used: ${why}`);
  }
}

function readPem(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new PostgresTlsError(`postgres.tls: the ${what} file ${path} cannot be read (${code})`);
  }
}
