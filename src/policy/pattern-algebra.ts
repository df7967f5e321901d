// Patterns as sequences of tokens, and the two questions containment asks of
// them: does one pattern cover another, and can two patterns match a common
// input. Path patterns are sequences of segments (`*` is ONE, `**` is ANY);
// name globs are sequences of characters (`*` is ANY).

/** Exactly one non-empty element. */
export const ONE = Symbol('one');
/** Zero or more elements of any kind. */
export const ANY = Symbol('any');
export type PatternToken = string | typeof ONE | typeof ANY;
export type SequencePattern = readonly PatternToken[];

/** A name glob (`public`, `order_*`, `*`) as a character sequence pattern. */
export function globTokens(glob: string): SequencePattern {
  return Array.from(glob, (char) => (char === '*' ? ANY : char));
}

/**
 * True only when every input `inner` matches, `outer` matches too. Sound, and
 * exact unless `inner` has an ANY that `outer` covers with fixed tokens (then
 * it answers false). Each inner token is covered by outer tokens: a literal by
 * the same literal, ONE, or ANY; ONE by ONE or ANY; ANY only by ANY.
 */
export function covers(outer: SequencePattern, inner: SequencePattern): boolean {
  const memo = new Map<number, boolean>();
  const width = inner.length + 1;
  const cover = (o: number, i: number): boolean => {
    const key = o * width + i;
    const known = memo.get(key);
    if (known !== undefined) return known;
    let result: boolean;
    const token = outer[o];
    if (o === outer.length) result = i === inner.length;
    else if (token === ANY) result = cover(o + 1, i) || (i < inner.length && cover(o, i + 1));
    else if (i === inner.length) result = false;
    else {
      const item = inner[i];
      const fits = token === ONE ? item === ONE || (typeof item === 'string' && item !== '') : item === token;
      result = fits && cover(o + 1, i + 1);
    }
    memo.set(key, result);
    return result;
  };
  return cover(0, 0);
}

function compatible(a: PatternToken, b: PatternToken): boolean {
  if (a === ANY || b === ANY) return true;
  if (a === ONE) return b === ONE || b !== '';
  if (b === ONE) return a !== '';
  return a === b;
}

/**
 * True when some input matches both patterns (exact over all sequences of
 * strings): reachability in the product of the two patterns' automata.
 */
export function overlaps(a: SequencePattern, b: SequencePattern): boolean {
  const width = b.length + 1;
  const seen = new Set<number>();
  const stack: [number, number][] = [[0, 0]];
  while (stack.length > 0) {
    const [i, j] = stack.pop() as [number, number];
    const key = i * width + j;
    if (seen.has(key)) continue;
    seen.add(key);
    if (i === a.length && j === b.length) return true;
    const tokenA = a[i];
    const tokenB = b[j];
    // ANY may stop matching without consuming anything.
    if (tokenA === ANY) stack.push([i + 1, j]);
    if (tokenB === ANY) stack.push([i, j + 1]);
    if (tokenA !== undefined && tokenB !== undefined && compatible(tokenA, tokenB)) {
      // One common element consumed; ANY stays where it is and may consume more.
      stack.push([tokenA === ANY ? i : i + 1, tokenB === ANY ? j : j + 1]);
    }
  }
  return false;
}

/** Marks the states reachable from the marked ones through ANY matching nothing. */
function closeOverAny(pattern: SequencePattern, states: Uint8Array): void {
  for (let state = 0; state < pattern.length; state++) if (states[state] === 1 && pattern[state] === ANY) states[state + 1] = 1;
}

/**
 * Whether a concrete sequence matches a pattern, by simulating the pattern's
 * automaton (linear in the input whatever the number of ANY). Off the hot
 * path: explanations and baselines.
 */
export function matchesSequence(pattern: SequencePattern, items: readonly string[]): boolean {
  let states = new Uint8Array(pattern.length + 1);
  states[0] = 1;
  closeOverAny(pattern, states);
  for (const item of items) {
    const next = new Uint8Array(pattern.length + 1);
    let alive = false;
    for (let state = 0; state < pattern.length; state++) {
      if (states[state] !== 1) continue;
      const token = pattern[state];
      if (token === ANY) next[state] = 1;
      else if (token === ONE ? item !== '' : item === token) next[state + 1] = 1;
      else continue;
      alive = true;
    }
    if (!alive) return false;
    closeOverAny(pattern, next);
    states = next;
  }
  return states[pattern.length] === 1;
}

/** How many leading tokens match position by position before the first mismatch or ANY. */
export function matchedPrefix(pattern: SequencePattern, items: readonly string[]): number {
  let count = 0;
  while (count < pattern.length && count < items.length) {
    const token = pattern[count];
    if (token === ANY) break;
    const item = items[count] as string;
    if (token === ONE ? item === '' : item !== token) break;
    count++;
  }
  return count;
}
