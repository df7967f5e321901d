import { createServer, type Server, type Socket } from 'node:net';
import type { ContractAnswer, ContractRequest, ContractTarget, ReasonAdapter, RequestShape } from '../../core/reason.contract.js';
import type { ReasonCode } from '../../errors/index.js';
import { contractFaults, type ContractFaults } from '../../gateway/testing/contract-faults.js';
import { freePort } from '../../gateway/testing/redis-server.js';
import { binding, envCredential } from '../../gateway/testing/world.js';
import { reasonOfMessage } from '../session/refusal.js';
import { Writer } from '../wire/writer.js';
import { build, RawClient, type Received } from './frames.js';
import { PgWorld, SERVICE } from './pg-world.js';

// The PostgreSQL adapter as the reason-code contract sees it: every request a
// new session (startup, the token as password, one statement), on a real
// database, with the real recorder writing through a switch that can fail.
// Limits count sessions, so each request is one use of the token.

const MAX_MESSAGE_BYTES = 64 * 1024;
const IN_FLIGHT = 2;
const GRANT = ['appdb:select:public.*', '!appdb:select:public.secrets', 'down:*', 'slow:*', 'keyless:*'];

const SCHEMA = `
  CREATE TABLE public.orders (id int PRIMARY KEY, total int NOT NULL);
  CREATE TABLE public.secrets (id int PRIMARY KEY, body text NOT NULL);
  INSERT INTO public.orders VALUES (1, 10);
`;

const REQUESTS: Record<Exclude<RequestShape, 'malformed_protocol' | 'too_large' | 'ambiguous'>, { database: string; sql: string }> = {
  granted: { database: SERVICE, sql: 'SELECT total FROM orders' },
  outside_grant: { database: SERVICE, sql: 'DELETE FROM orders' },
  denied: { database: SERVICE, sql: 'SELECT body FROM secrets' },
  unknown_service: { database: 'nope', sql: 'SELECT 1' },
  to_unreachable: { database: 'down', sql: 'SELECT 1' },
  to_slow: { database: 'slow', sql: 'SELECT 1' },
  to_no_credential: { database: 'keyless', sql: 'SELECT 1' },
};

function errorOf(received: readonly Received[]): { code: ReasonCode; raw: string } | null {
  for (const { message } of received) {
    if (message.name !== 'error') continue;
    const text = message.fields.get('M') ?? '';
    return { code: (reasonOfMessage(text) ?? 'internal_error') as ReasonCode, raw: `${message.fields.get('C')} ${text}` };
  }
  return null;
}

async function session(port: number, token: string | undefined, database: string, frame: Buffer): Promise<ContractAnswer> {
  const client = await RawClient.login(port, token ?? '', database);
  try {
    const refused = errorOf(client.received);
    if (refused !== null) return { ...refused, retryAfterSeconds: null };
    const start = client.received.length;
    client.send(frame);
    await client.until((r) => r.slice(start).some((x) => x.message.name === 'readyForQuery'));
    const answer = errorOf(client.received.slice(start));
    return answer === null ? { code: 'allowed', raw: 'allowed' } : { ...answer, retryAfterSeconds: null };
  } finally {
    client.close();
  }
}

/** Accepts connections and never answers: the upstream_timeout case. */
async function silentServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    close: () => new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    }),
  };
}

async function setup(): Promise<ContractTarget> {
  delete process.env.PROD_KEYLESS_SECRET;
  const silent = await silentServer();
  const closedPort = await freePort();
  let faults: ContractFaults | null = null;
  const world = await PgWorld.start(SCHEMA, { maxMessageBytes: MAX_MESSAGE_BYTES, connectTimeoutMs: 500 }, {
    services: async (w) => {
      await w.addService('down', [binding('prod', `postgres://127.0.0.1:${closedPort}/x?user=postgres`)], { kind: 'postgres' });
      await w.addService('slow', [binding('prod', `postgres://127.0.0.1:${silent.port}/x?user=postgres`)], { kind: 'postgres' });
      await w.addService('keyless', [binding('prod', 'postgres://127.0.0.1:5432/x?user=postgres', envCredential('PROD_KEYLESS_SECRET'))], { kind: 'postgres' });
      await w.addService('other', [binding('staging', 'postgres://127.0.0.1:5432/x?user=postgres')], { kind: 'postgres' });
      faults = contractFaults(w);
    },
    gateway: () => ({ recorder: faults!.recorder, limits: { maxInFlightPerToken: IN_FLIGHT } }),
  });
  world.world.onCleanup(() => silent.close());
  const f = faults!;
  const port = world.port;

  const request = async (req: ContractRequest): Promise<ContractAnswer> => {
    switch (req.shape) {
      case 'malformed_protocol': {
        // A startup packet of protocol 9.0: nothing a token could be read from.
        const client = await RawClient.open(port);
        try {
          client.send(new Writer(null).int32(9 << 16).byte(0).finish());
          await client.until(() => client.closed || client.received.length > 0);
          return { ...errorOf(client.received)!, retryAfterSeconds: null };
        } finally {
          client.close();
        }
      }
      case 'too_large':
        return session(port, req.token, SERVICE, build.query(`SELECT '${'x'.repeat(MAX_MESSAGE_BYTES * 2)}'`));
      case 'ambiguous':
        throw new Error('declared unsupported');
      default: {
        const shape = REQUESTS[req.shape];
        return session(port, req.token, shape.database, build.query(shape.sql));
      }
    }
  };

  return {
    env: 'prod',
    otherEnv: 'staging',
    now: () => world.world.now,
    advance: (ms) => {
      world.world.now += ms;
    },
    issue: async (overrides = {}) => {
      const { token, record } = await world.world.issue({ permissions: GRANT, ...overrides });
      return { token, id: record.id };
    },
    request,
    auditedDecisions: f.auditedDecisions,
    fillInFlight: async (token) => {
      const held = await Promise.all(Array.from({ length: IN_FLIGHT }, () => RawClient.login(port, token, SERVICE)));
      return async () => {
        for (const client of held) client.close();
        const deadline = Date.now() + 20_000;
        while (world.pg.sessions > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
      };
    },
    breakStore: f.breakStore,
    breakAudit: f.breakAudit,
    healAudit: f.healAudit,
    close: () => world.close(),
  };
}

export const postgresReasonAdapter: ReasonAdapter = {
  saysRetryAfter: false,
  unsupported: {
    request_ambiguous: 'SQL has no second reading the gateway could refuse to pick: what the analyzer cannot interpret is refused invalid_request (src/postgres/sql)',
    internal_error: "answers a bug (the limiter's promise rejected, a session error), which no real request can produce",
  },
  setup,
};
