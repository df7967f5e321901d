import { hash } from 'node:crypto';
import type { Change } from '../../store/store.js';
import { DEGRADED, STALE, type FeedHealthView } from '../feed/feed-health.js';
import type { CacheEntry, TokenEntry } from './token-entry.js';
import type { TokenLoader } from './token-loader.js';

/** The node cannot vouch for anything right now: answer 503 `store_unavailable`. */
export const UNAVAILABLE = Symbol('unavailable');

export interface TokenCacheOptions {
  readonly loader: TokenLoader;
  readonly health: FeedHealthView;
  readonly clock: () => number;
  /** Even with a healthy feed, an entry is re-read after this long (defence against a missed event). */
  readonly ttlMs: number;
  readonly maxEntries: number;
  readonly maxUnknown: number;
  readonly onHit?: () => void;
  readonly onMiss?: () => void;
}

/** What an invalidation touched, remembered briefly so loads that raced it can be judged. */
type Touched = { readonly seq: number } & ({ readonly ids: readonly string[] } | { readonly role: string } | { readonly all: true });

/** Invalidations remembered for judging in-flight loads; a load older than all of them is not kept. */
const TOUCHED_WINDOW = 1024;

/**
 * The cache key of a presented token: SHA-256 of the text. It never leaves the
 * process (the store is asked by the keyed HMAC, computed only on a miss) and
 * costs a tenth of the HMAC on every hit. Without the server key it is no
 * help to anyone: the token has 190 random bits, nothing to guess offline.
 */
export function cacheKeyOf(token: string): string {
  return hash('sha256', token, 'base64');
}

/**
 * Token entries keyed by `cacheKeyOf(token)`, kept current by the change
 * feed. Loads are single-flight per hash. A load that raced an invalidation
 * touching what it read (its token, an ancestor, a role, or everything)
 * returns its answer to the request that asked but is not kept, so a
 * revocation can never be undone by a slow read; unrelated changes do not
 * stop it from being cached.
 */
export class TokenCache {
  readonly #options: TokenCacheOptions;
  readonly #tokens = new Map<string, TokenEntry>();
  readonly #unknown = new Map<string, number>();
  /** Token id (its own or an ancestor's) → hashes of the entries that depend on it. */
  readonly #byLineage = new Map<string, Set<string>>();
  readonly #byRole = new Map<string, Set<string>>();
  readonly #loading = new Map<string, Promise<CacheEntry>>();
  #seq = 0;
  readonly #touched: Touched[] = [];

  constructor(options: TokenCacheOptions) {
    this.#options = options;
  }

  get size(): number {
    return this.#tokens.size;
  }

  /** Synchronous on purpose: a hit costs two map reads and no promise. Undefined means: load it. */
  lookup(hash: string, now: number): CacheEntry | undefined | typeof UNAVAILABLE {
    const freshness = this.#options.health.freshness(now);
    if (freshness === STALE) return UNAVAILABLE;
    const entry = this.#tokens.get(hash);
    if (entry !== undefined) {
      // While degraded the staleness bound governs, not the TTL: the entry was right when the feed was last healthy.
      if (freshness === DEGRADED || now - entry.loadedAt < this.#options.ttlMs) {
        this.#options.onHit?.();
        return entry;
      }
      this.#remove(hash);
    } else {
      const until = this.#unknown.get(hash);
      if (until !== undefined) {
        if (until > now) {
          this.#options.onHit?.();
          return { kind: 'unknown', until };
        }
        this.#unknown.delete(hash);
      }
    }
    this.#options.onMiss?.();
    // A token the node has not seen cannot be vouched for without the feed.
    return freshness === DEGRADED ? UNAVAILABLE : undefined;
  }

