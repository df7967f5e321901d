// A cache key for one DML statement computed without the parser: the text
// with each numeric and string literal replaced by a marker, everything else
// byte for byte. In the simple protocol every statement comes with its own
// literals (`... WHERE aid = 57412`), so without it each one pays a parse
// (libpg-query's normalize) only to be told it has a known shape.
//
// It is sound only if every run it replaces is one whole literal token as
// PostgreSQL's lexer reads it, and the rest is kept as written: then two texts
// with one key are the same tokens but for literal values, which the analysis
// never reads (scope.ts). So it reads a deliberately small part of the lexical
// grammar and gives up (undefined: the caller takes the parser's path) on
// anything else:
//
//   - not one statement: a `;` with anything but whitespace after it;
//   - not SELECT, INSERT, UPDATE, DELETE, WITH, VALUES or TABLE first;
//   - comments (`--`, `/*`), `$` anywhere (parameters, dollar quoting), a
//     backslash, a NUL or any character outside printable ASCII and
//     space, tab, CR, LF;
//   - a string or quoted identifier left open; a string directly after a
//     letter, digit, `_` or `&` (E'', B'', X'', N'', U&'' are other tokens);
//     a literal directly followed by a letter, digit, `_`, `.`, quote or `$`
//     (trailing junk, `1e`, `0x1F`, `1_000`, `1..2`) or by another literal
//     (string continuation);
//   - a number directly after a letter, digit, `_` or `.` (`t.1`, `.5`);
//   - a quoted identifier after `&` (U&"..." reads its own escapes, and the
//     string after UESCAPE would change the name), or holding a control
//     character; the word UESCAPE.
//
// Double-quoted identifiers are kept as written, quotes included. The markers
// are control characters, which never survive into a key otherwise: one for
// an integer that fits 32 bits, one for any other number, one for a string —
// the token kinds PostgreSQL's lexer gives them (ICONST, FCONST, SCONST), so
// that texts with one key are the same token kinds and parse alike. (One
// exception, harmless: the grammar checks the value of `float(p)`'s precision,
// so `x::float(0)` shares the key of `x::float(1)` and the cached verdict;
// the upstream refuses it exactly as the gateway's own parse would.)

const INTEGER = '\u0001';
const NUMBER = '\u0003';
const STRING = '\u0002';
const INT32_MAX = 2_147_483_647;

const FIRST_WORDS: ReadonlySet<string> = new Set(['select', 'insert', 'update', 'delete', 'with', 'values', 'table']);

const enum Char {
  Tab = 9, Lf = 10, Cr = 13, Space = 32, Quote = 39, DoubleQuote = 34, Dollar = 36, Amp = 38, Dot = 46, Minus = 45, Slash = 47,
  Star = 42, Semicolon = 59, Backslash = 92, Underscore = 95, Zero = 48, Nine = 57, UpperE = 69, LowerE = 101, Plus = 43, Tilde = 126,
}

function isDigit(c: number): boolean {
  return c >= Char.Zero && c <= Char.Nine;
}

function isWordChar(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || isDigit(c) || c === Char.Underscore;
}

function isSpace(c: number): boolean {
  return c === Char.Space || c === Char.Tab || c === Char.Lf || c === Char.Cr;
}

/** After a literal: what may not follow it directly (it would be read into, or next to, the same token). */
function glued(c: number): boolean {
  return isWordChar(c) || c === Char.Dot || c === Char.Quote || c === Char.DoubleQuote || c === Char.Dollar;
}

