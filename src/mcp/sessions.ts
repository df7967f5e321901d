// Which token opened each 2025-11-25 session (Mcp-Session-Id): a session is
// used only with the token that opened it, so a leaked session id is worth
// nothing with another token. Sessions the gateway did not see open (before a
// restart, or past the bound) are left to the upstream to refuse or accept.

const MAX_SESSIONS = 50_000;

export class SessionOwners {
  readonly #owners = new Map<string, string>();

  open(session: string, tokenId: string): void {
    if (this.#owners.has(session)) return;
    if (this.#owners.size >= MAX_SESSIONS) this.#owners.delete(this.#owners.keys().next().value as string);
    this.#owners.set(session, tokenId);
  }

  mayUse(session: string, tokenId: string): boolean {
    const owner = this.#owners.get(session);
    return owner === undefined || owner === tokenId;
  }

  close(session: string): void {
    this.#owners.delete(session);
  }
}
