import { z } from 'zod';
import { overprivilegedReport, unusedReport } from '../../reports/index.js';
import { envName } from '../input.js';
import { route } from '../route.js';

// Least-privilege reports over the usage totals and the daily usage rollup of a window (never the audit trail).

const reportQuery = z.strictObject({
  days: z.coerce.number().int().min(1).max(3650).default(30),
  env: envName.optional(),
});

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export const reportRoutes = [
  route<undefined, z.infer<typeof reportQuery>>({
    method: 'GET', path: '/v1/reports/unused', action: 'reports.read', tag: 'reports', status: 200,
    summary: 'Live tokens not used within the window (or never)', query: reportQuery,
    envOf: ({ query }) => query.env,
    handle: async ({ query }, context) => {
      const items = await unusedReport(context.store, { days: query.days, now: context.now(), ...(query.env !== undefined && { env: query.env }) });
      return { days: query.days, items: items.map((t) => ({ ...t, createdAt: iso(t.createdAt), expiresAt: iso(t.expiresAt), lastUsed: iso(t.lastUsed) })) };
    },
  }),
  route<undefined, z.infer<typeof reportQuery>>({
    method: 'GET', path: '/v1/reports/overprivileged', action: 'reports.read', tag: 'reports', status: 200,
    summary: 'Tokens holding permissions not exercised within the window, with a suggested minimal grant', query: reportQuery,
    envOf: ({ query }) => query.env,
    handle: async ({ query }, context) => ({
      days: query.days,
      items: await overprivilegedReport(context.store, { days: query.days, now: context.now(), ...(query.env !== undefined && { env: query.env }) }),
    }),
  }),
];
