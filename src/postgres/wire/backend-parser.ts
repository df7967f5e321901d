import { ProtocolViolation, type BackendMessage, type Frame, type TransactionStatus } from './messages.js';
import { Reader } from './reader.js';

// Upstream → gateway: only the messages the gateway acts on are decoded
// (authentication, key data, parameters, ready, command complete, errors);
// every other frame passes by its type.

export function parseBackend(frame: Frame): BackendMessage {
  const reader = new Reader(frame.bytes, frame.bodyStart);
  switch (frame.type) {
    case 0x52: { // R
      const method = reader.int32();
      return { name: 'authentication', method, data: reader.bytes(reader.remaining) };
    }
    case 0x4b: { // K
      const processId = reader.int32();
      const secretKey = reader.int32();
      reader.end();
      return { name: 'backendKeyData', processId, secretKey };
    }
    case 0x53: { // S
      const parameter = reader.cstring();
      const value = reader.cstring();
      reader.end();
      return { name: 'parameterStatus', parameter, value };
    }
    case 0x5a: { // Z
      const byte = reader.byte();
      reader.end();
      const status = String.fromCharCode(byte);
      if (status !== 'I' && status !== 'T' && status !== 'E') throw new ProtocolViolation('unknown transaction status');
      return { name: 'readyForQuery', status: status as TransactionStatus };
    }
    case 0x43: { // C
      const tag = reader.cstring();
      reader.end();
      return { name: 'commandComplete', tag };
    }
    case 0x45: return { name: 'error', fields: readFields(reader) }; // E
    case 0x4e: return { name: 'notice' }; // N
    default: return { name: 'other', type: frame.type };
  }
}

/** ErrorResponse / NoticeResponse fields by their one-letter code (S, V, C, M, D, ...). */
function readFields(reader: Reader): Map<string, string> {
  const fields = new Map<string, string>();
  for (;;) {
    const code = reader.byte();
    if (code === 0) break;
    fields.set(String.fromCharCode(code), reader.cstring());
  }
  reader.end();
  return fields;
}

/** Rows a CommandComplete tag reports (`INSERT 0 3`, `UPDATE 2`, `SELECT 5`); null when it names none. */
export function rowsOf(tag: string): number | null {
  const space = tag.lastIndexOf(' ');
  if (space === -1) return null;
  const rows = Number(tag.slice(space + 1));
  return Number.isSafeInteger(rows) ? rows : null;
}
