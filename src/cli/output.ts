// What a person reads: aligned tables and `key: value` blocks. With --json,
// the API's own JSON, one document, for scripts.

export interface Output {
  readonly json: boolean;
  print(value: unknown, human: () => string): void;
}

export function createOutput(json: boolean, write: (text: string) => void = (t) => process.stdout.write(t)): Output {
  return {
    json,
    print(value, human) {
      write(json ? `${JSON.stringify(value, null, 2)}\n` : `${human()}\n`);
    },
  };
}

function cell(value: unknown): string {
  if (value === null || value === undefined) return '-';
  if (Array.isArray(value)) return value.length === 0 ? '-' : value.join(',');
  if (typeof value === 'object') return JSON.stringify(value);
  // Control characters never reach the terminal as such.
  return String(value).replace(/[\u0000-\u001f\u007f]/g, '?');
}

export function table(rows: readonly Record<string, unknown>[], columns: readonly string[]): string {
  if (rows.length === 0) return '(none)';
  const cells = rows.map((row) => columns.map((column) => cell(row[column])));
  const widths = columns.map((column, i) => Math.max(column.length, ...cells.map((r) => r[i]!.length)));
  const line = (values: readonly string[]) => values.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(columns.map((c) => c.toUpperCase())), ...cells.map(line)].join('\n');
}

export function block(record: Record<string, unknown>): string {
  const keys = Object.keys(record);
  const width = Math.max(...keys.map((k) => k.length));
  return keys.map((key) => `${`${key}:`.padEnd(width + 1)} ${cell(record[key])}`).join('\n');
}
