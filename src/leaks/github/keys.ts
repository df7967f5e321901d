import { createHash, createPublicKey, timingSafeEqual, verify, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';

// GitHub's secret-scanning signing keys, read once from a file of the same
// shape as https://api.github.com/meta/public_keys/secret_scanning, and the
// check of a partner request: ECDSA P-256 with SHA-256 over the raw body, the
// signature DER, base64, under the key the identifier header names.

export const KEY_ID_HEADER = 'github-public-key-identifier';
export const SIGNATURE_HEADER = 'github-public-key-signature';

export class GithubKeysError extends Error {
  override readonly name = 'ConfigError';
}

export class GithubKeys {
  readonly #keys: ReadonlyMap<string, KeyObject>;

  constructor(keys: ReadonlyMap<string, KeyObject>) {
    this.#keys = keys;
  }

  /** `{ public_keys: [{ key_identifier, key (PEM), is_current }] }`; every key must be an EC P-256 key. */
  static parse(text: string, where: string): GithubKeys {
    let document: { public_keys?: Array<{ key_identifier?: unknown; key?: unknown }> };
    try {
      document = JSON.parse(text) as typeof document;
    } catch {
      throw new GithubKeysError(`${where}: not JSON`);
    }
    if (!Array.isArray(document.public_keys)) throw new GithubKeysError(`${where}: expected {"public_keys": [...]}`);
    const keys = new Map<string, KeyObject>();
    document.public_keys.forEach((entry, index) => {
      if (typeof entry.key_identifier !== 'string' || typeof entry.key !== 'string') throw new GithubKeysError(`${where}: public_keys[${index}] needs key_identifier and key`);
      let key: KeyObject;
      try {
        key = createPublicKey(entry.key);
      } catch {
        throw new GithubKeysError(`${where}: public_keys[${index}].key is not a PEM public key`);
      }
      if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') throw new GithubKeysError(`${where}: public_keys[${index}] is not an ECDSA P-256 key`);
      keys.set(entry.key_identifier, key);
    });
    return new GithubKeys(keys);
  }

  static load(path: string): GithubKeys {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new GithubKeysError(`leaks.githubKeysFile ${path}: cannot read: ${(err as Error).message}`);
    }
    return GithubKeys.parse(text, `leaks.githubKeysFile ${path}`);
  }

  get size(): number {
    return this.#keys.size;
  }

  /** False for a missing header, an unknown key id, a malformed or a wrong signature. */
  verify(rawBody: Buffer, keyId: string | string[] | undefined, signature: string | string[] | undefined): boolean {
    if (typeof keyId !== 'string' || typeof signature !== 'string') return false;
    const key = this.#lookup(keyId);
    if (key === undefined) return false;
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(signature)) return false;
    try {
      return verify('sha256', rawBody, { key, dsaEncoding: 'der' }, Buffer.from(signature, 'base64'));
    } catch {
      return false;
    }
  }

  #lookup(keyId: string): KeyObject | undefined {
    // Identifiers are public, but comparing them in constant time costs nothing.
    const wanted = createHash('sha256').update(keyId).digest();
    for (const [id, key] of this.#keys) {
      if (timingSafeEqual(createHash('sha256').update(id).digest(), wanted)) return key;
    }
    return undefined;
  }
}