/** The key of `sql`, or undefined when the text is outside what this lexer reads (see the header). */
export function literalKey(sql: string): string | undefined {
  const n = sql.length;
  let i = 0;
  while (i < n && isSpace(sql.charCodeAt(i))) i++;
  let w = i;
  while (w < n && isWordChar(sql.charCodeAt(w))) w++;
  if (w === i || !FIRST_WORDS.has(sql.slice(i, w).toLowerCase())) return undefined;
  let out = '';
  let copied = 0;
  // Whether the last token was a literal, for "a literal directly followed by another".
  let afterLiteral = false;
  while (i < n) {
    const c = sql.charCodeAt(i);
    if (isSpace(c)) {
      i++;
      continue;
    }
    if (c < 32 || c > Char.Tilde || c === Char.Dollar || c === Char.Backslash) return undefined;
    if (c === Char.Quote) {
      const before = i > 0 ? sql.charCodeAt(i - 1) : Char.Space;
      if (isWordChar(before) || before === Char.Amp || afterLiteral) return undefined;
      let j = i + 1;
      for (;;) {
        if (j >= n) return undefined;
        const d = sql.charCodeAt(j);
        if (d === Char.Quote) {
          if (j + 1 < n && sql.charCodeAt(j + 1) === Char.Quote) {
            j += 2;
            continue;
          }
          break;
        }
        if (d === Char.Backslash || d === 0) return undefined;
        j++;
      }
      j++;
      if (j < n && glued(sql.charCodeAt(j))) return undefined;
      out += sql.slice(copied, i) + STRING;
      copied = i = j;
      afterLiteral = true;
      continue;
    }
    if (isDigit(c)) {
      const before = i > 0 ? sql.charCodeAt(i - 1) : Char.Space;
      if (isWordChar(before) || before === Char.Dot || afterLiteral) return undefined;
      let j = i;
      while (j < n && isDigit(sql.charCodeAt(j))) j++;
      if (j < n && sql.charCodeAt(j) === Char.Dot) {
        j++;
        while (j < n && isDigit(sql.charCodeAt(j))) j++;
      }
      if (j < n && (sql.charCodeAt(j) === Char.LowerE || sql.charCodeAt(j) === Char.UpperE)) {
        let k = j + 1;
        if (k < n && (sql.charCodeAt(k) === Char.Plus || sql.charCodeAt(k) === Char.Minus)) k++;
        if (k >= n || !isDigit(sql.charCodeAt(k))) return undefined;
        while (k < n && isDigit(sql.charCodeAt(k))) k++;
        j = k;
      }
      if (j < n && glued(sql.charCodeAt(j))) return undefined;
      const text = sql.slice(i, j);
      const integer = /^\d+$/.test(text) && Number(text) <= INT32_MAX;
      out += sql.slice(copied, i) + (integer ? INTEGER : NUMBER);
      copied = i = j;
      afterLiteral = true;
      continue;
    }
    afterLiteral = false;
    if (c === Char.DoubleQuote) {
      if (i > 0 && sql.charCodeAt(i - 1) === Char.Amp) return undefined;
      let j = i + 1;
      for (;;) {
        if (j >= n) return undefined;
        const d = sql.charCodeAt(j);
        if (d < 32 && !isSpace(d)) return undefined;
        if (d === Char.DoubleQuote) {
          if (j + 1 < n && sql.charCodeAt(j + 1) === Char.DoubleQuote) {
            j += 2;
            continue;
          }
          break;
        }
        j++;
      }
      i = j + 1;
      continue;
    }
    if (c === Char.Minus && i + 1 < n && sql.charCodeAt(i + 1) === Char.Minus) return undefined;
    if (c === Char.Slash && i + 1 < n && sql.charCodeAt(i + 1) === Char.Star) return undefined;
    if (c === Char.Semicolon) {
      for (let j = i + 1; j < n; j++) if (!isSpace(sql.charCodeAt(j))) return undefined;
      break;
    }
    if (isWordChar(c)) {
      // A whole word (identifier or keyword): digits inside it are not numbers.
      const start = i;
      while (i < n && isWordChar(sql.charCodeAt(i))) i++;
      if (i - start === 7 && sql.slice(start, i).toLowerCase() === 'uescape') return undefined;
      continue;
    }
    i++;
  }
  return out + sql.slice(copied);
}
