import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { binding, envCredential, GatewayWorld } from '../../gateway/testing/world.js';
import { loadSqlParser, postgresConnector, startPostgresGateway, type PostgresGateway } from '../index.js';
import { startPrivateCluster, type PrivateCluster } from '../testing/private-cluster.js';
import { build, RawClient, summary } from '../testing/frames.js';

// The gateway's login to an upstream that asks for a password, by each method
// PostgreSQL has for it, on a cluster of the test's own: cleartext, md5 and
// SCRAM-SHA-256 with the binding's credential; a wrong password is refused
// upstream_unreachable (the upstream said no), and never shown to the client.

const METHODS = [['cleartext_role', 'password'], ['md5_role', 'md5'], ['scram_role', 'scram-sha-256']] as const;

let cluster: PrivateCluster;
let world: GatewayWorld;
let gateway: PostgresGateway;

beforeAll(async () => {
  await loadSqlParser();
  cluster = await startPrivateCluster(METHODS.map(([role, method]) => `host all ${role} 127.0.0.1/32 ${method}`));
  cluster.sql("SET password_encryption = 'md5'; CREATE ROLE md5_role LOGIN PASSWORD 'md5-secret'");
  cluster.sql("CREATE ROLE cleartext_role LOGIN PASSWORD 'cleartext-secret'; CREATE ROLE scram_role LOGIN PASSWORD 'scram-secret'");
  cluster.sql('CREATE TABLE public.orders (id int PRIMARY KEY); INSERT INTO public.orders VALUES (1); GRANT SELECT ON public.orders TO PUBLIC');
  process.env.PROD_CLEARTEXT_PASSWORD = 'cleartext-secret';
  process.env.PROD_MD5_PASSWORD = 'md5-secret';
  process.env.PROD_SCRAM_PASSWORD = 'scram-secret';
  process.env.PROD_WRONG_PASSWORD = 'not-the-secret';
  world = await GatewayWorld.sqlite();
  const upstream = (role: string) => `postgres://127.0.0.1:${cluster.port}/postgres?user=${role}`;
  await world.addService('cleartext', [binding('prod', upstream('cleartext_role'), envCredential('PROD_CLEARTEXT_PASSWORD'))], { kind: 'postgres' });
  await world.addService('md5', [binding('prod', upstream('md5_role'), envCredential('PROD_MD5_PASSWORD'))], { kind: 'postgres' });
  await world.addService('scram', [binding('prod', upstream('scram_role'), envCredential('PROD_SCRAM_PASSWORD'))], { kind: 'postgres' });
  await world.addService('wrong', [binding('prod', upstream('scram_role'), envCredential('PROD_WRONG_PASSWORD'))], { kind: 'postgres' });
  await world.start({ connectors: [postgresConnector()] });
  gateway = await startPostgresGateway({ plane: world.gateway.plane, listen: { host: '127.0.0.1', port: 0 }, logger: world.logger, clock: world.clock });
}, 120_000);

afterAll(async () => {
  await gateway?.close();
  await world?.close();
  cluster?.stop();
}, 60_000);

describe('upstream password authentication', () => {
  it.each(['cleartext', 'md5', 'scram'])('%s: the gateway logs in with the binding\'s credential', async (service) => {
    const { token } = await world.issue({ permissions: [`${service}:select:public.orders`] });
    const client = await RawClient.login(gateway.address.port, token, service);
    try {
      expect(summary(await client.roundTrip(1, build.query('SELECT id FROM orders')))).toEqual(['T', 'D', 'complete:SELECT 1', 'ready:I']);
    } finally {
      client.close();
    }
  }, 60_000);

  it('a wrong upstream password is refused upstream_unreachable, the secret never in the answer', async () => {
    const { token } = await world.issue({ permissions: ['wrong:select:public.orders'] });
    const client = await RawClient.login(gateway.address.port, token, 'wrong');
    try {
      const error = client.received.find((r) => r.message.name === 'error')!.message;
      expect(error.name === 'error' && error.fields.get('M')).toBe('latchkey: upstream_unreachable: the upstream could not be reached');
      expect(Buffer.concat(client.received.map((r) => r.frame.bytes)).toString()).not.toContain('not-the-secret');
    } finally {
      client.close();
    }
  }, 60_000);
});
