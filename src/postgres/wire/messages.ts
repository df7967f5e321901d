// The protocol v3 messages the gateway reads, as types only (pg-protocol's
// messages.ts). Frontend: what a client sends; backend: what an upstream sends.

/** Before startup completes a client sends one of these, framed without a type byte. */
export type StartupPacket =
  | { readonly name: 'sslRequest' }
  | { readonly name: 'gssEncRequest' }
  | { readonly name: 'cancelRequest'; readonly processId: number; readonly secretKey: number }
  | { readonly name: 'startup'; readonly protocol: number; readonly parameters: ReadonlyMap<string, string> };

export type FrontendMessage =
  | { readonly name: 'query'; readonly sql: string }
  | { readonly name: 'parse'; readonly statement: string; readonly sql: string; readonly parameterTypes: readonly number[] }
  | { readonly name: 'bind'; readonly portal: string; readonly statement: string }
  | { readonly name: 'describe'; readonly target: 'S' | 'P'; readonly object: string }
  | { readonly name: 'execute'; readonly portal: string; readonly maxRows: number }
  | { readonly name: 'close'; readonly target: 'S' | 'P'; readonly object: string }
  | { readonly name: 'sync' }
  | { readonly name: 'flush' }
  | { readonly name: 'terminate' }
  | { readonly name: 'password'; readonly password: string }
  | { readonly name: 'copyData' }
  | { readonly name: 'copyDone' }
  | { readonly name: 'copyFail'; readonly message: string }
  | { readonly name: 'functionCall' };

/** A frame as cut from the stream: its type byte (0 for a startup packet) and its bytes, header included. */
export interface Frame {
  readonly type: number;
  /** The whole frame, type byte and length included: what is forwarded, byte for byte. */
  readonly bytes: Buffer;
  /** Offset of the body within `bytes`. */
  readonly bodyStart: number;
}

export type TransactionStatus = 'I' | 'T' | 'E';

export type BackendMessage =
  | { readonly name: 'authentication'; readonly method: number; readonly data: Buffer }
  | { readonly name: 'backendKeyData'; readonly processId: number; readonly secretKey: number }
  | { readonly name: 'parameterStatus'; readonly parameter: string; readonly value: string }
  | { readonly name: 'readyForQuery'; readonly status: TransactionStatus }
  | { readonly name: 'commandComplete'; readonly tag: string }
  | { readonly name: 'error'; readonly fields: ReadonlyMap<string, string> }
  | { readonly name: 'notice' }
  | { readonly name: 'other'; readonly type: number };

/** Authentication request codes of the 'R' message. */
export const AUTH = { ok: 0, cleartext: 3, md5: 5, sasl: 10, saslContinue: 11, saslFinal: 12 } as const;

/** A frame that cannot be read: the connection ends with an ErrorResponse (SQLSTATE 08P01). */
export class ProtocolViolation extends Error {
  readonly code = 'LATCHKEY_PG_PROTOCOL';
  /** The frame was longer than the maximum message size. */
  readonly oversize: boolean;

  constructor(message: string, oversize = false) {
    super(message);
    this.oversize = oversize;
  }
}
