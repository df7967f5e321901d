// How a service's upstream matches paths, so the gateway authorizes the
// resource the upstream will actually serve. A deny on `/v1/admin/**` means
// nothing if the upstream also answers `/v1/ADMIN/x` (Express, ASP.NET, IIS),
// `/v1/admin./x` (IIS drops trailing dots and spaces) or `/v1/admin.json`
// (Rails, older Spring: a format suffix names the same resource). Requests are
// folded here, once per request, after normalizePath; permission resources of
// the service are folded the same way when a grant compiles, so both meet.
// What cannot be folded the way every such upstream folds it is refused.

import { ANY, ONE, type SequencePattern } from './pattern-algebra.js';

export type PathMatching = 'exact' | 'case-insensitive' | 'lenient';

export const PATH_MATCHINGS: readonly PathMatching[] = ['exact', 'case-insensitive', 'lenient'];

/** The decoded segments the grant is asked about, or why the path is `request_ambiguous` under the profile. */
export type FoldedPath = { readonly ok: true; readonly segments: readonly string[] } | { readonly ok: false; readonly detail: string };

/** A-Z only: Unicode case mappings differ between upstreams (ı, K Kelvin sign, ſ), which is why non-ASCII is refused. */
function lowerAscii(text: string): string {
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    if (code >= 0x41 && code <= 0x5a) return text.toLowerCase();
  }
  return text;
}

function isAscii(text: string): boolean {
  for (let index = 0; index < text.length; index++) if (text.charCodeAt(index) > 0x7f) return false;
  return true;
}

/** IIS (Win32 path rules) ignores trailing dots and spaces of every segment. */
function withoutTrailingDotsAndSpaces(segment: string): string {
  let end = segment.length;
  while (end > 0) {
    const code = segment.charCodeAt(end - 1);
    if (code !== 0x2e && code !== 0x20) break;
    end--;
  }
  return end === segment.length ? segment : segment.slice(0, end);
}

const FORMAT_SUFFIX = /(?:\.[a-z0-9]+)+$/;

/**
 * A final segment as a lenient upstream resolves it: trailing dots and spaces
 * and any `.ext` suffixes gone, repeated until nothing changes (`admin.json.`,
 * `admin. .json`, `admin.json.xml` are all `admin`). Input is already lowercase.
 */
function finalResource(segment: string): string {
  let current = withoutTrailingDotsAndSpaces(segment);
  for (;;) {
    const stripped = withoutTrailingDotsAndSpaces(current.replace(FORMAT_SUFFIX, ''));
    // A segment that is nothing but a suffix (`.json`) names no resource of its own; it is kept and refused below.
    if (stripped === current || stripped === '') return current;
    current = stripped;
  }
}

/** Folds a normalized request path's segments for the service's profile. `exact` returns them as they are. */
export function foldRequestSegments(segments: readonly string[], matching: PathMatching): FoldedPath {
  if (matching === 'exact') return { ok: true, segments };
  const folded: string[] = new Array(segments.length);
  const last = segments.length - 1;
  for (let index = 0; index <= last; index++) {
    const segment = segments[index]!;
    if (!isAscii(segment)) {
      return { ok: false, detail: `non-ASCII characters in segment ${index + 1} cannot be compared the way a case-insensitive upstream compares them` };
    }
    let resource = lowerAscii(segment);
    if (matching === 'lenient') {
      if (resource.includes('~')) return { ok: false, detail: `~ in segment ${index + 1} (an IIS 8.3 short name could name another file)` };
      // NTFS streams: IIS serves the directory `admin` for `admin::$INDEX_ALLOCATION`.
      if (resource.includes(':')) return { ok: false, detail: `: in segment ${index + 1} (an NTFS stream name could name another file)` };
      resource = index === last ? finalResource(resource) : withoutTrailingDotsAndSpaces(resource);
      if (resource === '' || resource === '.' || resource === '..' || (index === last && FORMAT_SUFFIX.test(resource) && resource.startsWith('.'))) {
        return { ok: false, detail: `segment ${index + 1} is only dots, spaces or a format suffix once its upstream folds it` };
      }
    }
    folded[index] = resource;
  }
  return { ok: true, segments: folded };
}

/** A literal of a permission's path as the service's upstream reads it, not in the final position. */
function foldMiddleLiteral(literal: string, matching: PathMatching): string {
  const lower = lowerAscii(literal);
  if (matching !== 'lenient') return lower;
  // A literal that folds to nothing can match no accepted request; keeping it as written keeps it unmatchable.
  return withoutTrailingDotsAndSpaces(lower) || lower;
}

function foldFinalLiteral(literal: string, matching: PathMatching): string {
  const lower = lowerAscii(literal);
  return matching === 'lenient' ? finalResource(lower) : lower;
}

/**
 * The patterns a permission's path pattern becomes under the profile: one, or
 * for a lenient `.../literal/**` two, because `**` may match nothing and leave
 * the literal as the request's final segment (suffix folded) or match more and
 * leave it in the middle (suffix kept). Run when a grant compiles, never per request.
 */
export function foldPattern(pattern: SequencePattern, matching: PathMatching): SequencePattern[] {
  if (matching === 'exact') return [pattern];
  const last = pattern.length - 1;
  const folded = pattern.map((token, index) => {
    if (token === ANY || token === ONE) return token;
    return index === last ? foldFinalLiteral(token, matching) : foldMiddleLiteral(token, matching);
  });
  const beforeGlobstar = last - 1;
  const literal = pattern[beforeGlobstar];
  if (matching !== 'lenient' || pattern[last] !== ANY || literal === undefined || literal === ANY || literal === ONE) return [folded];
  const asFinal = foldFinalLiteral(literal, matching);
  if (asFinal === folded[beforeGlobstar]) return [folded];
  return [folded, [...folded.slice(0, beforeGlobstar), asFinal]];
}
