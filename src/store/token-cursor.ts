import { invalid } from '../errors/index.js';

/** The most tokens one page returns, whatever the caller asks for. */
export const MAX_TOKEN_PAGE = 500;

/** Where a page of tokens ends in the stable order (created_at, id). */
export interface TokenCursor {
  readonly createdAt: number;
  readonly id: string;
}

export function encodeCursor(cursor: TokenCursor): string {
  return Buffer.from(JSON.stringify([cursor.createdAt, cursor.id])).toString('base64url');
}

/** Cursors come back from clients, so anything that is not one we made is a 400. */
export function decodeCursor(text: string): TokenCursor {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw invalid('cursor', 'is not a cursor this server issued');
  }
  if (!Array.isArray(value) || value.length !== 2 || !Number.isSafeInteger(value[0]) || typeof value[1] !== 'string') {
    throw invalid('cursor', 'is not a cursor this server issued');
  }
  return { createdAt: value[0] as number, id: value[1] };
}

export function pageLimit(limit: number): number {
  if (!Number.isFinite(limit) || limit < 1) return 1;
  return Math.min(Math.floor(limit), MAX_TOKEN_PAGE);
}
