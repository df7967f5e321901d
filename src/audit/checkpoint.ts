import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AuditCheckpoint, AuditHead } from '../store/store.js';
import { canonicalJson } from './canonical.js';

// A checkpoint is a signed statement "the chain had this head at this time".
// Anyone with write access to the store can rebuild a consistent hash chain;
// nobody without the data directory's private key can sign a checkpoint for
// it. Copies kept outside the store (a file, a webhook receiver) make a cut
// tail or a rewritten history visible even when the store's own checkpoints
// were deleted with it.

export interface AuditKey {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** First 16 hex characters of SHA-256 over the public key's DER (SPKI). */
  readonly keyId: string;
}

export const AUDIT_KEY_FILE = join('keys', 'audit-ed25519.pem');

/**
 * Loads `<dataDir>/keys/audit-ed25519.pem`, creating it (mode 0600, in a 0700
 * folder) when missing. Two processes starting at once agree on one key: the
 * file is created exclusively and the loser reads the winner's. A key file
 * readable by group or others is refused, as ssh does, rather than trusted.
 */
export async function loadOrCreateAuditKey(dataDir: string): Promise<AuditKey> {
  const file = join(dataDir, AUDIT_KEY_FILE);
  await mkdir(join(dataDir, 'keys'), { recursive: true, mode: 0o700 });
  if (!(await exists(file))) {
    const pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' });
    try {
      await writeFile(file, pem, { mode: 0o600, flag: 'wx' });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
  const info = await stat(file);
  if (process.platform !== 'win32' && (info.mode & 0o077) !== 0) {
    throw new Error(`${file} is readable by others (mode ${(info.mode & 0o777).toString(8)}); run chmod 600 on it`);
  }
  return auditKeyFromPem(await readFile(file, 'utf8'));
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

export function auditKeyFromPem(privatePem: string): AuditKey {
  const privateKey = createPrivateKey(privatePem);
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error('the audit key must be an Ed25519 key');
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, keyId: keyIdOf(publicKey) };
}

export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
}

/** The public half as PEM, for `audit verify` run elsewhere. */
export function publicKeyPem(key: AuditKey): string {
  return key.publicKey.export({ type: 'spki', format: 'pem' }).toString();
}

/** Accepts a KeyObject or a PEM (public or private; only the public half is used). */
export function toPublicKey(key: KeyObject | string): KeyObject {
  if (typeof key === 'string') return createPublicKey(key);
  return key.type === 'public' ? key : createPublicKey(key);
}

function signedBytes(cp: Pick<AuditCheckpoint, 'seq' | 'hash' | 'time' | 'keyId'>): Buffer {
  return Buffer.from(canonicalJson({ seq: cp.seq, hash: cp.hash, time: cp.time, keyId: cp.keyId }));
}

export function signCheckpoint(head: AuditHead, key: AuditKey, time: number = Date.now()): AuditCheckpoint {
  const unsigned = { seq: head.seq, hash: head.hash, time, keyId: key.keyId };
  const signature = sign(null, signedBytes(unsigned), key.privateKey).toString('base64');
  return { ...unsigned, signature };
}

/** True when `cp` was signed by `publicKey`. Never throws on malformed input. */
export function verifyCheckpoint(cp: AuditCheckpoint, publicKey: KeyObject | string): boolean {
  try {
    const key = toPublicKey(publicKey);
    if (cp.keyId !== keyIdOf(key)) return false;
    if (!Number.isSafeInteger(cp.seq) || !Number.isSafeInteger(cp.time) || typeof cp.hash !== 'string') return false;
    return verify(null, signedBytes(cp), key, Buffer.from(cp.signature, 'base64'));
  } catch {
    return false;
  }
}

/** One line of the external checkpoint file. */
export function checkpointLine(cp: AuditCheckpoint): string {
  return `${canonicalJson({ seq: cp.seq, hash: cp.hash, time: cp.time, keyId: cp.keyId, signature: cp.signature })}\n`;
}

/**
 * Reads a JSONL checkpoint file. A garbled line throws rather than being
 * skipped (skipping is what someone hiding a truncation would want), except a
 * torn last line, which is what a crash in the middle of an append leaves.
 * Signatures are not checked here; verifyAudit does that.
 */
export async function readCheckpointFile(file: string): Promise<AuditCheckpoint[]> {
  const text = await readFile(file, 'utf8');
  const lines = text.split('\n');
  const out: AuditCheckpoint[] = [];
  lines.forEach((line, index) => {
    if (line.trim() === '') return;
    const torn = index === lines.length - 1;
    try {
      const value = JSON.parse(line) as Partial<AuditCheckpoint>;
      out.push({
        seq: Number(value.seq),
        hash: String(value.hash),
        time: Number(value.time),
        keyId: String(value.keyId),
        signature: String(value.signature),
      });
    } catch (error) {
      if (!torn) throw new Error(`${file}:${index + 1} is not a checkpoint`, { cause: error });
    }
  });
  return out;
}
