import { isMap, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node } from 'yaml';
import { containsSecret } from '../audit/redact.js';
import { latchkeyFile, type LatchkeyFile } from './file-format.js';

// Reading a latchkey.yaml (or .json: YAML is a superset of JSON) into a typed
// value, and every problem named by line and column. The file is checked for
// anything that looks like a secret first, so a pasted key is refused as a
// secret (never echoed back) rather than as an unknown field.

export type FilePath = ReadonlyArray<string | number>;

export interface Position {
  readonly line: number;
  readonly column: number;
}

/** A problem in the file, at a line and column; the message never quotes a value that looked like a secret. */
export class FileError extends Error {
  override readonly name = 'FileError';

  constructor(readonly source: string, readonly position: Position, readonly problem: string) {
    super(`${source}:${position.line}:${position.column}: ${problem}`);
  }
}

export interface LoadedFile {
  readonly source: string;
  readonly desired: LatchkeyFile;
  /** Where a value (or, with `key`, its key) is in the file; the nearest enclosing node when it is absent. */
  positionOf(path: FilePath, key?: boolean): Position;
}

// Keys that hold a secret value in other tools' files; here a credential is always a variable name or a path.
const SECRET_KEYS = new Set(['value', 'secret', 'secrets', 'password', 'passwd', 'token', 'apikey', 'privatekey', 'clientsecret', 'accesskey', 'secretkey']);
const URL_WITH_PASSWORD = /[a-z][a-z0-9+.-]*:\/\/[^\s/@:]*:[^\s/@]+@/i;
const NO_SECRETS = 'secrets never go into this file: name where the gateway reads it (credential: {env: VARIABLE} or {file: PATH})';

function secretProblem(text: string): string | null {
  if (containsSecret(text)) return `a value that looks like a secret (a Latchkey token or a Bearer/Basic credential); ${NO_SECRETS}`;
  if (URL_WITH_PASSWORD.test(text)) return `a URL with a password in it; ${NO_SECRETS}`;
  return null;
}

function nodeAt(document: Document, path: FilePath, key: boolean): Node | null {
  let node = document.contents as Node | null;
  for (const [index, part] of path.entries()) {
    if (isMap(node)) {
      const pair = node.items.find((item) => isScalar(item.key) && String(item.key.value) === String(part));
      if (pair === undefined) return node;
      const last = index === path.length - 1;
      if ((last && key) || pair.value === null) return pair.key as Node;
      node = pair.value as Node;
    } else if (isSeq(node) && typeof part === 'number' && node.items[part] !== undefined) {
      node = node.items[part] as Node;
    } else {
      return node;
    }
  }
  return node;
}

export function readLatchkeyFile(text: string, source: string): LoadedFile {
  const lines = new LineCounter();
  const document = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number): Position => {
    const { line, col } = lines.linePos(offset);
    return { line, column: col };
  };
  const [yamlError] = document.errors;
  if (yamlError !== undefined) throw new FileError(source, at(yamlError.pos[0]), yamlError.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, ''));

  let secret: FileError | null = null;
  visit(document, {
    Pair(_, pair) {
      if (secret !== null || !isScalar(pair.key)) return;
      const name = String(pair.key.value).toLowerCase().replace(/[-_]/g, '');
      if (SECRET_KEYS.has(name)) {
        secret = new FileError(source, at(pair.key.range![0]), `a "${String(pair.key.value).slice(0, 32)}:" key; ${NO_SECRETS}`);
      }
    },
    Scalar(_, scalar) {
      if (secret !== null || typeof scalar.value !== 'string') return;
      const problem = secretProblem(scalar.value);
      if (problem !== null) secret = new FileError(source, at(scalar.range![0]), problem);
    },
  });
  if (secret !== null) throw secret;

  const positionOf = (path: FilePath, key = false): Position => {
    const node = nodeAt(document, path, key);
    return at(node?.range?.[0] ?? 0);
  };
  const parsed = latchkeyFile.safeParse(document.toJS() ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.map(String);
    if (issue.code === 'unrecognized_keys') {
      const unknown = issue.keys[0]!;
      throw new FileError(source, positionOf([...field, unknown], true), `${[...field, unknown].join('.')}: unknown field ${JSON.stringify(unknown)}`);
    }
    const where = field.length === 0 ? 'file' : field.join('.');
    // A bad name (a record key) says what a name must be, as its own schema puts it.
    const message = issue.code === 'invalid_key' ? `invalid name: ${issue.issues[0]?.message ?? issue.message}` : issue.message;
    throw new FileError(source, positionOf(field, issue.code === 'invalid_key'), `${where}: ${message}`);
  }
  return { source, desired: parsed.data, positionOf };
}
