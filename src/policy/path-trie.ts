// A trie over path segments: the compiled form of every path pattern of one
// service and one method, for allows or for denies. Matching walks literal
// children first, then `*`, then `**`, so the decision found is the most
// specific pattern that matches. Each `**` node remembers, per request, the
// positions from which it already failed, so patterns with several `**`
// stay linear in the number of segments instead of exploding.

import { ANY, ONE, type SequencePattern } from './pattern-algebra.js';
import type { Decision } from './types.js';

class TrieNode {
  literals: Map<string, TrieNode> | null = null;
  star: TrieNode | null = null;
  globstar: TrieNode | null = null;
  /** The decision of the first pattern (in grant order) that ends here. */
  decision: Decision | null = null;
  /** Set on nodes reached through a `**` edge: their row in the failure memo. */
  globstarId = -1;
}

const MAX_GENERATION = 0x7fffffff;

export class PathTrie {
  readonly #root = new TrieNode();
  #globstars = 0;
  /** memo[globstarId * (segments + 1) + position] === generation: that attempt already failed in this call. */
  #memo = new Int32Array(0);
  #generation = 0;
  #width = 0;

  add(pattern: SequencePattern, decision: Decision): void {
    let node = this.#root;
    for (const token of pattern) {
      if (token === ANY) {
        if (node.globstar === null) {
          node.globstar = new TrieNode();
          node.globstar.globstarId = this.#globstars++;
        }
        node = node.globstar;
      } else if (token === ONE) {
        node.star ??= new TrieNode();
        node = node.star;
      } else {
        node.literals ??= new Map();
        let child = node.literals.get(token);
        if (child === undefined) {
          child = new TrieNode();
          node.literals.set(token, child);
        }
        node = child;
      }
    }
    node.decision ??= decision;
  }

  /** The decision of the most specific matching pattern, or null. Not re-entrant (one shared memo). */
  find(segments: readonly string[]): Decision | null {
    if (this.#globstars > 0) this.#prepareMemo(segments.length + 1);
    return this.#visit(this.#root, segments, 0);
  }

  #prepareMemo(width: number): void {
    const size = this.#globstars * width;
    if (this.#memo.length < size) {
      this.#memo = new Int32Array(Math.max(size, this.#memo.length * 2));
      this.#generation = 0;
    }
    if (this.#generation === MAX_GENERATION) {
      this.#memo.fill(0);
      this.#generation = 0;
    }
    this.#generation++;
    this.#width = width;
  }

  #visit(node: TrieNode, segments: readonly string[], index: number): Decision | null {
    const count = segments.length;
    if (index === count) {
      if (node.decision !== null) return node.decision;
    } else {
      const segment = segments[index] as string;
      if (node.literals !== null) {
        const child = node.literals.get(segment);
        if (child !== undefined) {
          const found = this.#visit(child, segments, index + 1);
          if (found !== null) return found;
        }
      }
      if (node.star !== null && segment !== '') {
        const found = this.#visit(node.star, segments, index + 1);
        if (found !== null) return found;
      }
    }
    const globstar = node.globstar;
    if (globstar === null) return null;
    // `**` takes segments index..next-1 (possibly none), then the rest must match below it.
    const row = globstar.globstarId * this.#width;
    for (let next = index; next <= count; next++) {
      if (this.#memo[row + next] === this.#generation) continue;
      const found = this.#visit(globstar, segments, next);
      if (found !== null) return found;
      this.#memo[row + next] = this.#generation;
    }
    return null;
  }
}
