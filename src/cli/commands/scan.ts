import type { Command } from 'commander';
import { filesUnder, GitError, scanGitHistory, scanStream, type RawFinding } from '../../leaks/index.js';
import { createReadStream } from 'node:fs';
import { AdminClient, CliError } from '../client.js';
import { contextOf } from '../context.js';

// `latchkey scan`: finds Latchkey tokens by prefix and checksum, asks the admin
// API (when one is configured) which are live, and with --revoke revokes them.
// Exit code 1 when a live token is found (or a token whose liveness could not be
// asked), so it can gate CI and pre-commit; 2 on error.

interface ScanOptions {
  git?: boolean;
  ignore?: boolean;
  all?: boolean;
  revoke?: boolean;
  json?: boolean;
}

interface TokenStatus {
  hint: string | null;
  state: string;
  live: boolean;
  id: string | null;
  name?: string;
  env?: string;
}

const STATUS_BATCH = 1000;

/** A progress line on a terminal only: CI logs and pipes get the report alone. */
function progressLine(): { add(bytes: number, files?: number): void; done(): void } {
  if (process.stderr.isTTY !== true) return { add() {}, done() {} };
  let bytes = 0;
  let files = 0;
  let shown = 0;
  return {
    add(more, moreFiles = 0) {
      bytes += more;
      files += moreFiles;
      const now = Date.now();
      if (now - shown < 200) return;
      shown = now;
      process.stderr.write(`\rscanning: ${files} file(s), ${(bytes / 1e6).toFixed(1)} MB`);
    },
    done() {
      if (shown > 0) process.stderr.write('\r\x1b[K');
    },
  };
}

async function scanTargets(paths: readonly string[], options: ScanOptions, found: RawFinding[]): Promise<{ files: number; bytes: number; binary: number }> {
  const progress = progressLine();
  const onFinding = (finding: RawFinding) => found.push(finding);
  const stream = { all: options.all === true, onBytes: (bytes: number) => progress.add(bytes) };
  let files = 0;
  let bytes = 0;
  let binary = 0;
  try {
    for (const path of paths) {
      if (options.git === true) {
        const result = await scanGitHistory(path, onFinding, stream);
        files += result.blobs;
        bytes += result.bytes;
        continue;
      }
      if (path === '-') {
        const result = await scanStream(process.stdin, '-', onFinding, stream);
        files++;
        bytes += result.bytes;
        continue;
      }
      for (const file of filesUnder(path, { noIgnore: options.ignore === false })) {
        const result = await scanStream(createReadStream(file, { highWaterMark: 1 << 20 }), file, onFinding, stream);
        files++;
        progress.add(0, 1);
        bytes += result.bytes;
        if (result.binary) binary++;
      }
    }
  } catch (err) {
    if (err instanceof GitError) throw new CliError(err.message);
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EACCES' || code === 'ENOTDIR') throw new CliError((err as Error).message);
    throw err;
  } finally {
    progress.done();
  }
  return { files, bytes, binary };
}

/** Each distinct token once, in batches; the answer comes back index-aligned. */
async function askStatus(client: AdminClient, tokens: readonly string[]): Promise<Map<string, TokenStatus>> {
  const status = new Map<string, TokenStatus>();
  for (let i = 0; i < tokens.length; i += STATUS_BATCH) {
    const batch = tokens.slice(i, i + STATUS_BATCH);
    const answer = await client.call<{ items: TokenStatus[] }>('POST', '/v1/leaks/status', { tokens: batch });
    batch.forEach((token, index) => status.set(token, answer.items[index]!));
  }
  return status;
}

function describe(status: TokenStatus | undefined, lookAlike: boolean, revoked: boolean): string {
  if (lookAlike) return 'look-alike (checksum does not hold)';
  if (status === undefined) return 'liveness not checked';
  if (revoked) return `REVOKED now (was ${status.state}) ${status.id} ${status.name ?? ''}`.trimEnd();
  if (status.state === 'honeytoken') return `honeytoken ${status.id} (a decoy Latchkey planted)`;
  if (status.id === null) return status.state === 'malformed' ? 'malformed' : 'unknown to this Latchkey';
  return `${status.live ? 'LIVE' : 'dead'} (${status.state}) ${status.id} ${status.name ?? ''} env=${status.env ?? '?'}`.trimEnd();
}

