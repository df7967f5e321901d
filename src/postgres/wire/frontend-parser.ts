import { ProtocolViolation, type Frame, type FrontendMessage, type StartupPacket } from './messages.js';
import { Reader } from './reader.js';

// Client → gateway: one small parse function per message, each reading the
// body exactly (Reader.end). A type the gateway does not know is a violation.

export const PROTOCOL_V3 = 196608;
export const SSL_REQUEST = 80877103;
export const GSSENC_REQUEST = 80877104;
export const CANCEL_REQUEST = 80877102;
const MAX_STARTUP_PARAMETERS = 64;

export function parseStartup(frame: Frame): StartupPacket {
  const reader = new Reader(frame.bytes, frame.bodyStart);
  const code = reader.int32();
  if (code === SSL_REQUEST) return ended(reader, { name: 'sslRequest' });
  if (code === GSSENC_REQUEST) return ended(reader, { name: 'gssEncRequest' });
  if (code === CANCEL_REQUEST) {
    const processId = reader.int32();
    const secretKey = reader.int32();
    return ended(reader, { name: 'cancelRequest', processId, secretKey });
  }
  if (code >>> 16 !== 3) throw new ProtocolViolation(`unsupported protocol ${code >>> 16}.${code & 0xffff}`);
  const parameters = new Map<string, string>();
  for (;;) {
    const key = reader.cstring();
    if (key === '') break;
    if (parameters.has(key)) throw new ProtocolViolation(`startup parameter ${JSON.stringify(key.slice(0, 32))} given twice`);
    if (parameters.size >= MAX_STARTUP_PARAMETERS) throw new ProtocolViolation('too many startup parameters');
    parameters.set(key, reader.cstring());
  }
  return ended(reader, { name: 'startup', protocol: code, parameters });
}

function ended<T>(reader: Reader, message: T): T {
  reader.end();
  return message;
}

export function parseFrontend(frame: Frame): FrontendMessage {
  const reader = new Reader(frame.bytes, frame.bodyStart);
  switch (frame.type) {
    case 0x51: return ended(reader, { name: 'query', sql: reader.cstring() }); // Q
    case 0x50: return parseParse(reader); // P
    case 0x42: return parseBind(reader); // B
    case 0x44: return ended(reader, { name: 'describe', target: target(reader), object: reader.cstring() }); // D
    case 0x45: { // E
      const portal = reader.cstring();
      return ended(reader, { name: 'execute', portal, maxRows: reader.int32() });
    }
    case 0x43: return ended(reader, { name: 'close', target: target(reader), object: reader.cstring() }); // C
    case 0x53: return ended(reader, { name: 'sync' }); // S
    case 0x48: return ended(reader, { name: 'flush' }); // H
    case 0x58: return ended(reader, { name: 'terminate' }); // X
    case 0x70: return ended(reader, { name: 'password', password: reader.cstring() }); // p
    case 0x64: return { name: 'copyData' }; // d: opaque data
    case 0x63: return ended(reader, { name: 'copyDone' }); // c
    case 0x66: return ended(reader, { name: 'copyFail', message: reader.cstring() }); // f
    case 0x46: return { name: 'functionCall' }; // F: refused whatever it holds
    default: throw new ProtocolViolation(`unknown message type 0x${frame.type.toString(16).padStart(2, '0')}`);
  }
}

function target(reader: Reader): 'S' | 'P' {
  const byte = reader.byte();
  if (byte === 0x53) return 'S';
  if (byte === 0x50) return 'P';
  throw new ProtocolViolation('Describe or Close of neither a statement nor a portal');
}

function parseParse(reader: Reader): FrontendMessage {
  const statement = reader.cstring();
  const sql = reader.cstring();
  const count = reader.int16();
  if (count < 0) throw new ProtocolViolation('negative parameter count');
  const parameterTypes: number[] = [];
  for (let i = 0; i < count; i++) parameterTypes.push(reader.int32());
  return ended(reader, { name: 'parse', statement, sql, parameterTypes });
}

/** Bind: the names are what the gateway needs; the rest is walked so that a short or long body is refused. */
function parseBind(reader: Reader): FrontendMessage {
  const portal = reader.cstring();
  const statement = reader.cstring();
  const formats = reader.int16();
  if (formats < 0) throw new ProtocolViolation('negative format count');
  reader.skip(formats * 2);
  const values = reader.int16();
  if (values < 0) throw new ProtocolViolation('negative parameter count');
  for (let i = 0; i < values; i++) {
    const length = reader.int32();
    if (length < -1) throw new ProtocolViolation('negative parameter length');
    if (length > 0) reader.skip(length);
  }
  const results = reader.int16();
  if (results < 0) throw new ProtocolViolation('negative result format count');
  reader.skip(results * 2);
  return ended(reader, { name: 'bind', portal, statement });
}
