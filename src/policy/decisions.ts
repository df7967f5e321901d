// Decision values. Allows and matched denies are built once per permission at
// compile time and returned as they are, so a decision allocates nothing. A
// denial with no matching deny must say which allow came closest and why it
// did not match; that costs a scan of the grant, so it is done on first read.

import type { Decision, Permission } from './types.js';

export function allowDecision(permission: Permission): Decision {
  return Object.freeze({
    allowed: true,
    reason: 'allowed',
    matched: permission.text,
    nearest: null,
    explanation: `allowed by ${permission.text}`,
  });
}

export function denyDecision(permission: Permission): Decision {
  return Object.freeze({
    allowed: false,
    reason: 'permission_denied',
    matched: permission.text,
    nearest: null,
    explanation: `denied by ${permission.text} (a deny wins over any allow)`,
  });
}

/** A denial that no allow comes close to, with the reason spelled out. */
export function plainDenial(explanation: string): Decision {
  return Object.freeze({ allowed: false, reason: 'permission_denied', matched: null, nearest: null, explanation });
}

export interface NearestAllow {
  readonly nearest: string | null;
  readonly explanation: string;
}

/**
 * A denial by default (no permission matched). `nearest` and `explanation`
 * are computed on first read and kept. They are getters, so spreading this
 * object drops them: copy the fields by name, or use JSON (`toJSON` has them).
 */
export class DefaultDenial implements Decision {
  readonly allowed = false;
  readonly reason = 'permission_denied';
  readonly matched = null;
  #explain: (() => NearestAllow) | null;
  #result: NearestAllow | null = null;

  constructor(explain: () => NearestAllow) {
    this.#explain = explain;
  }

  #resolve(): NearestAllow {
    if (this.#result === null) {
      this.#result = (this.#explain as () => NearestAllow)();
      this.#explain = null;
    }
    return this.#result;
  }

  get nearest(): string | null {
    return this.#resolve().nearest;
  }

  get explanation(): string {
    return this.#resolve().explanation;
  }

  toJSON(): Decision {
    return { allowed: false, reason: this.reason, matched: null, nearest: this.nearest, explanation: this.explanation };
  }
}

/** A plain, frozen copy of any decision (resolves a DefaultDenial's lazy fields). */
export function plainDecision(decision: Decision): Decision {
  const { allowed, reason, matched, nearest, explanation } = decision;
  return Object.freeze({ allowed, reason, matched, nearest, explanation });
}
