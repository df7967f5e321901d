import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { redactValue } from '../audit/redact.js';
import { postSigned, type SignedPostOptions } from '../audit/sinks/signed-post.js';
import type { AlertKind } from '../config/index.js';

// Alerts: what must wake someone. Each is logged at once (warn) and POSTed to
// every webhook subscribed to its kind, signed with X-Latchkey-Signature
// (HMAC-SHA256 of the body) and retried with backoff. Raising never blocks nor
// fails the request that raised it; how each delivery went is kept (the last
// RECENT_DELIVERIES) for GET /v1/alerts and counted in a metric.

export type { AlertKind } from '../config/index.js';

/** What the rest of Latchkey holds: the gateway calls `raise` too. */
export interface AlertRaiser {
  raise(kind: AlertKind, details: Readonly<Record<string, unknown>>): void;
}

/** What the admin API holds: raising, and the delivery status it shows. */
export interface AlertHandle extends AlertRaiser {
  recent(): readonly AlertDelivery[];
}

export interface AlertWebhook {
  readonly url: string;
  /** The HMAC key itself (read from its variable at start), never logged. */
  readonly secret: string;
  readonly kinds: readonly AlertKind[];
}

export interface AlertDelivery {
  readonly alertId: string;
  readonly kind: AlertKind;
  readonly url: string;
  status: 'pending' | 'delivered' | 'failed';
  readonly raisedAt: string;
  finishedAt: string | null;
  error: string | null;
}

export interface AlertsOptions {
  readonly logger: Logger;
  readonly webhooks?: readonly AlertWebhook[];
  readonly metrics?: Registry;
  readonly now?: () => number;
  /** Retry policy of each delivery (attempts, backoff); see postSigned. */
  readonly delivery?: Omit<SignedPostOptions, 'secret'>;
}

export const RECENT_DELIVERIES = 200;

function deliveryCounter(registry: Registry): Counter<string> {
  const name = 'latchkey_alert_deliveries_total';
  const existing = registry.getSingleMetric(name);
  if (existing instanceof Counter) return existing;
  return new Counter({ name, help: 'alert webhook deliveries by kind and outcome (delivered, failed)', labelNames: ['kind', 'outcome'], registers: [registry] });
}

export class Alerts implements AlertHandle {
  readonly #logger: Logger;
  readonly #webhooks: readonly AlertWebhook[];
  readonly #now: () => number;
  readonly #delivery: Omit<SignedPostOptions, 'secret'>;
  readonly #counter: Counter<string> | undefined;
  readonly #recent: AlertDelivery[] = [];
  readonly #inFlight = new Set<Promise<void>>();

  constructor(options: AlertsOptions) {
    this.#logger = options.logger;
    this.#webhooks = options.webhooks ?? [];
    this.#now = options.now ?? Date.now;
    this.#delivery = options.delivery ?? {};
    this.#counter = options.metrics === undefined ? undefined : deliveryCounter(options.metrics);
  }

  raise(kind: AlertKind, raised: Readonly<Record<string, unknown>>): void {
    // The raiser leaves secrets out; this is the last line, as for audit events.
    const details = redactValue(raised);
    const id = `alert_${randomBytes(8).toString('hex')}`;
    const time = new Date(this.#now()).toISOString();
    this.#logger.warn({ alert: kind, alertId: id, details }, `alert: ${kind}`);
    const body = JSON.stringify({ id, kind, time, details });
    for (const hook of this.#webhooks) {
      if (!hook.kinds.includes(kind)) continue;
      const delivery: AlertDelivery = { alertId: id, kind, url: hook.url, status: 'pending', raisedAt: time, finishedAt: null, error: null };
      this.#remember(delivery);
      const sent = this.#deliver(hook, body, delivery);
      this.#inFlight.add(sent);
      void sent.finally(() => this.#inFlight.delete(sent));
    }
  }

  /** Newest first. */
  recent(): readonly AlertDelivery[] {
    return [...this.#recent].reverse();
  }

  /** Waits for deliveries in flight (retries included), at most `timeoutMs`; for tests and shutdown. */
  async settle(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.#inFlight.size > 0 && Date.now() < deadline) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => { timer = setTimeout(resolve, Math.max(1, deadline - Date.now())); });
      await Promise.race([Promise.allSettled([...this.#inFlight]), timeout]);
      clearTimeout(timer);
    }
  }

  async #deliver(hook: AlertWebhook, body: string, delivery: AlertDelivery): Promise<void> {
    try {
      await postSigned(hook.url, body, { ...this.#delivery, secret: hook.secret, headers: { 'x-latchkey-alert': delivery.kind } });
      delivery.status = 'delivered';
    } catch (err) {
      delivery.status = 'failed';
      delivery.error = (err as Error).message;
      this.#logger.error({ alert: delivery.kind, alertId: delivery.alertId, url: hook.url, error: delivery.error }, 'alert delivery failed');
    }
    delivery.finishedAt = new Date(this.#now()).toISOString();
    this.#counter?.inc({ kind: delivery.kind, outcome: delivery.status });
  }

  #remember(delivery: AlertDelivery): void {
    this.#recent.push(delivery);
    if (this.#recent.length > RECENT_DELIVERIES) this.#recent.shift();
  }
}
