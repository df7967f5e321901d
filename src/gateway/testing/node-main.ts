import { pathToFileURL } from 'node:url';
import type { AuditRecorder } from '../../audit/recorder.js';
import { TokenHasher } from '../../token/index.js';
import { runGatewayNode, type GatewayNodeOptions } from '../node.js';

// A gateway node as its own process, for the multi-node tests and the
// benchmark: `node build/gateway/testing/node-main.js '<json options>'`, where the JSON
// holds GatewayNodeOptions with `hashKey` (base64) instead of a hasher. Prints
// one JSON line with the bound ports when listening; answers `{cmd:'cpu'}` on
// the IPC channel with its CPU usage; exits cleanly on SIGTERM or SIGINT.

type NodeProcessOptions = Omit<GatewayNodeOptions, 'hasher' | 'recorder'> & {
  readonly hashKey: string;
  /** Benchmarks only: decision events are counted and dropped, to tell the audit log's cost from the gateway's. */
  readonly benchDiscardAudit?: boolean;
};

/** Accepts every event and keeps none. Never used outside the benchmark's attribution run. */
function discardingRecorder(): AuditRecorder {
  return { accepting: true, failMode: 'open', foldableKeys: 0, record() {}, recordUnhurried() {}, fold() {}, flush: async () => {}, durable: async () => true, durableUnhurried: async () => true, close: async () => {} };
}

export async function main(argument: string): Promise<void> {
  const { hashKey, benchDiscardAudit, ...options } = JSON.parse(argument) as NodeProcessOptions;
  const node = await runGatewayNode({
    ...options,
    hasher: new TokenHasher(Buffer.from(hashKey, 'base64')),
    ...(benchDiscardAudit === true ? { recorder: discardingRecorder() } : {}),
  });
  process.stdout.write(`${JSON.stringify({ listening: true, port: node.gateway.address.port, opsPort: node.opsAddress?.port ?? null })}\n`);
  process.on('message', (message: { cmd?: string }) => {
    if (message.cmd === 'cpu') process.send?.({ cpu: process.cpuUsage() });
  });
  const stop = (): void => {
    node.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv[2] ?? '{}').catch((err: Error) => {
    process.stderr.write(`gateway node failed to start: ${err.message}\n`);
    process.exit(1);
  });
}
