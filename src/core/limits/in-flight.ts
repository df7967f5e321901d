// The concurrency stage: requests in flight per token and per service binding
// (its upstream pool). A rate limit bounds how often a token may ask, not how
// long it may hold the upstream: 300 slow requests on one token used to take
// every pool connection and leave other tokens queued behind them. With a
// per-token cap below the pool size, no token can hold the whole pool.
//
// Synchronous and allocation-free on the hot path: two counter maps, keyed by
// the token id and by the binding object (a reloaded service gets new
// bindings and new pools, so each pool is counted on its own).

export type InFlightRefusal = 'token' | 'service';

export interface InFlightLimits {
  /** Requests (and open WebSockets) of one token at once, on this node. */
  readonly perToken: number;
  /** Requests (and open WebSockets) to one service binding at once, on this node. */
  readonly perService: number;
}

export class InFlight<Binding extends object> {
  readonly #limits: InFlightLimits;
  readonly #byToken = new Map<string, number>();
  readonly #byBinding = new Map<Binding, number>();

  constructor(limits: InFlightLimits) {
    this.#limits = limits;
  }

  /** Takes a slot for the request, or says which limit is full (then nothing is taken). */
  acquire(tokenId: string, binding: Binding): InFlightRefusal | null {
    const token = this.#byToken.get(tokenId) ?? 0;
    if (token >= this.#limits.perToken) return 'token';
    const service = this.#byBinding.get(binding) ?? 0;
    if (service >= this.#limits.perService) return 'service';
    this.#byToken.set(tokenId, token + 1);
    this.#byBinding.set(binding, service + 1);
    return null;
  }

  /** Gives back a slot taken by acquire; callers make sure this happens exactly once. */
  release(tokenId: string, binding: Binding): void {
    const token = (this.#byToken.get(tokenId) ?? 1) - 1;
    // Idle tokens and retired bindings leave the maps, so they stay as small as what is in flight.
    if (token <= 0) this.#byToken.delete(tokenId);
    else this.#byToken.set(tokenId, token);
    const service = (this.#byBinding.get(binding) ?? 1) - 1;
    if (service <= 0) this.#byBinding.delete(binding);
    else this.#byBinding.set(binding, service);
  }

  ofToken(tokenId: string): number {
    return this.#byToken.get(tokenId) ?? 0;
  }

  ofBinding(binding: Binding): number {
    return this.#byBinding.get(binding) ?? 0;
  }

  /** Requests in flight on this node, for the gauge. */
  get total(): number {
    let sum = 0;
    for (const count of this.#byBinding.values()) sum += count;
    return sum;
  }
}
