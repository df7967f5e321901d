// Request path normalization (RFC 3986), shared by every gateway. A path whose
// meaning could differ between Latchkey and the upstream is refused rather than
// guessed at; anything accepted gets one canonical spelling, which is what the
// gateway matches and forwards.
//
// Decisions:
// - The canonical form keeps RFC 3986 unreserved characters (A-Z a-z 0-9 - . _ ~)
//   literal and percent-encodes every other byte of the decoded segment as
//   uppercase hex, so `:` and `%3a` both become `%3A` and normalizing a canonical
//   path returns it unchanged.
// - Refused: a path not starting with `/` (absolute-form, `*`), empty segments
//   (`//`), `.`/`..` segments raw or encoded, encoded `/` `\`, raw `\`, raw
//   non-ASCII bytes, raw space and `#`, NUL and control characters (C0, DEL, C1)
//   raw or encoded, malformed escapes, invalid/overlong/surrogate UTF-8, and
//   `%25` in any form: a literal percent is never accepted, so no upstream can
//   decode a second time into something else (`%252e`, `%25u002e`).
// - `;` raw or encoded is refused: Tomcat and Jetty strip `;params` from
//   segments, so `/public/..;/admin` or `/admin;x` would mean something else there.
// - Non-ASCII segments are refused when their NFKC form is a dot segment or holds
//   `/ \ % ;` or a control character (fullwidth look-alikes that some servers fold).
// - A trailing `/` is kept in the canonical path (it is forwarded byte for byte)
//   but is not a segment: `/v1/orders/` and `/v1/orders` are the same resource to
//   the permission engine, because most upstreams route them alike and a
//   difference would let `/admin/` slip past a deny on `/admin`. `/` has no segments.

import type { NormalizedPath } from './types.js';

const HEX = '0123456789ABCDEF';

function isUnreserved(code: number): boolean {
  return (
    (code >= 0x61 && code <= 0x7a) || // a-z
    (code >= 0x41 && code <= 0x5a) || // A-Z
    (code >= 0x30 && code <= 0x39) || // 0-9
    code === 0x2d || // -
    code === 0x2e || // .
    code === 0x5f || // _
    code === 0x7e // ~
  );
}

function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  if (code >= 0x41 && code <= 0x46) return code - 0x37;
  if (code >= 0x61 && code <= 0x66) return code - 0x57;
  return -1;
}

function isControl(codePoint: number): boolean {
  return codePoint < 0x20 || (codePoint >= 0x7f && codePoint <= 0x9f);
}

/** Why a decoded segment cannot be accepted, or null when it can. Shared with the permission parser. */
export function segmentProblem(segment: string): string | null {
  if (segment === '') return 'empty segment (//)';
  if (segment === '.' || segment === '..') return `dot segment ${segment}`;
  let ascii = true;
  for (let index = 0; index < segment.length; index++) {
    const code = segment.charCodeAt(index);
    if (isControl(code)) return 'control character';
    if (code === 0x2f) return 'encoded / inside a segment';
    if (code === 0x5c) return 'backslash';
    if (code === 0x25) return 'literal % (double encoding is never accepted)';
    if (code === 0x3b) return '; (path parameters are read differently by upstream servers)';
    if (code > 0x7f) ascii = false;
    if (code >= 0xd800 && code <= 0xdfff) {
      const next = segment.charCodeAt(index + 1);
      if (code > 0xdbff || !(next >= 0xdc00 && next <= 0xdfff)) return 'lone surrogate';
      index++;
    }
  }
  if (!ascii) {
    const folded = segment.normalize('NFKC');
    if (folded === '.' || folded === '..' || /[/\\%;\u0000-\u001f\u007f]/.test(folded)) {
      return 'Unicode characters that fold to a path delimiter or dot segment';
    }
  }
  return null;
}

/** The canonical spelling of a decoded segment: unreserved bytes literal, every other UTF-8 byte %XX. */
export function encodeSegment(segment: string): string {
  let out = '';
  const bytes = Buffer.from(segment, 'utf8');
  for (const byte of bytes) {
    out += isUnreserved(byte) ? String.fromCharCode(byte) : `%${HEX[byte >> 4]}${HEX[byte & 15]}`;
  }
  return out;
}

type Escape = { byte: number } | { problem: string };

function readEscape(raw: string, at: number): Escape {
  if (raw.charCodeAt(at) !== 0x25) return { problem: 'raw non-ASCII byte or missing escape in a UTF-8 sequence' };
  if (at + 2 >= raw.length) return { problem: 'malformed percent-escape (truncated)' };
  const high = hexValue(raw.charCodeAt(at + 1));
  const low = hexValue(raw.charCodeAt(at + 2));
  if (high < 0 || low < 0) return { problem: `malformed percent-escape ${raw.slice(at, at + 3)}` };
  return { byte: high * 16 + low };
}

/** UTF-8 validity as RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF. */
function sequenceLength(lead: number): number {
  if (lead >= 0xc2 && lead <= 0xdf) return 2;
  if (lead >= 0xe0 && lead <= 0xef) return 3;
  if (lead >= 0xf0 && lead <= 0xf4) return 4;
  return 0;
}

