import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { RawFinding } from './finding.js';
import { ContentScanner } from './scan-stream.js';

// Every blob reachable from any ref, streamed through `git cat-file --batch`:
// a token removed in a later commit is still in history, and still works until
// revoked. Each blob is read once, whatever the number of commits that hold it;
// for the rare blob with a finding, `git log --find-object` names the commit
// that introduced it.

export class GitError extends Error {
  override readonly name = 'GitError';
}

export interface GitScanResult {
  readonly blobs: number;
  readonly bytes: number;
}

function runGit(repo: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', ['-C', repo, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => { out += chunk; });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { err += chunk; });
    child.on('error', (error) => reject(new GitError(`cannot run git: ${error.message}`)));
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new GitError(`git ${args[0]} failed: ${err.trim().split('\n')[0] ?? code}`))));
  });
}

/** Blob id → the first path rev-list saw it under. Trees and commits are left out by batch-check. */
async function listBlobs(repo: string): Promise<Map<string, string>> {
  const blobs = new Map<string, string>();
  const revList = spawn('git', ['-C', repo, 'rev-list', '--all', '--objects'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const check = spawn('git', ['-C', repo, 'cat-file', '--batch-check=%(objecttype) %(objectname) %(rest)'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  revList.stderr.setEncoding('utf8').on('data', (chunk: string) => { err += chunk; });
  check.stderr.setEncoding('utf8').on('data', (chunk: string) => { err += chunk; });
  revList.stdout.pipe(check.stdin);
  const revListDone = new Promise<number | null>((resolve, reject) => { revList.on('close', resolve); revList.on('error', reject); });
  for await (const line of createInterface({ input: check.stdout })) {
    if (!line.startsWith('blob ')) continue;
    const id = line.slice(5, line.indexOf(' ', 5));
    if (!blobs.has(id)) blobs.set(id, line.slice(5 + id.length + 1));
  }
  const code = await revListDone.catch((error: Error) => { throw new GitError(`cannot run git: ${error.message}`); });
  if (code !== 0) throw new GitError(`git rev-list failed: ${err.trim().split('\n')[0] ?? code}`);
  return blobs;
}

/**
 * Reads `<id> <type> <size>\n<content>\n` records as they stream, handing each
 * blob's content to its own scanner chunk by chunk, never whole.
 */
async function readBlobs(repo: string, ids: readonly string[], scannerOf: (id: string) => ContentScanner, onBytes: (bytes: number) => void): Promise<void> {
  const child = spawn('git', ['-C', repo, 'cat-file', '--batch'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { err += chunk; });
  const closed = new Promise<number | null>((resolve, reject) => { child.on('close', resolve); child.on('error', reject); });
  child.stdin.on('error', () => undefined); // a git that died is reported by its exit code
  child.stdin.end(ids.length === 0 ? '' : `${ids.join('\n')}\n`);

  let header = Buffer.alloc(0);
  let current: ContentScanner | undefined;
  let remaining = 0; // content bytes left in the current blob
  let trailer = 0; // the newline after the content
  for await (const chunk of child.stdout) {
    let buffer = chunk as Buffer;
    while (buffer.length > 0) {
      if (current !== undefined) {
        const take = Math.min(remaining, buffer.length);
        if (take > 0) {
          current.feed(buffer.subarray(0, take));
          onBytes(take);
        }
        remaining -= take;
        buffer = buffer.subarray(take);
        if (remaining === 0) {
          current.end();
          current = undefined;
          trailer = 1;
        }
        continue;
      }
      if (trailer > 0) {
        buffer = buffer.subarray(1);
        trailer = 0;
        continue;
      }
      const newline = buffer.indexOf(0x0a);
      if (newline === -1) {
        header = Buffer.concat([header, buffer]);
        break;
      }
      const line = Buffer.concat([header, buffer.subarray(0, newline)]).toString('utf8');
      header = Buffer.alloc(0);
      buffer = buffer.subarray(newline + 1);
      const [id, type, size] = line.split(' ');
      if (type === 'missing' || id === undefined || size === undefined) continue;
      current = scannerOf(id);
      remaining = Number(size);
      if (remaining === 0) {
        current.end();
        current = undefined;
        trailer = 1;
      }
    }
  }
  const code = await closed.catch((error: Error) => { throw new GitError(`cannot run git: ${error.message}`); });
  if (code !== 0) throw new GitError(`git cat-file failed: ${err.trim().split('\n')[0] ?? code}`);
}

/** The oldest commit, on any ref, that added this blob. */
async function introducingCommit(repo: string, blob: string): Promise<string | undefined> {
  const out = await runGit(repo, ['log', '--all', '--reverse', '--format=%H', `--find-object=${blob}`]);
  return out.split('\n').find((line) => line !== '');
}

export async function scanGitHistory(
  repo: string,
  onFinding: (finding: RawFinding) => void,
  options: { readonly all?: boolean; readonly onBytes?: (bytes: number) => void } = {},
): Promise<GitScanResult> {
  await runGit(repo, ['rev-parse', '--git-dir']).catch(() => { throw new GitError(`${repo} is not a git repository`); });
  const blobs = await listBlobs(repo);
  const pending = new Map<string, { scanner: ContentScanner; findings: RawFinding[] }>();
  let bytes = 0;
  await readBlobs(repo, [...blobs.keys()], (id) => {
    const scanner: ContentScanner = new ContentScanner(blobs.get(id)!, (finding) => {
      const entry = pending.get(id) ?? { scanner, findings: [] };
      entry.findings.push(finding);
      pending.set(id, entry);
    }, options.all === undefined ? {} : { all: options.all });
    return scanner;
  }, (count) => {
    bytes += count;
    options.onBytes?.(count);
  });
  for (const [blob, { scanner, findings }] of pending) {
    if (scanner.binary) continue; // its probe failed after a finding was seen: binary after all
    const commit = await introducingCommit(repo, blob);
    for (const finding of findings) {
      const file = commit === undefined ? finding.file : `${commit.slice(0, 12)}:${finding.file}`;
      onFinding({ ...finding, file, ...(commit !== undefined && { commit }) });
    }
  }
  return { blobs: blobs.size, bytes };
}
