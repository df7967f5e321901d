import type { Readable } from 'node:stream';
import type { RawFinding } from './finding.js';
import { TokenFinder } from './finder.js';

// One stream of bytes (a file, standard input, a git blob) through the finder.
// Binary content is recognised as git does: a NUL byte in the first 8000 bytes.

const BINARY_PROBE = 8000;

export interface StreamOptions {
  readonly all?: boolean;
  /** Called with the byte count of each chunk, for progress. */
  readonly onBytes?: (bytes: number) => void;
}

export interface StreamResult {
  readonly bytes: number;
  readonly binary: boolean;
}

/** Feeds chunks to a finder after the binary probe; returns false once the content is known to be binary. */
export class ContentScanner {
  readonly #finder: TokenFinder;
  #probed = 0;
  #binary = false;

  constructor(file: string, onFinding: (finding: RawFinding) => void, options: StreamOptions = {}) {
    this.#finder = new TokenFinder(file, onFinding, options);
  }

  get binary(): boolean {
    return this.#binary;
  }

  feed(chunk: Buffer): boolean {
    if (this.#binary) return false;
    if (this.#probed < BINARY_PROBE) {
      const probe = chunk.subarray(0, BINARY_PROBE - this.#probed);
      this.#probed += probe.length;
      if (probe.includes(0)) {
        this.#binary = true;
        return false;
      }
    }
    this.#finder.feed(chunk);
    return true;
  }

  end(): void {
    if (!this.#binary) this.#finder.end();
  }
}

export async function scanStream(stream: Readable, file: string, onFinding: (finding: RawFinding) => void, options: StreamOptions = {}): Promise<StreamResult> {
  // Findings are held until the end, so a binary file reports none even if its probe came late.
  const found: RawFinding[] = [];
  const scanner = new ContentScanner(file, (finding) => found.push(finding), options);
  let bytes = 0;
  for await (const chunk of stream) {
    const buffer = chunk as Buffer;
    bytes += buffer.length;
    options.onBytes?.(buffer.length);
    if (!scanner.feed(buffer)) {
      stream.destroy();
      break;
    }
  }
  scanner.end();
  if (!scanner.binary) for (const finding of found) onFinding(finding);
  return { bytes, binary: scanner.binary };
}
