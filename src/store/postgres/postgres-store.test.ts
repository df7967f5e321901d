import { runStoreContract } from '../store.contract.js';
import { openPostgresStore } from './postgres-store.js';
import { useTestSchemas } from './test-schemas.js';

const schemas = useTestSchemas();

runStoreContract('postgres', async () => {
  const url = await schemas.newSchemaUrl();
  const store = await openPostgresStore({ url });
  return {
    store,
    reopen: () => openPostgresStore({ url }),
    cleanup: () => store.close(),
  };
});
