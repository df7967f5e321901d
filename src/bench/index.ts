// `npm run bench`: every benchmark, each side by side with its baseline in the
// same run, on this machine. Pick some with `npm run bench -- policy gateway processes instructions audit audit-overhead audit-flood scan forward-auth sql pg mcp reports`.
const SUITES = {
  policy: async () => (await import('./policy.js')).runPolicyBench(),
  gateway: async () => (await import('./gateway.js')).runGatewayBench(),
  processes: async () => (await import('./processes.js')).runProcessesBench(),
  instructions: async () => (await import('./instructions.js')).runInstructionsBench(),
  audit: async () => (await import('./audit.js')).runAuditBench(),
  'audit-overhead': async () => (await import('./audit-overhead.js')).runAuditOverheadBench(),
  'audit-flood': async () => (await import('./audit-flood.js')).runAuditFloodBench(),
  scan: async () => (await import('./scan.js')).runScanBench(),
  'forward-auth': async () => (await import('./forward-auth.js')).runForwardAuthBench(),
  sql: async () => (await import('./sql.js')).runSqlBench(),
  pg: async () => (await import('./pg.js')).runPgBench(),
  mcp: async () => (await import('./mcp.js')).runMcpBench(),
  reports: async () => (await import('./reports.js')).runReportsBench(),
} as const;

type Suite = keyof typeof SUITES;

async function main(): Promise<void> {
  const asked = process.argv.slice(2);
  const unknown = asked.filter((name) => !(name in SUITES));
  if (unknown.length > 0) {
    process.stderr.write(`unknown benchmark ${unknown.join(', ')}; choose from ${Object.keys(SUITES).join(', ')}\n`);
    process.exitCode = 2;
    return;
  }
  const chosen = (asked.length === 0 ? Object.keys(SUITES) : asked) as Suite[];
  for (const name of chosen) {
    process.stdout.write(`\n== ${name} ==\n`);
    await SUITES[name]();
  }
}

await main();
