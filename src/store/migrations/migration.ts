/** One schema change. Versions only grow; a released migration is never edited, only followed by another. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/** The migrations of `all` not yet in `applied`, in version order. */
export function pendingMigrations(all: readonly Migration[], applied: ReadonlySet<number>): Migration[] {
  return [...all].sort((a, b) => a.version - b.version).filter((m) => !applied.has(m.version));
}
