import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';

// SCRAM-SHA-256 (RFC 5802, RFC 7677) as a client, for upstreams that demand it.
// No channel binding (the upstream connection is not TLS).

export interface ScramClient {
  readonly initial: Buffer;
  /** The client-final message for the server-first one; throws on a malformed or weak challenge. */
  respond(serverFirst: string): Buffer;
  /** Proves the server knew the verifier; throws when it did not. */
  verify(serverFinal: string): void;
}

const MIN_ITERATIONS = 4096;

export function scramClient(password: string): ScramClient {
  const nonce = randomBytes(18).toString('base64');
  const clientFirstBare = `n=*,r=${nonce}`;
  let expectedSignature: Buffer | null = null;
  return {
    initial: Buffer.from(`n,,${clientFirstBare}`),
    respond(serverFirst) {
      const parts = attributes(serverFirst);
      const serverNonce = parts.get('r');
      const salt = parts.get('s');
      const iterations = Number(parts.get('i'));
      if (serverNonce === undefined || !serverNonce.startsWith(nonce) || serverNonce.length === nonce.length) throw new Error('SCRAM: server nonce does not extend ours');
      if (salt === undefined || !Number.isSafeInteger(iterations) || iterations < MIN_ITERATIONS) throw new Error('SCRAM: server challenge is malformed or too weak');
      // SASLprep of a password outside printable ASCII is not done; such passwords may fail to authenticate (never pass wrongly).
      const salted = pbkdf2Sync(password, Buffer.from(salt, 'base64'), iterations, 32, 'sha256');
      const clientKey = createHmac('sha256', salted).update('Client Key').digest();
      const storedKey = createHash('sha256').update(clientKey).digest();
      const withoutProof = `c=biws,r=${serverNonce}`;
      const authMessage = `${clientFirstBare},${serverFirst},${withoutProof}`;
      const clientSignature = createHmac('sha256', storedKey).update(authMessage).digest();
      const proof = Buffer.alloc(32);
      for (let i = 0; i < 32; i++) proof[i] = clientKey[i]! ^ clientSignature[i]!;
      const serverKey = createHmac('sha256', salted).update('Server Key').digest();
      expectedSignature = createHmac('sha256', serverKey).update(authMessage).digest();
      return Buffer.from(`${withoutProof},p=${proof.toString('base64')}`);
    },
    verify(serverFinal) {
      const signature = attributes(serverFinal).get('v');
      const given = signature === undefined ? Buffer.alloc(0) : Buffer.from(signature, 'base64');
      if (expectedSignature === null || given.length !== expectedSignature.length || !timingSafeEqual(given, expectedSignature)) {
        throw new Error('SCRAM: the server did not prove it knows the password');
      }
    },
  };
}

function attributes(message: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const part of message.split(',')) {
    const eq = part.indexOf('=');
    if (eq === 1) map.set(part[0]!, part.slice(2));
  }
  return map;
}