function secondByteRange(lead: number): readonly [number, number] {
  if (lead === 0xe0) return [0xa0, 0xbf];
  if (lead === 0xed) return [0x80, 0x9f];
  if (lead === 0xf0) return [0x90, 0xbf];
  if (lead === 0xf4) return [0x80, 0x8f];
  return [0x80, 0xbf];
}

type Decoded = { text: string; next: number } | { problem: string };

/** Decodes a percent-encoded UTF-8 sequence that starts with `lead` at `raw[at]` (the lead escape). */
function decodeUtf8(raw: string, at: number, lead: number): Decoded {
  const length = sequenceLength(lead);
  if (length === 0) return { problem: `invalid UTF-8 lead byte %${lead.toString(16).toUpperCase()}` };
  let codePoint = lead & (0xff >> (length + 1));
  let position = at + 3;
  for (let index = 1; index < length; index++) {
    const escape = readEscape(raw, position);
    if ('problem' in escape) return { problem: `truncated UTF-8 sequence (${escape.problem})` };
    const [min, max] = index === 1 ? secondByteRange(lead) : [0x80, 0xbf];
    if (escape.byte < min || escape.byte > max) return { problem: 'invalid or overlong UTF-8 sequence' };
    codePoint = (codePoint << 6) | (escape.byte & 0x3f);
    position += 3;
  }
  if (isControl(codePoint)) return { problem: 'encoded control character' };
  return { text: String.fromCodePoint(codePoint), next: position };
}

type SegmentResult = { decoded: string } | { problem: string };

/** Decodes one raw segment; `raw` never contains `/`. */
function decodeSegment(raw: string): SegmentResult {
  let decoded = '';
  let index = 0;
  while (index < raw.length) {
    const code = raw.charCodeAt(index);
    if (code !== 0x25) {
      if (code > 0x7e) return { problem: 'raw non-ASCII or DEL byte (it must be percent-encoded)' };
      if (code <= 0x20) return { problem: code === 0x20 ? 'raw space' : 'raw control character' };
      if (code === 0x23) return { problem: 'raw # in the path' };
      if (code === 0x3f) return { problem: 'raw ? in the path (the query must be split off first)' };
      decoded += raw[index];
      index++;
      continue;
    }
    const escape = readEscape(raw, index);
    if ('problem' in escape) return escape;
    if (escape.byte < 0x80) {
      if (escape.byte === 0x2f) return { problem: 'encoded / (%2F)' };
      if (escape.byte === 0x5c) return { problem: 'encoded backslash (%5C)' };
      if (escape.byte === 0x25) return { problem: 'encoded % (%25): double encoding or a literal percent' };
      if (isControl(escape.byte)) return { problem: 'encoded control character' };
      decoded += String.fromCharCode(escape.byte);
      index += 3;
      continue;
    }
    const sequence = decodeUtf8(raw, index, escape.byte);
    if ('problem' in sequence) return sequence;
    decoded += sequence.text;
    index = sequence.next;
  }
  return { decoded };
}

function isPlain(raw: string): boolean {
  for (let index = 0; index < raw.length; index++) if (!isUnreserved(raw.charCodeAt(index))) return false;
  return true;
}

function refuse(detail: string): NormalizedPath {
  return { ok: false, detail };
}

/**
 * Normalizes a request-target path (without its query). Returns the canonical
 * path and its decoded segments, or why the path is refused (`request_ambiguous`).
 */
export function normalizePath(rawPath: string): NormalizedPath {
  if (rawPath === '*') return refuse('asterisk-form request target');
  if (rawPath.charCodeAt(0) !== 0x2f) return refuse('the path must start with / (absolute-form and authority-form are refused)');
  const rawSegments = rawPath.split('/');
  const last = rawSegments.length - 1;
  const trailingSlash = last >= 1 && rawSegments[last] === '';
  const count = trailingSlash ? last - 1 : last;
  const segments: string[] = new Array(count);
  // Built only once a segment is spelled differently; until then the raw path is already canonical.
  let path: string | null = null;
  for (let index = 1; index <= count; index++) {
    const raw = rawSegments[index] as string;
    if (raw === '') return refuse(`empty segment (//) at segment ${index}`);
    if (isPlain(raw)) {
      // The common case: nothing to decode or re-encode.
      if (raw === '.' || raw === '..') return refuse(`dot segment ${raw} in segment ${index}`);
      segments[index - 1] = raw;
      if (path !== null) path += `/${raw}`;
      continue;
    }
    const result = decodeSegment(raw);
    if ('problem' in result) return refuse(`${result.problem} in segment ${index}`);
    const problem = segmentProblem(result.decoded);
    if (problem !== null) return refuse(`${problem} in segment ${index}`);
    segments[index - 1] = result.decoded;
    // The plain segments before this one, as they were.
    path ??= index === 1 ? '' : `/${rawSegments.slice(1, index).join('/')}`;
    path += `/${encodeSegment(result.decoded)}`;
  }
  if (path === null) return { ok: true, path: rawPath, segments };
  if (trailingSlash) path += '/';
  return { ok: true, path, segments };
}
