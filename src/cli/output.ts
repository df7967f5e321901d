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
  if (Array.isArray(value)) return value.length === 0 ? '-' : value.map(inline).join(',');
  return inline(value);
}

/** One value on one line: an object as `key=value` pairs, never `[object Object]`. */
function inline(value: unknown): string {
  if (value === null || value === undefined) return '-';
  if (Array.isArray(value)) return `[${value.map(inline).join(',')}]`;
  if (typeof value === 'object') {
    return Object.entries(value as Record<string, unknown>).map(([key, field]) => `${key}=${nested(field)}`).join(' ');
  }
  return text(value);
}

function nested(value: unknown): string {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? `{${inline(value)}}` : inline(value);
}

function text(value: unknown): string {
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

/** `key: value` lines; a list of records (a service's bindings) gets one indented line per record. */
export function block(record: Record<string, unknown>): string {
  const keys = Object.keys(record);
  const width = Math.max(...keys.map((k) => k.length));
  return keys.map((key) => {
    const value = record[key];
    const label = `${key}:`.padEnd(width + 1);
    if (Array.isArray(value) && value.length > 0 && value.every((item) => typeof item === 'object' && item !== null)) {
      return [label.trimEnd(), ...value.map((item) => `  - ${inline(item)}`)].join('\n');
    }
    return `${label} ${cell(value)}`;
  }).join('\n');
}

/** A span as a person says it: "in 3 days", "2 hours ago". */
export function inWords(ms: number): string {
  const span = Math.abs(ms);
  const units: Array<[string, number]> = [['day', 86_400_000], ['hour', 3_600_000], ['minute', 60_000]];
  const [unit, size] = units.find(([, size]) => span >= size) ?? ['minute', 60_000];
  const count = Math.max(1, Math.floor(span / size));
  const words = `${count} ${unit}${count === 1 ? '' : 's'}`;
  return ms >= 0 ? `in ${words}` : `${words} ago`;
}
