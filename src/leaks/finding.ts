// What the scanner reports. Never the token itself: only where it is and its
// display hint, so a report can be pasted into a ticket or a CI log.

export interface Location {
  /** A file path, `-` for standard input, or `<commit>:<path>` for a git blob. */
  readonly file: string;
  /** 1-based. */
  readonly line: number;
  /** 1-based, in characters (UTF-8 decoded) from the start of the line. */
  readonly col: number;
}

export interface Finding extends Location {
  readonly hint: string;
  /** True when the string has Latchkey's shape but its checksum does not hold (reported only with --all). */
  readonly lookAlike: boolean;
  /** For git history: the commit that introduced the blob, when known. */
  readonly commit?: string;
}

/** A finding before it leaves the scanner: it still holds the token, to ask whether it is live. */
export interface RawFinding extends Finding {
  readonly token: string;
}
