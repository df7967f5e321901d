// How much a node may trust its cache right now. The feed (PostgreSQL LISTEN or
// a Redis subscription) confirms it is alive with each event and heartbeat;
// without a recent confirmation the node cannot know what it missed.

export const FRESH = 0;
/** The feed is lost but was healthy within the staleness bound: cached tokens only. */
export const DEGRADED = 1;
/** Lost for longer than the staleness bound: nothing is served. */
export const STALE = 2;
export type Freshness = typeof FRESH | typeof DEGRADED | typeof STALE;

export interface FeedHealthView {
  freshness(now: number): Freshness;
  readonly connected: boolean;
  /** Clock time of the last confirmation that no change can have been missed. */
  readonly lastHealthyAt: number;
  readonly lastEventAt: number | null;
}

export class FeedHealth implements FeedHealthView {
  #connected = false;
  #lastHealthyAt = Number.NEGATIVE_INFINITY;
  #lastEventAt: number | null = null;

  /**
   * @param healthWindowMs a connected feed is trusted this long after its last confirmation
   *   (a few heartbeats), so a silently dead connection is noticed even before it errors.
   * @param maxStalenessMs cached entries keep working this long after the last confirmation.
   */
  constructor(
    private readonly healthWindowMs: number,
    private readonly maxStalenessMs: number,
  ) {}

  get connected(): boolean {
    return this.#connected;
  }
  get lastHealthyAt(): number {
    return this.#lastHealthyAt;
  }
  get lastEventAt(): number | null {
    return this.#lastEventAt;
  }

  confirm(now: number): void {
    this.#connected = true;
    this.#lastHealthyAt = now;
  }

  event(now: number): void {
    this.#lastEventAt = now;
    if (this.#connected) this.#lastHealthyAt = now;
  }

  lost(): void {
    this.#connected = false;
  }

  freshness(now: number): Freshness {
    const age = now - this.#lastHealthyAt;
    if (this.#connected && age <= this.healthWindowMs) return FRESH;
    return age <= this.maxStalenessMs ? DEGRADED : STALE;
  }
}

/** The in-process feed of a single process: it cannot be lost. */
export const ALWAYS_FRESH: FeedHealthView = {
  freshness: () => FRESH,
  connected: true,
  get lastHealthyAt() {
    return Date.now();
  },
  lastEventAt: null,
};
