import { createHash, generateKeyPairSync } from 'node:crypto';
import { appendFile, chmod, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { openSqliteStore } from '../store/index.js';
import type { AuditCheckpoint } from '../store/store.js';
import { createAuditRecorder } from './batch-recorder.js';
import {
  AUDIT_KEY_FILE,
  loadOrCreateAuditKey,
  publicKeyPem,
  readCheckpointFile,
  signCheckpoint,
  verifyCheckpoint,
} from './checkpoint.js';
import { createCheckpointer } from './checkpointer.js';
import { verifySignature } from './sinks/signed-post.js';
import { decisionInput } from './tamper.contract.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'latchkey-checkpoint-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the audit key', () => {
  test('is created once, mode 0600 in a 0700 folder, and every process gets the same one', async () => {
    const keys = await Promise.all(Array.from({ length: 5 }, () => loadOrCreateAuditKey(dir)));
    expect(new Set(keys.map((k) => k.keyId)).size).toBe(1);
    expect((await stat(join(dir, AUDIT_KEY_FILE))).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, 'keys'))).mode & 0o777).toBe(0o700);
    const again = await loadOrCreateAuditKey(dir);
    expect(again.keyId).toBe(keys[0]!.keyId);
    const der = again.publicKey.export({ type: 'spki', format: 'der' });
    expect(again.keyId).toBe(createHash('sha256').update(der).digest('hex').slice(0, 16));
  });

  test('a key file readable by others is refused', async () => {
    await loadOrCreateAuditKey(dir);
    await chmod(join(dir, AUDIT_KEY_FILE), 0o644);
    await expect(loadOrCreateAuditKey(dir)).rejects.toThrow(/chmod 600/);
  });
});

describe('checkpoint signatures', () => {
  test('verify with the public key (object or PEM), and fail on any changed field or another key', async () => {
    const key = await loadOrCreateAuditKey(dir);
    const cp = signCheckpoint({ seq: 42, hash: 'a'.repeat(64) }, key, 1_700_000_000_000);
    expect(cp).toMatchObject({ seq: 42, time: 1_700_000_000_000, keyId: key.keyId });
    expect(verifyCheckpoint(cp, key.publicKey)).toBe(true);
    expect(verifyCheckpoint(cp, publicKeyPem(key))).toBe(true);
    for (const changed of [{ seq: 43 }, { hash: 'b'.repeat(64) }, { time: cp.time + 1 }, { keyId: '0'.repeat(16) }, { signature: 'AAAA' }]) {
      expect(verifyCheckpoint({ ...cp, ...changed } as AuditCheckpoint, key.publicKey), JSON.stringify(changed)).toBe(false);
    }
    expect(verifyCheckpoint(cp, generateKeyPairSync('ed25519').publicKey)).toBe(false);
  });

  test('the checkpoint file reader skips a torn last line but not a garbled one in the middle', async () => {
    const key = await loadOrCreateAuditKey(dir);
    const file = join(dir, 'checkpoints.jsonl');
    const cp = signCheckpoint({ seq: 1, hash: 'a'.repeat(64) }, key);
    await writeFile(file, `${JSON.stringify(cp)}\n{"seq":2,"ha`);
    expect(await readCheckpointFile(file)).toEqual([cp]);
    await appendFile(file, `\n${JSON.stringify(cp)}\n`);
    await expect(readCheckpointFile(file)).rejects.toThrow(/:2 is not a checkpoint/);
  });
});

describe('the checkpointer', () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  });

  test('every N events: to the store, to the outside file and to a signed webhook, all verifiable', async () => {
    const bodies: { body: string; signature: string }[] = [];
    server = createServer(async (req, res) => {
      let body = '';
      for await (const chunk of req) body += chunk;
      bodies.push({ body, signature: String(req.headers['x-latchkey-signature']) });
      res.writeHead(204).end();
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/checkpoints`;

    const store = await openSqliteStore({ file: join(dir, 'latchkey.db') });
    await store.migrate();
    const key = await loadOrCreateAuditKey(dir);
    const file = join(dir, 'outside', 'checkpoints.jsonl');
    await import('node:fs/promises').then((fs) => fs.mkdir(join(dir, 'outside')));
    const checkpointer = createCheckpointer({ store, key, everyEvents: 100, everyMs: 0, file, webhook: { url, secret: 's3cret' } });
    const recorder = createAuditRecorder({ store, failMode: 'closed', batchSize: 20, sinks: [checkpointer] });
    for (let i = 0; i < 450; i++) {
      recorder.record(decisionInput(i));
      if (i % 20 === 19) await recorder.flush();
    }
    await recorder.close();

    // 100, 200, 300, 400 by count, then the head when it closed.
    const inStore = (await store.listCheckpoints(100)).reverse();
    expect(inStore.map((cp) => cp.seq)).toEqual([100, 200, 300, 400, 450]);
    expect(await readCheckpointFile(file)).toEqual(inStore);
    for (const cp of inStore) {
      expect(verifyCheckpoint(cp, key.publicKey)).toBe(true);
      const [event] = await store.readAudit({ afterSeq: cp.seq - 1, limit: 1 });
      expect(event!.hash).toBe(cp.hash);
    }
    expect(bodies.map((b) => (JSON.parse(b.body) as { checkpoint: AuditCheckpoint }).checkpoint)).toEqual(inStore);
    for (const b of bodies) expect(verifySignature(b.body, b.signature, 's3cret')).toBe(true);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    await store.close();
  });

  test('on its timer it checkpoints the store head, including events it did not record', async () => {
    const store = await openSqliteStore({ file: join(dir, 'latchkey.db') });
    await store.migrate();
    const key = await loadOrCreateAuditKey(dir);
    const checkpointer = createCheckpointer({ store, key, everyEvents: 1_000_000, everyMs: 20 });
    await store.appendAudit([decisionInput(1), decisionInput(2)]);
    const deadline = Date.now() + 2000;
    while ((await store.listCheckpoints(1)).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const [cp] = await store.listCheckpoints(1);
    expect(cp).toMatchObject({ seq: 2, hash: (await store.auditHead()).hash });
    expect(await checkpointer.checkpoint()).toBeUndefined();
    await checkpointer.close();
    expect(await store.listCheckpoints(10)).toHaveLength(1);
    await store.close();
  });
});