  /** Reads through the loader by the token's keyed hash; rejects when the store cannot be reached. */
  load(key: string, keyedHash: string): Promise<CacheEntry> {
    const pending = this.#loading.get(key);
    if (pending !== undefined) return pending;
    const startedAt = this.#seq;
    const promise = this.#options.loader.load(keyedHash).then(
      (entry) => {
        if (this.#loading.get(key) === promise) this.#loading.delete(key);
        if (!this.#raced(entry, startedAt)) this.#keep(key, entry);
        return entry;
      },
      (err: unknown) => {
        if (this.#loading.get(key) === promise) this.#loading.delete(key);
        throw err;
      },
    );
    this.#loading.set(key, promise);
    return promise;
  }

  apply(change: Change): void {
    switch (change.type) {
      case 'token':
        this.#invalidate({ seq: 0, ids: change.ids });
        // A new token may have the hash of a remembered unknown one; unknowns are cheap to forget.
        this.#unknown.clear();
        for (const id of change.ids) this.#dropIndexed(this.#byLineage, id);
        return;
      case 'role':
        this.#invalidate({ seq: 0, role: change.name });
        this.#options.loader.forgetRole(change.name);
        this.#dropIndexed(this.#byRole, change.name);
        return;
      case 'service':
      case 'environment':
        // Grants were compiled against the service catalog; recompile them all.
        this.flush();
        return;
    }
  }

  flush(): void {
    this.#invalidate({ seq: 0, all: true });
    this.#tokens.clear();
    this.#unknown.clear();
    this.#byLineage.clear();
    this.#byRole.clear();
    this.#options.loader.forgetRoles();
  }

  #invalidate(touched: Touched): void {
    this.#touched.push({ ...touched, seq: ++this.#seq });
    if (this.#touched.length > TOUCHED_WINDOW) this.#touched.shift();
    // Requests arriving after a change must not join a read that started before it.
    this.#loading.clear();
  }

  /** Whether an invalidation since `startedAt` may have made this freshly read entry wrong. */
  #raced(entry: CacheEntry, startedAt: number): boolean {
    if (startedAt === this.#seq) return false;
    const oldest = this.#touched[0];
    if (oldest === undefined || oldest.seq > startedAt + 1) return true;
    for (let i = this.#touched.length - 1; i >= 0 && this.#touched[i]!.seq > startedAt; i--) {
      const touched = this.#touched[i]!;
      if ('all' in touched) return true;
      // An unknown token may be one created meanwhile.
      if (entry.kind === 'unknown') {
        if ('ids' in touched) return true;
      } else if ('ids' in touched) {
        if (touched.ids.some((id) => entry.lineage.includes(id))) return true;
      } else if (entry.roles.includes(touched.role)) return true;
    }
    return false;
  }

  #keep(hash: string, entry: CacheEntry): void {
    if (entry.kind === 'unknown') {
      if (this.#unknown.size >= this.#options.maxUnknown) this.#unknown.delete(this.#unknown.keys().next().value as string);
      this.#unknown.set(hash, entry.until);
      return;
    }
    if (this.#tokens.has(hash)) this.#remove(hash);
    else if (this.#tokens.size >= this.#options.maxEntries) this.#remove(this.#tokens.keys().next().value as string);
    this.#tokens.set(hash, entry);
    for (const id of entry.lineage) index(this.#byLineage, id, hash);
    for (const role of entry.roles) index(this.#byRole, role, hash);
  }

  #dropIndexed(map: Map<string, Set<string>>, key: string): void {
    const hashes = map.get(key);
    if (hashes === undefined) return;
    for (const hash of [...hashes]) this.#remove(hash);
    map.delete(key);
  }

  #remove(hash: string): void {
    const entry = this.#tokens.get(hash);
    if (entry === undefined) return;
    this.#tokens.delete(hash);
    for (const id of entry.lineage) unindex(this.#byLineage, id, hash);
    for (const role of entry.roles) unindex(this.#byRole, role, hash);
  }
}

function index(map: Map<string, Set<string>>, key: string, hash: string): void {
  let set = map.get(key);
  if (set === undefined) map.set(key, (set = new Set()));
  set.add(hash);
}

function unindex(map: Map<string, Set<string>>, key: string, hash: string): void {
  const set = map.get(key);
  if (set === undefined) return;
  set.delete(hash);
  if (set.size === 0) map.delete(key);
}
