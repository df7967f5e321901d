// RFC 8785 (JSON Canonicalization Scheme) for the values audit events hold:
// objects with keys sorted by UTF-16 code units, no whitespace, numbers in
// ECMAScript shortest form (what JSON.stringify already produces for finite numbers).
//
// Every audit event is serialized through this once when it is linked and once
// per verification, so it is written for speed (about three times faster on an
// audit event than entries/sort/map/join): plain strings are quoted without
// JSON.stringify, quoted keys are cached (events repeat the same dozen), and
// small key lists are insertion-sorted with `<`, which compares UTF-16 code
// units exactly as RFC 8785 asks.

// What JSON.stringify would escape: quote, backslash, control characters, and
// (to be safe with lone surrogates) any surrogate at all.
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;
const quotedKeys = new Map<string, string>();

function quote(text: string): string {
  return NEEDS_ESCAPE.test(text) ? JSON.stringify(text) : `"${text}"`;
}

function quoteKey(key: string): string {
  let quoted = quotedKeys.get(key);
  if (quoted === undefined) {
    quoted = JSON.stringify(key);
    // Bounded: keys come from event shapes, but a hostile admin value could bring many.
    if (quotedKeys.size < 1024) quotedKeys.set(key, quoted);
  }
  return quoted;
}

function sortKeys(keys: string[]): string[] {
  if (keys.length > 24) return keys.sort();
  for (let i = 1; i < keys.length; i++) {
    const key = keys[i]!;
    let j = i - 1;
    while (j >= 0 && keys[j]! > key) {
      keys[j + 1] = keys[j]!;
      j--;
    }
    keys[j + 1] = key;
  }
  return keys;
}

export function canonicalJson(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return quote(value);
    case 'number':
      if (!Number.isFinite(value)) throw new Error('canonical JSON has no representation for non-finite numbers');
      // For a finite number String() is JSON.stringify's form (ECMAScript Number::toString), without its overhead.
      return String(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object':
      if (value === null) return 'null';
      return Array.isArray(value) ? canonicalArray(value) : canonicalObject(value as Record<string, unknown>);
    default:
      throw new Error(`canonical JSON cannot represent a ${typeof value}`);
  }
}

function canonicalArray(items: readonly unknown[]): string {
  let out = '[';
  for (let i = 0; i < items.length; i++) {
    if (i > 0) out += ',';
    const item = items[i];
    out += item === undefined ? 'null' : canonicalJson(item);
  }
  return `${out}]`;
}

// Objects of one shape (the same keys in the same insertion order) are sorted
// once: audit events come in a handful of shapes, so the sort and the key
// quoting are done once per shape, not once per event. A few shapes only, so a
// hostile admin value with many shapes costs one failed comparison each.
interface Shape {
  readonly keys: readonly string[];
  readonly order: readonly string[];
  readonly prefixes: readonly string[];
  /** The last schema every key of this shape was found in (canonicalFlat's check, done once per shape). */
  schema?: FlatSchema;
  /** That schema's longest string for each key of `order` (Infinity: no limit). */
  maxLengths?: readonly number[];
}
const SHAPES = 8;
const shapes: Shape[] = [];
let nextShape = 0;

function shapeOf(object: Record<string, unknown>): Shape {
  const keys = Object.keys(object);
  const n = keys.length;
  search: for (let s = 0; s < shapes.length; s++) {
    const shape = shapes[s]!;
    const known = shape.keys;
    if (known.length !== n) continue;
    for (let i = 0; i < n; i++) if (known[i] !== keys[i]) continue search;
    return shape;
  }
  const order = sortKeys(keys.slice());
  const shape: Shape = { keys, order, prefixes: order.map((key) => `${quoteKey(key)}:`) };
  // Small objects sort in a few comparisons: only shapes worth remembering are kept.
  if (n >= 4) {
    shapes[nextShape] = shape;
    nextShape = (nextShape + 1) % SHAPES;
  }
  return shape;
}

function canonicalObject(object: Record<string, unknown>): string {
  const { order, prefixes } = shapeOf(object);
  let out = '{';
  for (let i = 0; i < order.length; i++) {
    const item = object[order[i]!];
    if (item === undefined) continue;
    out += out.length === 1 ? prefixes[i]! : `,${prefixes[i]!}`;
    out += canonicalJson(item);
  }
  return `${out}}`;
}

/** What canonicalFlat accepts: the keys an object may have, and how many characters a string under each may hold. */
export interface FlatSchema {
  readonly keys: ReadonlySet<string>;
  /** Most UTF-16 code units of a string value, by key; a key not here has no limit. */
  readonly maxLength: Readonly<Record<string, number>>;
}

/**
 * The canonical JSON of an object whose every key is in the schema, whose
 * every value is a string, number, boolean, null or undefined, and whose
 * every string is within its key's limit; undefined for any other object. One
 * pass that serializes and checks, for the fixed-shape decision details.
 */
export function canonicalFlat(object: Record<string, unknown>, schema: FlatSchema): string | undefined {
  const shape = shapeOf(object);
  if (shape.schema !== schema) {
    for (const key of shape.keys) if (!schema.keys.has(key)) return undefined;
    shape.schema = schema;
    shape.maxLengths = shape.order.map((key) => (Object.hasOwn(schema.maxLength, key) ? schema.maxLength[key]! : Number.POSITIVE_INFINITY));
  }
  const { order, prefixes } = shape;
  const maxLengths = shape.maxLengths!;
  let out = '{';
  for (let i = 0; i < order.length; i++) {
    const item = object[order[i]!];
    let text: string;
    switch (typeof item) {
      case 'undefined':
        continue;
      case 'string':
        if (item.length > maxLengths[i]!) return undefined;
        text = quote(item);
        break;
      case 'object':
        if (item !== null) return undefined;
        text = 'null';
        break;
      default:
        text = canonicalJson(item);
    }
    out += out.length === 1 ? prefixes[i]! : `,${prefixes[i]!}`;
    out += text;
  }
  return `${out}}`;
}
