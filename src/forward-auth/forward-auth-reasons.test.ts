// The reason-code contract (core/reason.contract.ts) run for the forward-auth
// adapter: every data-plane code it can produce, produced by a real check and
// audited; the ones it cannot, declared with why.
import { runReasonContract } from '../core/reason.contract.js';
import { forwardAuthReasonAdapter } from './testing/forward-auth-reason-adapter.js';

runReasonContract('forward-auth', forwardAuthReasonAdapter);
