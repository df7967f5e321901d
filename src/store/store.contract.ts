// The contract every Store implementation passes, run by each implementation's
// test file (as hono runs one router suite over every router).
import { describe } from 'vitest';
import { auditCases } from './contract/audit-cases.js';
import type { OpenStore } from './contract/fixtures.js';
import { lifecycleCases } from './contract/lifecycle-cases.js';
import { paginationCases } from './contract/pagination-cases.js';
import { resourceCases } from './contract/resource-cases.js';
import { roleCases } from './contract/role-cases.js';
import { tokenCases } from './contract/token-cases.js';
import { tokenLifecycleCases } from './contract/token-lifecycle-cases.js';

export type { OpenedStore, OpenStore } from './contract/fixtures.js';

/** `open` gives a fresh, empty store for each case; `reopen` a second instance on the same one. */
export function runStoreContract(name: string, open: OpenStore): void {
  describe(`${name} store contract`, () => {
    resourceCases(open);
    roleCases(open);
    tokenCases(open);
    paginationCases(open);
    auditCases(open);
    lifecycleCases(open);
    tokenLifecycleCases(open);
  });
}
