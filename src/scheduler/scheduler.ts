import type { Logger } from 'pino';
import type { AlertRaiser } from '../alerts/index.js';
import type { LifecycleConfig } from '../config/index.js';
import type { Actor, TokenRecord } from '../store/records.js';
import type { DueRule, Store } from '../store/store.js';

// The token scheduler inside `serve`: the time rules no request triggers.
//   grace end   a rotated predecessor is revoked (its expiry was already set
//               to the grace end, so gateways refuse it from that instant)
//   expiry      recorded once in the audit log
//   notice      token_expiring, N days ahead, once per token (audited)
//   unused      per environment, active tokens unused for N days are
//               disabled (token_auto_disabled, audited)
// Only the leader runs the rules when several processes share a store.

export const SCHEDULER_ACTOR: Actor = { tokenId: null, name: 'scheduler' };

const DAY_MS = 86_400_000;
const PAGE = 500;
/** Pages per rule and run, so one run cannot hold the store for long; the next run continues. */
const MAX_PAGES = 200;

/** Whether this process may run the rules now (a PostgreSQL advisory lock; always true alone). */
export interface Leadership {
  isLeader(): Promise<boolean>;
  close(): Promise<void>;
}

export const SOLE_LEADER: Leadership = { isLeader: async () => true, close: async () => {} };

export interface SchedulerOptions {
  readonly store: Store;
  readonly config: Pick<LifecycleConfig, 'noticeDays' | 'autoDisableDays' | 'intervalMs'>;
  readonly logger: Logger;
  readonly clock: () => number;
  readonly alerts?: AlertRaiser;
  readonly leadership?: Leadership;
  /** Runs first each time (this process' usage counts flushed, so unused is judged on them too). */
  readonly beforeRun?: () => Promise<void>;
}

export interface SchedulerRun {
  readonly leader: boolean;
  readonly graceEnded: readonly string[];
  readonly expired: readonly string[];
  readonly expiring: readonly string[];
  readonly disabled: readonly string[];
}

export class LifecycleScheduler {
  readonly #options: SchedulerOptions;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<SchedulerRun> | null = null;

  constructor(options: SchedulerOptions) {
    this.#options = options;
  }

  start(): void {
    if (this.#timer !== null) return;
    this.#timer = setInterval(() => {
      this.run().catch((err: Error) => this.#options.logger.error({ err: err.message }, 'token scheduler run failed; retrying at the next interval'));
    }, this.#options.config.intervalMs);
    this.#timer.unref();
  }

  /** One pass of every rule at the clock's time; runs never overlap. */
  async run(): Promise<SchedulerRun> {
    while (this.#running !== null) await this.#running.catch(() => {});
    this.#running = this.#pass();
    try {
      return await this.#running;
    } finally {
      this.#running = null;
    }
  }

  async close(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    await this.#running?.catch(() => {});
    await (this.#options.leadership ?? SOLE_LEADER).close();
  }

  async #pass(): Promise<SchedulerRun> {
    const { store, config, alerts, clock } = this.#options;
    if (!(await (this.#options.leadership ?? SOLE_LEADER).isLeader())) return { leader: false, graceEnded: [], expired: [], expiring: [], disabled: [] };
    await this.#options.beforeRun?.();
    const now = clock();
    const graceEnded: string[] = [];
    await this.#each({ kind: 'grace_end', now }, async (token) => {
      graceEnded.push(...(await store.setTokenStatus(token.id, 'revoked', SCHEDULER_ACTOR)).ids);
    });
    const expired: string[] = [];
    await this.#each({ kind: 'expired', now }, async (token) => {
      if (await store.noteToken(token.id, 'expired', SCHEDULER_ACTOR, { expiresAt: token.expiresAt })) expired.push(token.id);
    });
    const expiring: string[] = [];
    if (config.noticeDays > 0) {
      await this.#each({ kind: 'expiring', now, horizon: now + config.noticeDays * DAY_MS }, async (token) => {
        const notice = { tokenId: token.id, tokenName: token.name, env: token.env, owner: token.owner, expiresAt: new Date(token.expiresAt).toISOString() };
        if (!(await store.noteToken(token.id, 'expiring', SCHEDULER_ACTOR, notice))) return;
        expiring.push(token.id);
        alerts?.raise('token_expiring', { ...notice, inDays: Math.round(((token.expiresAt - now) / DAY_MS) * 10) / 10 });
      });
    }
    const disabled: string[] = [];
    for (const [env, days] of Object.entries(config.autoDisableDays)) {
      await this.#each({ kind: 'unused', env, since: now - days * DAY_MS, now }, async (token) => {
        const change = await store.setTokenStatus(token.id, 'disabled', SCHEDULER_ACTOR);
        if (change.ids.length === 0) return;
        disabled.push(token.id);
        alerts?.raise('token_auto_disabled', { tokenId: token.id, tokenName: token.name, env: token.env, owner: token.owner, unusedDays: days });
      });
    }
    if (graceEnded.length + expired.length + expiring.length + disabled.length > 0) {
      this.#options.logger.info({ graceEnded: graceEnded.length, expired: expired.length, expiring: expiring.length, disabled: disabled.length }, 'token scheduler ran');
    }
    return { leader: true, graceEnded, expired, expiring, disabled };
  }

  /** Each rule removes what it handled from its own query, so asking again gives the next page. */
  async #each(rule: DueRule, act: (token: TokenRecord) => Promise<void>): Promise<void> {
    const seen = new Set<string>();
    for (let page = 0; page < MAX_PAGES; page++) {
      const due = (await this.#options.store.dueTokens(rule, PAGE)).filter((t) => !seen.has(t.id));
      if (due.length === 0) return;
      for (const token of due) {
        seen.add(token.id);
        await act(token);
      }
    }
  }
}
