import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYSTEM_ACTOR } from '../store/records.js';
import { PgWorld, refusalOf } from './testing/pg-world.js';

// Defence in depth: a token without any write permission gets a session the
// upstream itself holds read-only. Shown with a function the service allows
// that writes (nextval): the analyzer lets it through, PostgreSQL refuses it.

let world: PgWorld;

beforeAll(async () => {
  world = await PgWorld.start('CREATE TABLE public.orders (id int PRIMARY KEY); CREATE SEQUENCE public.order_ids', {}, {
    services: async (w) => {
      const service = (await w.store.getService('appdb'))!;
      await w.store.updateService({ ...service, sqlFunctions: ['nextval'] }, SYSTEM_ACTOR);
    },
  });
}, 60_000);

afterAll(async () => {
  await world?.close();
}, 60_000);

describe('read-only sessions', () => {
  it('a read-only token\'s session refuses a write the analyzer let through (25006), a writer\'s does not', async () => {
    const reader = (await world.issue(['appdb:select:public.orders'])).token;
    const writer = (await world.issue(['appdb:select:public.orders', 'appdb:insert:public.orders'])).token;
    const readOnly = await world.client(reader);
    try {
      const refused = await readOnly.query("SELECT nextval('order_ids')").then(() => null, refusalOf);
      expect(refused?.code).toBe('25006');
    } finally {
      await readOnly.end();
    }
    const readWrite = await world.client(writer);
    try {
      expect((await readWrite.query("SELECT nextval('order_ids') AS n")).rows).toEqual([{ n: '1' }]);
    } finally {
      await readWrite.end();
    }
  });
});
