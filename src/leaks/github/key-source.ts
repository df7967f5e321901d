import { writeFile, readFile, rename } from 'node:fs/promises';
import type { Logger } from 'pino';
import { request } from 'undici';
import { GithubKeys } from './keys.js';

// GitHub's signing keys fetched from a configured URL (GitHub's own is
// https://api.github.com/meta/public_keys/secret_scanning), refreshed on a
// timer and when a report names a key id not seen yet (GitHub rotates keys),
// and cached in the data directory so that a restart while the URL is
// unreachable still verifies reports. Until keys are known, every report is
// refused (401 signature_invalid): never accepted unverified.

/** What the GitHub endpoint verifies against: a fixed file's keys, or these. */
export interface GithubKeyRing {
  verify(rawBody: Buffer, keyId: string | string[] | undefined, signature: string | string[] | undefined): boolean;
}

export interface GithubKeySourceOptions {
  readonly url: string;
  /** The cached copy, written after each successful fetch. */
  readonly cacheFile: string;
  readonly refreshMs: number;
  readonly logger: Logger;
  /** A refresh for an unknown key id happens at most this often. Default 60 s. */
  readonly minRefreshGapMs?: number;
  readonly timeoutMs?: number;
}

const MAX_DOCUMENT_BYTES = 256 * 1024;

export class GithubKeySource implements GithubKeyRing {
  readonly #options: GithubKeySourceOptions;
  #keys: GithubKeys | null = null;
  #timer: NodeJS.Timeout | null = null;
  #refreshing: Promise<void> | null = null;
  #lastRefresh = 0;

  private constructor(options: GithubKeySourceOptions) {
    this.#options = options;
  }

  /** Fetches once (falling back to the cached copy), then keeps refreshing. */
  static async start(options: GithubKeySourceOptions): Promise<GithubKeySource> {
    const source = new GithubKeySource(options);
    await source.refresh();
    if (source.#keys === null) {
      try {
        source.#keys = GithubKeys.parse(await readFile(options.cacheFile, 'utf8'), `cached GitHub keys ${options.cacheFile}`);
        options.logger.warn({ url: options.url }, 'GitHub secret-scanning keys: using the cached copy until the URL answers');
      } catch {
        options.logger.error({ url: options.url }, 'GitHub secret-scanning keys unavailable (no cached copy): reports are refused until they can be fetched');
      }
    }
    source.#timer = setInterval(() => void source.refresh(), options.refreshMs);
    source.#timer.unref();
    return source;
  }

  get size(): number {
    return this.#keys?.size ?? 0;
  }

  verify(rawBody: Buffer, keyId: string | string[] | undefined, signature: string | string[] | undefined): boolean {
    const keys = this.#keys;
    const ok = keys !== null && keys.verify(rawBody, keyId, signature);
    // An unknown key id may be a key GitHub rotated in: look again (bounded), for the report's retry.
    if (!ok && typeof keyId === 'string' && Date.now() - this.#lastRefresh > (this.#options.minRefreshGapMs ?? 60_000)) void this.refresh();
    return ok;
  }

  /** One fetch at a time; a failure keeps the keys in force. */
  refresh(): Promise<void> {
    this.#refreshing ??= this.#fetch().finally(() => {
      this.#refreshing = null;
    });
    return this.#refreshing;
  }

  async #fetch(): Promise<void> {
    const { url, cacheFile, logger } = this.#options;
    this.#lastRefresh = Date.now();
    try {
      const response = await request(url, {
        headers: { accept: 'application/json', 'user-agent': 'latchkey' },
        headersTimeout: this.#options.timeoutMs ?? 10_000,
        bodyTimeout: this.#options.timeoutMs ?? 10_000,
      });
      if (response.statusCode !== 200) {
        await response.body.dump();
        throw new Error(`HTTP ${response.statusCode}`);
      }
      const text = await response.body.text();
      if (text.length > MAX_DOCUMENT_BYTES) throw new Error('the document is larger than 256 KiB');
      const keys = GithubKeys.parse(text, `GitHub keys from ${url}`);
      this.#keys = keys;
      // Written whole, then renamed over the old copy: a crash never leaves half a file.
      const temporary = `${cacheFile}.tmp`;
      await writeFile(temporary, text, { mode: 0o600 });
      await rename(temporary, cacheFile);
      logger.info({ url, keys: keys.size }, 'GitHub secret-scanning keys refreshed');
    } catch (err) {
      logger.error({ url, err: (err as Error).message }, 'GitHub secret-scanning keys could not be fetched; keeping the keys in force');
    }
  }

  close(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
  }
}
