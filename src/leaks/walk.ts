import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { IgnoreRules } from './gitignore.js';

// The files under the paths given, in a stable order. .git directories are
// never entered; symbolic links are not followed (a link can loop, or lead
// outside what was asked for); .gitignore files are honoured unless told not to.

interface Level {
  readonly dir: string;
  readonly rules: IgnoreRules | undefined;
}

function rulesOf(dir: string): IgnoreRules | undefined {
  try {
    return new IgnoreRules(readFileSync(join(dir, '.gitignore'), 'utf8'));
  } catch {
    return undefined;
  }
}

function ignored(levels: readonly Level[], path: string, isDirectory: boolean): boolean {
  // Deeper .gitignore files speak first; the first with a verdict decides.
  for (let i = levels.length - 1; i >= 0; i--) {
    const level = levels[i]!;
    if (level.rules === undefined) continue;
    const verdict = level.rules.verdict(relative(level.dir, path).split(sep).join('/'), isDirectory);
    if (verdict !== undefined) return verdict;
  }
  return false;
}

/** Files named on the command line are scanned even when a .gitignore names them. */
export function* filesUnder(path: string, options: { readonly noIgnore?: boolean } = {}): Generator<string> {
  const stat = lstatSync(path);
  if (!stat.isDirectory()) {
    if (stat.isFile()) yield path;
    return;
  }
  yield* walkDirectory(path, options.noIgnore === true ? [] : [{ dir: path, rules: rulesOf(path) }], options.noIgnore === true);
}

function* walkDirectory(dir: string, levels: readonly Level[], noIgnore: boolean): Generator<string> {
  const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name === '.git' || (!noIgnore && ignored(levels, path, true))) continue;
      yield* walkDirectory(path, noIgnore ? levels : [...levels, { dir: path, rules: rulesOf(path) }], noIgnore);
    } else if (entry.isFile() && (noIgnore || !ignored(levels, path, false))) {
      yield path;
    }
  }
}
