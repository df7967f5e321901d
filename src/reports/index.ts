// Least-privilege insight: unused tokens, permissions never exercised with a
// suggested minimal grant, and the what-if replay that narrowing runs first.
export { DAY_MS, overprivilegedReport, planNarrow, unusedReport, type NarrowPlan, type OverprivilegedToken, type ReportWindow, type UnusedToken } from './reports.js';
export { replay, type ReplayResult } from './replay.js';
export { suggestGrant } from './suggest.js';
