// Issue 12: the official MCP conformance suite (@modelcontextprotocol/conformance,
// server mode, every scenario) run at 2025-11-25 and at 2026-07-28 against its
// own everything-server, directly and through the gateway with an allow-all
// token, scores check for check the same, but for the differences recorded in
// conformance-baseline.json with their reasons. A baseline entry that no longer
// differs as recorded fails the test too, so the baseline stays honest.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { binding, GatewayWorld } from '../gateway/testing/world.js';
import { node22, runConformance, startBearerRelay, startEverythingServer, type Running, type SuiteResult } from './testing/conformance-suite.js';

const SPEC_VERSIONS = ['2025-11-25', '2026-07-28'] as const;

interface ExpectedDifference {
  readonly specVersion: string;
  /** `<scenario>:<check id>`, as the suite names it. */
  readonly check: string;
  readonly direct: readonly string[];
  readonly throughLatchkey: readonly string[];
  readonly reason: string;
}

const baseline = (JSON.parse(readFileSync(new URL('./conformance-baseline.json', import.meta.url), 'utf8')) as { expected: ExpectedDifference[] }).expected;

/** Every way the two runs disagree with each other or with the baseline, one line each. */
function disagreements(specVersion: string, direct: SuiteResult, through: SuiteResult): string[] {
  const expected = new Map(baseline.filter((entry) => entry.specVersion === specVersion).map((entry) => [entry.check, entry]));
  const problems: string[] = [];
  const show = (statuses: readonly string[] | undefined): string => (statuses === undefined ? '(absent)' : statuses.join(','));
  for (const check of [...new Set([...direct.keys(), ...through.keys(), ...expected.keys()])].sort()) {
    const got = { direct: show(direct.get(check)), through: show(through.get(check)) };
    const entry = expected.get(check);
    if (entry === undefined) {
      if (got.direct !== got.through) problems.push(`${check}: direct ${got.direct}, through Latchkey ${got.through} (not in the baseline)`);
    } else if (got.direct !== show(entry.direct) || got.through !== show(entry.throughLatchkey)) {
      problems.push(`${check}: direct ${got.direct}, through Latchkey ${got.through}, but the baseline records ${show(entry.direct)} and ${show(entry.throughLatchkey)}: update or remove the entry`);
    }
  }
  return problems;
}

let node: string;
let server: Running;
let relay: Running;
let world: GatewayWorld;

beforeAll(async () => {
  // Fails, never skips, when Node 22 cannot be had (it is fetched from the npm registry once).
  node = await node22();
  server = await startEverythingServer(node);
  world = await GatewayWorld.sqlite();
  world.onCleanup(() => server.close());
  await world.addService('conf', [binding('prod', server.url)], { kind: 'mcp' });
  await world.start();
  const { token } = await world.issue({ permissions: ['conf:*'] });
  relay = await startBearerRelay(world.base, token);
  world.onCleanup(() => relay.close());
}, 300_000);

afterAll(async () => {
  await world?.close();
  await server?.close();
}, 60_000);

describe('the official MCP conformance suite, directly and through Latchkey with an allow-all token', () => {
  it('has a baseline whose every entry names a spec version this test runs and says why', () => {
    for (const entry of baseline) {
      expect(SPEC_VERSIONS).toContain(entry.specVersion);
      expect(entry.check).toMatch(/^[a-z0-9-]+:[a-z0-9-]+$/);
      expect(entry.reason.length).toBeGreaterThan(20);
    }
  });

  it.each(SPEC_VERSIONS)('scores check for check the same at %s, but for the baseline', async (specVersion) => {
    const before = (await world.decisions()).length;
    const direct = await runConformance(node, `${server.url}/mcp`, specVersion);
    const through = await runConformance(node, `${relay.url}/conf/mcp`, specVersion);
    expect(disagreements(specVersion, direct, through)).toEqual([]);
    // The suite ran for real, and through the gateway: a decision for each request, most of them allowed
    // (the suite sends some bad requests on purpose, which the gateway refuses as the upstream would).
    expect(direct.size).toBeGreaterThan(50);
    const decisions = (await world.decisions()).slice(before);
    expect(decisions.filter((event) => event.reason === 'allowed').length).toBeGreaterThan(50);
    // A stream the suite closes (subscriptions/listen, GET) is the client's doing, not an upstream failure.
    expect(decisions.filter((event) => String(event.reason).startsWith('upstream_')).map((event) => event.action)).toEqual([]);
  }, 300_000);
});
