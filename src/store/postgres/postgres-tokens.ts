// Token statements whose logic lives in SQL: the revocation cascade and the
// parent check that keeps a child from being minted under a revoked parent.
import type pg from 'pg';
import type { TokenStatus } from '../records.js';
import { checkParent } from '../token-status.js';

/** Revokes a token and every descendant not yet revoked; returns the ids it changed. */
export const REVOKE_TREE = `
  WITH RECURSIVE tree (id) AS (
    SELECT $1::text COLLATE "C"
    UNION
    SELECT tokens.id FROM tokens JOIN tree ON tokens.parent_id = tree.id
  )
  UPDATE tokens SET status = 'revoked', updated_at = $2
  WHERE id IN (SELECT id FROM tree) AND status <> 'revoked'
  RETURNING id`;

export const SET_STATUS = 'UPDATE tokens SET status = $2, updated_at = $3 WHERE id = $1 AND status <> $2 RETURNING id';

/**
 * FOR SHARE conflicts with the row lock a revocation takes, so a child cannot
 * slip in beside a cascade that is running and be missed by it.
 */
export async function lockParent(client: pg.ClientBase, parentId: string): Promise<void> {
  const parent = await client.query<{ status: TokenStatus }>('SELECT status FROM tokens WHERE id = $1 FOR SHARE', [parentId]);
  checkParent(parentId, parent.rows[0]?.status);
}
