// The `Connection` field, on requests and responses alike (RFC 9110 §7.6.1):
// the fields it names are connection-specific, like the hop-by-hop ones.

/** Connection-specific fields whatever `Connection` says. */
export const HOP_BY_HOP: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'transfer-encoding', 'upgrade', 'trailer']);

/**
 * The fields `Connection` names beyond the hop-by-hop ones, lower-cased; null
 * when none, as for the usual `keep-alive` or `close`.
 */
export function nominatedFields(connection: string): Set<string> | null {
  let nominated: Set<string> | null = null;
  for (const part of connection.split(',')) {
    const field = part.trim().toLowerCase();
    if (field !== '' && field !== 'close' && !HOP_BY_HOP.has(field)) (nominated ??= new Set()).add(field);
  }
  return nominated;
}