export function registerScan(program: Command): void {
  program.command('scan')
    .description('find Latchkey tokens in files, directories, git history (--git) or standard input (-)')
    .argument('<paths...>', 'files, directories, git repositories with --git, or - for standard input')
    .option('--git', 'scan every blob in the history of every ref of the repositories given')
    .option('--no-ignore', 'scan files that .gitignore excludes too')
    .option('--all', 'also report look-alikes: the right shape, a checksum that does not hold')
    .option('--revoke', 'revoke every live token found (needs tokens.revoke)')
    .action(async (paths: string[], options: ScanOptions, command: Command) => {
      try {
        process.exitCode = await runScan(paths, options, command);
      } catch (err) {
        const message = err instanceof CliError ? err.message : `unexpected error: ${(err as Error).message}`;
        process.stderr.write(`latchkey: ${message.split('\n')[0]}\n`);
        process.exitCode = 2;
      }
    });
}

async function runScan(paths: string[], options: ScanOptions, command: Command): Promise<number> {
  const { client, out } = contextOf(command);
  const flags = command.opts() as { token?: string };
  const configured = (flags.token ?? process.env.LATCHKEY_TOKEN ?? '') !== '';
  const found: RawFinding[] = [];
  const scanned = await scanTargets(paths, options, found);

  let liveness = configured ? 'checked' : 'not checked: no admin token (LATCHKEY_TOKEN)';
  let status = new Map<string, TokenStatus>();
  const genuine = [...new Set(found.filter((finding) => !finding.lookAlike).map((finding) => finding.token))];
  if (configured && genuine.length > 0) {
    try {
      status = await askStatus(client, genuine);
    } catch (err) {
      if (options.revoke === true) throw err;
      liveness = `not checked: ${(err as Error).message}`;
      process.stderr.write(`latchkey: liveness ${liveness}\n`);
    }
  } else if (options.revoke === true && !configured) {
    throw new CliError('--revoke needs an admin token: set LATCHKEY_TOKEN or pass --token');
  }

  const revoked = new Set<string>();
  if (options.revoke === true) {
    const live = [...new Set([...status.values()].filter((entry) => entry.live && entry.id !== null).map((entry) => entry.id!))];
    for (const id of live) {
      await client.call('POST', `/v1/tokens/${encodeURIComponent(id)}/revoke`);
      revoked.add(id);
    }
    const report = found.flatMap((finding) => {
      const id = status.get(finding.token)?.id;
      return id !== undefined && id !== null && revoked.has(id) ? [{ id, location: `${finding.file}:${finding.line}:${finding.col}` }] : [];
    });
    for (let i = 0; i < report.length; i += STATUS_BATCH) await client.call('POST', '/v1/leaks/revoked', { findings: report.slice(i, i + STATUS_BATCH) });
  }

  // From here on the token text is dropped: nothing printed carries it. `live` is as found, before --revoke.
  const findings = found.map(({ token, ...finding }) => {
    const entry = finding.lookAlike ? undefined : status.get(token);
    return {
      ...finding,
      ...(entry !== undefined && { state: entry.state, live: entry.live, id: entry.id, revoked: revoked.has(entry.id ?? '') }),
    };
  });
  const liveCount = findings.filter((finding) => finding.live === true).length;
  // A token whose liveness could not be asked may be live: a hook or CI job fails closed on it.
  const unchecked = findings.filter((finding) => !finding.lookAlike && finding.state === undefined).length;
  out.print({ findings, scanned, liveness, live: liveCount, revoked: [...revoked] }, () => {
    const lines = found.map((finding, index) => {
      const entry = finding.lookAlike ? undefined : status.get(finding.token);
      return `${finding.file}:${finding.line}:${finding.col}  ${findings[index]!.hint}  ${describe(entry, finding.lookAlike, entry?.id != null && revoked.has(entry.id))}`;
    });
    const summary = `${found.length} finding(s) in ${scanned.files} file(s), ${(scanned.bytes / 1e6).toFixed(1)} MB${scanned.binary > 0 ? `, ${scanned.binary} binary skipped` : ''}; liveness ${liveness}${revoked.size > 0 ? `; revoked ${revoked.size}` : ''}`;
    return [...lines, summary].join('\n');
  });
  return liveCount > 0 || unchecked > 0 ? 1 : 0;
}
