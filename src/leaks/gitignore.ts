// The common subset of .gitignore semantics, without a dependency:
//   blank lines and `#` comments; `\#` and `\!` escapes; trailing spaces trimmed;
//   `!` re-includes; a trailing `/` matches directories only; a `/` at the start
//   or in the middle anchors the pattern to the .gitignore's directory, otherwise
//   it matches at any depth; `*`, `?`, `[abc]`, `[a-z]`, `[!abc]`; `**/` (any
//   leading directories), `/**` (everything inside), `/**/` (zero or more directories).
// As in git, the last matching rule wins, rules of deeper .gitignore files win
// over shallower ones, and a file inside an ignored directory cannot be re-included
// (the walk never enters the directory). Not supported: core.excludesFile,
// .git/info/exclude, and the `[[:class:]]` forms.

interface Rule {
  readonly negate: boolean;
  readonly directoryOnly: boolean;
  readonly pattern: RegExp;
}

/** The rules of one .gitignore, matched against paths relative to its directory with `/` separators. */
export class IgnoreRules {
  readonly #rules: readonly Rule[];

  constructor(text: string) {
    this.#rules = text.split(/\r?\n/).flatMap((line) => {
      const rule = parseRule(line);
      return rule === undefined ? [] : [rule];
    });
  }

  /** true: ignored, false: re-included, undefined: no rule speaks of it. */
  verdict(relativePath: string, isDirectory: boolean): boolean | undefined {
    let verdict: boolean | undefined;
    for (const rule of this.#rules) {
      if (rule.directoryOnly && !isDirectory) continue;
      if (rule.pattern.test(relativePath)) verdict = !rule.negate;
    }
    return verdict;
  }
}

function parseRule(line: string): Rule | undefined {
  let text = line.replace(/(?<!\\)\s+$/, '');
  if (text === '' || text.startsWith('#')) return undefined;
  let negate = false;
  if (text.startsWith('!')) {
    negate = true;
    text = text.slice(1);
  } else if (text.startsWith('\\#') || text.startsWith('\\!')) {
    text = text.slice(1);
  }
  const directoryOnly = text.endsWith('/');
  if (directoryOnly) text = text.slice(0, -1);
  if (text === '') return undefined;
  const anchored = text.includes('/');
  if (text.startsWith('/')) text = text.slice(1);
  const body = globToRegex(text);
  return { negate, directoryOnly, pattern: new RegExp(`^${anchored ? '' : '(?:.*/)?'}${body}$`) };
}

function globToRegex(glob: string): string {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      const atStart = i === 0 || glob[i - 1] === '/';
      const atEnd = i + 2 === glob.length || glob[i + 2] === '/';
      if (atStart && atEnd) {
        if (i + 2 === glob.length) out += '.*'; // `/**` or a lone `**`: everything inside
        else out += '(?:.*/)?'; // `**/`: zero or more directories
        i += glob[i + 2] === '/' ? 2 : 1;
        continue;
      }
      out += '[^/]*';
      i++;
    } else if (c === '*') {
      out += '[^/]*';
    } else if (c === '?') {
      out += '[^/]';
    } else if (c === '[') {
      const close = glob.indexOf(']', i + 2);
      if (close === -1) {
        out += '\\[';
        continue;
      }
      let set = glob.slice(i + 1, close);
      if (set.startsWith('!')) set = `^${set.slice(1)}`;
      out += `[${set.replace(/\\/g, '\\\\')}]`;
      i = close;
    } else if (c === '\\' && i + 1 < glob.length) {
      out += escapeRegex(glob[++i]!);
    } else {
      out += escapeRegex(c);
    }
  }
  return out;
}

function escapeRegex(c: string): string {
  return /[.*+?^${}()|[\]\\/]/.test(c) ? `\\${c}` : c;
}
