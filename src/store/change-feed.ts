import type { Change } from './store.js';

/** PostgreSQL refuses NOTIFY payloads of 8,000 bytes or more; stay well under it. */
export const MAX_NOTIFY_BYTES = 7000;

/** Listeners of one Store instance. A listener that throws is reported, never allowed to fail the change. */
export class ChangeFeed {
  readonly #listeners = new Set<(change: Change) => void>();

  subscribe(listener: (change: Change) => void): () => void {
    // A wrapper per subscription, so subscribing one function twice gives two independent subscriptions.
    const entry = (change: Change): void => listener(change);
    this.#listeners.add(entry);
    return () => {
      this.#listeners.delete(entry);
    };
  }

  emit(change: Change): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(change);
      } catch (error) {
        process.emitWarning(`a store change listener threw: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
  }
}

/**
 * The NOTIFY payloads that carry a change: one, except for a token change whose
 * id list is too long for one payload, which is split across several.
 */
export function changePayloads(change: Change): string[] {
  const whole = JSON.stringify(change);
  if (change.type !== 'token' || Buffer.byteLength(whole) <= MAX_NOTIFY_BYTES) return [whole];
  const payloads: string[] = [];
  let ids: string[] = [];
  // Bytes of `{"type":"token","ids":[]}` plus, per id, its JSON form and a comma.
  const frame = Buffer.byteLength(JSON.stringify({ type: 'token', ids: [] }));
  let size = frame;
  for (const id of change.ids) {
    const cost = Buffer.byteLength(JSON.stringify(id)) + 1;
    if (ids.length > 0 && size + cost > MAX_NOTIFY_BYTES) {
      payloads.push(JSON.stringify({ type: 'token', ids }));
      ids = [];
      size = frame;
    }
    ids.push(id);
    size += cost;
  }
  if (ids.length > 0) payloads.push(JSON.stringify({ type: 'token', ids }));
  return payloads;
}
