import { createHash } from 'node:crypto';
import type { TransactionStatus } from './messages.js';
import { PROTOCOL_V3 } from './frontend-parser.js';
import { Writer } from './writer.js';

// Stateless serializers, both directions: what the gateway says to a client
// as if it were a server, and to an upstream as a client.

// Gateway → client.
export const backend = {
  authenticationCleartext: (): Buffer => new Writer(0x52).int32(3).finish(),
  authenticationOk: (): Buffer => new Writer(0x52).int32(0).finish(),
  backendKeyData: (processId: number, secretKey: number): Buffer => new Writer(0x4b).int32(processId).int32(secretKey).finish(),
  parameterStatus: (name: string, value: string): Buffer => new Writer(0x53).cstring(name).cstring(value).finish(),
  readyForQuery: (status: TransactionStatus): Buffer => new Writer(0x5a).byte(status.charCodeAt(0)).finish(),
  /** Fields in PostgreSQL's order; severity FATAL ends the connection after it. */
  error(severity: 'ERROR' | 'FATAL', sqlstate: string, message: string, detail?: string): Buffer {
    const writer = new Writer(0x45, 128)
      .byte(0x53).cstring(severity).byte(0x56).cstring(severity)
      .byte(0x43).cstring(sqlstate).byte(0x4d).cstring(message);
    if (detail !== undefined) writer.byte(0x44).cstring(detail);
    return writer.byte(0).finish();
  },
  /** `N` to an SSLRequest or GSSENCRequest: not one byte more. */
  refuseEncryption: (): Buffer => Buffer.from('N'),
  acceptEncryption: (): Buffer => Buffer.from('S'),
};

// Gateway → upstream.
export const frontend = {
  startup(parameters: ReadonlyMap<string, string>): Buffer {
    const writer = new Writer(null, 128).int32(PROTOCOL_V3);
    for (const [key, value] of parameters) writer.cstring(key).cstring(value);
    return writer.byte(0).finish();
  },
  password: (password: string): Buffer => new Writer(0x70).cstring(password).finish(),
  /** md5 password: 'md5' + md5(md5(password + user) + salt), as PostgreSQL computes it. */
  md5Password(user: string, password: string, salt: Buffer): Buffer {
    const inner = createHash('md5').update(password + user).digest('hex');
    const outer = createHash('md5').update(Buffer.concat([Buffer.from(inner), salt])).digest('hex');
    return frontend.password(`md5${outer}`);
  },
  saslInitial: (mechanism: string, data: Buffer): Buffer => new Writer(0x70).cstring(mechanism).int32(data.length).bytes(data).finish(),
  saslResponse: (data: Buffer): Buffer => new Writer(0x70).bytes(data).finish(),
  query: (sql: string): Buffer => new Writer(0x51).cstring(sql).finish(),
  parse: (statement: string, sql: string): Buffer => new Writer(0x50).cstring(statement).cstring(sql).int16(0).finish(),
  cancel: (processId: number, secretKey: number): Buffer => new Writer(null, 16).int32(80877102).int32(processId).int32(secretKey).finish(),
  terminate: (): Buffer => new Writer(0x58).finish(),
};
