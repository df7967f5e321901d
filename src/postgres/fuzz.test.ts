import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build, RawClient, summary } from './testing/frames.js';
import { PgWorld } from './testing/pg-world.js';

// Wire fuzzing against the running gateway: random and mutated frames
// (lengths, types, truncations, flipped bytes), before and after login. The
// gateway must never crash, must answer every later client normally, and
// nothing may reach the upstream unauthorized: before login no upstream
// connection is opened at all, and the canary table never changes.

const SCHEMA = `
  CREATE TABLE public.orders (id int PRIMARY KEY, total int NOT NULL);
  CREATE TABLE public.canary (id int PRIMARY KEY, note text NOT NULL);
  INSERT INTO public.orders VALUES (1, 10);
  INSERT INTO public.canary VALUES (1, 'untouched');
`;

let world: PgWorld;
let token: string;

beforeAll(async () => {
  world = await PgWorld.start(SCHEMA, { startupTimeoutMs: 2000 });
  token = (await world.issue(['appdb:select:public.orders'])).token;
}, 60_000);

afterAll(async () => {
  await world?.close();
}, 60_000);

/** Writes `bytes` then ends the connection, and waits until the gateway has closed its side. */
async function hurlAndHangUp(client: RawClient, ...frames: Buffer[]): Promise<void> {
  client.socket.end(Buffer.concat(frames));
  await client.until(() => client.closed, 20_000);
}

const mutation = fc.record({
  base: fc.constantFrom(
    build.query('DELETE FROM canary'), build.query('UPDATE canary SET note = $$x$$'), build.query('SELECT 1 FROM orders'),
    build.parse('s', 'DELETE FROM canary'), build.parse('', 'INSERT INTO canary VALUES (2, $$y$$)'),
    build.bind('', 's'), build.execute(), build.describe('S', 's'), build.close('P', ''), build.flush(),
    Buffer.concat([build.parse('', 'SELECT 1 FROM orders'), build.bind('', ''), build.execute()]),
  ),
  edits: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
  cut: fc.option(fc.nat(), { nil: undefined }),
});

function mutate({ base, edits, cut }: { base: Buffer; edits: Array<[number, number]>; cut: number | undefined }): Buffer {
  const bytes = Buffer.from(base);
  for (const [at, value] of edits) bytes[at % bytes.length] = value;
  return cut === undefined ? bytes : bytes.subarray(0, cut % (bytes.length + 1));
}

async function waitFor(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('wire fuzzing', () => {
  it('random bytes before login: the gateway answers or closes, opens no upstream connection, and still serves', async () => {
    await fc.assert(fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 96 }), fc.boolean(), async (bytes, asStartup) => {
      const client = await RawClient.open(world.port);
      try {
        const prefix = asStartup ? Buffer.alloc(0) : build.startup({ user: 'x', database: 'appdb' });
        await hurlAndHangUp(client, prefix, Buffer.from(bytes));
      } finally {
        client.close();
      }
    }), { numRuns: 100 });
    expect(await world.upstreamConnections()).toBe(0);
    const check = await RawClient.login(world.port, token, 'appdb');
    expect(summary(await check.roundTrip(1, build.query('SELECT total FROM orders')))).toEqual(['T', 'D', 'complete:SELECT 1', 'ready:I']);
    check.close();
  }, 180_000);

  it('mutated frames after login never change the canary; the gateway stays up', async () => {
    await fc.assert(fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 4 }), async (mutations) => {
      const client = await RawClient.login(world.port, token, 'appdb');
      try {
        await hurlAndHangUp(client, ...mutations.flatMap((m) => [mutate(m), build.sync()]));
      } finally {
        client.close();
      }
    }), { numRuns: 100 });
    await waitFor(() => world.pg.sessions === 0);
    const canary = await world.direct(async (c) => (await c.query('SELECT id, note FROM canary ORDER BY id')).rows);
    expect(canary).toEqual([{ id: 1, note: 'untouched' }]);
    const check = await RawClient.login(world.port, token, 'appdb');
    expect(summary(await check.roundTrip(1, build.query('SELECT total FROM orders')))).toEqual(['T', 'D', 'complete:SELECT 1', 'ready:I']);
    check.close();
  }, 300_000);

  it('an oversize frame ends the connection with 08P01 before its body is read', async () => {
    const client = await RawClient.login(world.port, token, 'appdb');
    try {
      client.send(Buffer.from([0x51, 0x7f, 0xff, 0xff, 0xff]));
      await client.until(() => client.closed);
      expect(summary(client.received).at(-1)).toBe('error:08P01');
    } finally {
      client.close();
    }
  });
});
