// Name globs (`public`, `order_*`, `*`, `list_*_v2`) compiled once into plain
// string tests: `*` matches any run of characters, including none. No RegExp,
// so no pattern can make matching backtrack badly.

export type NameMatcher = (name: string) => boolean;

const anyName: NameMatcher = () => true;

/** Literal pieces between stars: the first is a prefix, the last a suffix, the others found in order. */
function matchPieces(pieces: readonly string[], name: string): boolean {
  const first = pieces[0] as string;
  const last = pieces[pieces.length - 1] as string;
  const end = name.length - last.length;
  if (end < first.length || !name.startsWith(first) || !name.endsWith(last)) return false;
  let at = first.length;
  // Taking each middle piece at its leftmost place leaves the most room for the rest.
  for (let index = 1; index < pieces.length - 1; index++) {
    const piece = pieces[index] as string;
    const found = name.indexOf(piece, at);
    if (found < 0 || found + piece.length > end) return false;
    at = found + piece.length;
  }
  return true;
}

export function compileGlob(glob: string): NameMatcher {
  if (glob === '*') return anyName;
  if (!glob.includes('*')) return (name) => name === glob;
  const pieces = glob.split('*');
  return (name) => matchPieces(pieces, name);
}
