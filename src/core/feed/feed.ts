import type { Logger } from 'pino';
import type { Change } from '../../store/store.js';
import type { FeedHealthView } from './feed-health.js';

export interface FeedHandlers {
  onChange(change: Change): void;
  /**
   * The feed reconnected after a loss: changes may have been missed, so every
   * cached decision must be dropped and the service table reloaded.
   */
  onResync(): void;
}

/** A source of store changes for one gateway node. */
export interface ChangeFeed {
  readonly kind: 'local' | 'postgres' | 'redis';
  readonly health: FeedHealthView;
  start(handlers: FeedHandlers): Promise<void>;
  close(): Promise<void>;
}

/** A feed from another process (PostgreSQL LISTEN, Redis pub/sub). */
export interface RemoteFeedOptions {
  readonly url: string;
  readonly logger: Logger;
  readonly maxStalenessMs: number;
  /** How often the connection proves it is alive. Default 1,000 ms. */
  readonly heartbeatMs?: number;
  readonly clock?: () => number;
}

const CHANGE_TYPES = new Set(['token', 'role', 'service', 'environment']);

/**
 * Parses a change received from another process. Anything unexpected yields
 * undefined, which the caller treats as "something changed": flush everything.
 */
export function parseChange(payload: string): Change | undefined {
  let value: unknown;
  try {
    value = JSON.parse(payload);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const change = value as Record<string, unknown>;
  if (typeof change.type !== 'string' || !CHANGE_TYPES.has(change.type)) return undefined;
  if (change.type === 'token') {
    const ids = change.ids;
    if (!Array.isArray(ids) || !ids.every((id) => typeof id === 'string')) return undefined;
    return { type: 'token', ids };
  }
  if (typeof change.name !== 'string') return undefined;
  return { type: change.type as 'role' | 'service' | 'environment', name: change.name };
}
