import type { TokenRecord } from '../store/records.js';

// What a found token means to whoever found it. "Live" is anything that works
// now or could work later without being reissued: a disabled token can be
// enabled again and a not-yet-valid one will start working, so both must be revoked.

export type LeakState = 'active' | 'disabled' | 'not_yet_valid' | 'expired' | 'revoked' | 'unknown' | 'honeytoken';

export function leakState(record: TokenRecord | undefined, now: number): LeakState {
  if (record === undefined) return 'unknown';
  if (record.honey) return 'honeytoken';
  if (record.status === 'revoked') return 'revoked';
  if (record.expiresAt <= now) return 'expired';
  if (record.status === 'disabled') return 'disabled';
  if (record.notBefore !== null && record.notBefore > now) return 'not_yet_valid';
  return 'active';
}

export function isLive(state: LeakState): boolean {
  return state === 'active' || state === 'disabled' || state === 'not_yet_valid';
}
