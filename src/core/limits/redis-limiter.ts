import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { ALLOWED, EXHAUSTED, type LimitSubject, type LimitVerdict, type Limiter } from './limiter.js';
import type { LocalLimiter } from './local-limiter.js';

// One script, one round trip, atomic: the rate check (GCRA on Redis' own clock,
// so nodes with skewed clocks agree) and the usage cap are decided together and
// written only when both allow. Floats travel as strings because Redis
// truncates Lua numbers to integers in replies.
const LIMIT_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local interval = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local maxUses = tonumber(ARGV[3])
local newTat = nil
if interval > 0 then
  local tat = tonumber(redis.call('GET', KEYS[1]))
  if tat == nil or tat < now then tat = now end
  newTat = tat + interval
  local over = newTat - now - period
  if over > 0 then return {1, string.format('%.3f', over), -1} end
end
local used = -1
if maxUses >= 0 then
  used = tonumber(redis.call('GET', KEYS[2]) or '0')
  if used >= maxUses then return {2, '0', used} end
  used = redis.call('INCR', KEYS[2])
  if used == 1 then redis.call('PEXPIREAT', KEYS[2], ARGV[4]) end
end
if newTat ~= nil then
  redis.call('SET', KEYS[1], string.format('%.3f', newTat), 'PX', math.ceil(newTat - now) + 1000)
  return {0, string.format('%.3f', newTat - now), used}
end
return {0, '0', used}
`;

type ScriptReply = [number, string, number];

interface LimitCommands {
  latchkeyLimit(rateKey: string, usesKey: string, interval: string, period: string, maxUses: string, expiresAt: string): Promise<ScriptReply>;
}

export interface RedisLimiterOptions {
  readonly url: string;
  readonly local: LocalLimiter;
  readonly logger: Logger;
  /** Called with true when the node falls back to local limits, false when Redis is back. */
  readonly onFallback: (active: boolean) => void;
  /** A Redis answer slower than this counts as Redis being gone for that request. */
  readonly commandTimeoutMs?: number;
  readonly keyPrefix?: string;
}

/**
 * Limits shared by every node through Redis. When Redis is unreachable the node
 * keeps serving with its local limiter (said once in the log and in the
 * `latchkey_limits_fallback` gauge); the uses it counted meanwhile are added to
 * Redis when it returns, so the shared cap does not forget them.
 */
export class RedisLimiter implements Limiter {
  readonly #redis: Redis & LimitCommands;
  readonly #local: LocalLimiter;
  readonly #logger: Logger;
  readonly #onFallback: (active: boolean) => void;
  readonly #prefix: string;
  #fallback = false;
  /** Uses granted locally while Redis was away, to be added to the shared counters. */
  readonly #pendingUses = new Map<string, { count: number; expiresAt: number }>();

  constructor(options: RedisLimiterOptions) {
    this.#local = options.local;
    this.#logger = options.logger;
    this.#onFallback = options.onFallback;
    this.#prefix = options.keyPrefix ?? 'latchkey:';
    // No offline queue and no retries per command: while Redis is away a check
    // must fail at once and fall back, not wait for a reconnect.
    const redis = new Redis(options.url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: options.commandTimeoutMs ?? 250,
      retryStrategy: (times) => Math.min(50 * times, 1000),
      lazyConnect: false,
    });
    redis.defineCommand('latchkeyLimit', { numberOfKeys: 2, lua: LIMIT_SCRIPT });
    redis.on('ready', () => this.#recovered());
    redis.on('close', () => this.#enterFallback('connection closed'));
    // ioredis logs unhandled 'error' events itself; the fallback is what matters.
    redis.on('error', (err: Error) => this.#enterFallback(err.message));
    this.#redis = redis as Redis & LimitCommands;
  }

  /**
   * Resolves once Redis is first reachable, or after `timeoutMs`: a node that
   * starts with Redis up does not begin in fallback (nor say so in the log).
   */
  connected(timeoutMs: number): Promise<void> {
    if (this.#redis.status === 'ready') return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      const redis = this.#redis;
      function done(): void {
        clearTimeout(timer);
        redis.off('ready', done);
        resolve();
      }
      redis.once('ready', done);
    });
  }

  get fallbackActive(): boolean {
    return this.#fallback;
  }

  check(subject: LimitSubject, now: number): LimitVerdict | Promise<LimitVerdict> {
    if (this.#redis.status !== 'ready') return this.#checkLocally(subject, now, 'not connected');
    const rate = subject.rate;
    // Hash tags keep both keys of a token in one cluster slot.
    const base = `${this.#prefix}{${subject.id}}`;
    return this.#redis
      .latchkeyLimit(
        `${base}:rate`,
        `${base}:uses`,
        rate === null ? '0' : String(rate.periodMs / rate.count),
        rate === null ? '0' : String(rate.periodMs),
        subject.maxUses === null ? '-1' : String(subject.maxUses),
        String(Math.ceil(subject.expiresAt) + 60_000),
      )
      .then(
        (reply) => this.#verdictOf(reply, subject),
        (err: Error) => this.#checkLocally(subject, Date.now(), err.message),
      );
  }

  #verdictOf(reply: ScriptReply, subject: LimitSubject): LimitVerdict {
    const [code, retry, used] = reply;
    if (used >= 0) this.#local.noteUsed(subject.id, Number(used), subject.expiresAt);
    if (code === 0) return subject.rate === null ? ALLOWED : { allowed: true, backlogMs: Number(retry) };
    if (code === 1) return { allowed: false, reason: 'rate_limited', retryAfterMs: Number(retry) };
    return EXHAUSTED;
  }

  #checkLocally(subject: LimitSubject, now: number, why: string): LimitVerdict {
    this.#enterFallback(why);
    const verdict = this.#local.check(subject, now);
    if (verdict.allowed && subject.maxUses !== null) {
      const pending = this.#pendingUses.get(subject.id);
      if (pending === undefined) this.#pendingUses.set(subject.id, { count: 1, expiresAt: subject.expiresAt });
      else pending.count++;
    }
    return verdict;
  }

  #enterFallback(why: string): void {
    if (this.#fallback) return;
    this.#fallback = true;
    this.#onFallback(true);
    this.#logger.warn({ reason: why }, 'redis unavailable: rate limits and usage caps are now enforced per node');
  }

  #recovered(): void {
    if (!this.#fallback) return;
    this.#fallback = false;
    this.#onFallback(false);
    this.#logger.info('redis available again: limits are shared across nodes');
    const pending = [...this.#pendingUses];
    this.#pendingUses.clear();
    for (const [id, { count, expiresAt }] of pending) {
      const key = `${this.#prefix}{${id}}:uses`;
      this.#redis
        .multi()
        .incrby(key, count)
        .pexpireat(key, Math.ceil(expiresAt) + 60_000)
        .exec()
        .catch((err: Error) => this.#logger.warn({ err: err.message }, 'could not add locally counted uses to redis'));
    }
  }

  async close(): Promise<void> {
    this.#redis.removeAllListeners('close');
    this.#redis.disconnect();
  }
}
