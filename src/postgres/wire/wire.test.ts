import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { build } from '../testing/frames.js';
import { parseBackend, rowsOf } from './backend-parser.js';
import { Framer } from './framer.js';
import { parseFrontend, parseStartup } from './frontend-parser.js';
import { ProtocolViolation } from './messages.js';
import { backend } from './serializer.js';

describe('wire codec', () => {
  it('frames and parses what the builders write, in any chunking', () => {
    const stream = Buffer.concat([build.parse('s1', 'SELECT $1::int'), build.bind('p', 's1', ['7', null]), build.describe('P', 'p'), build.execute('p', 5), build.close('S', 's1'), build.sync(), build.query('SELECT 1'), build.terminate()]);
    fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: stream.length }), { maxLength: 8 }), (cuts) => {
      const framer = new Framer({ startup: false });
      const points = [...new Set(cuts)].sort((a, b) => a - b);
      const names: string[] = [];
      let last = 0;
      for (const point of [...points, stream.length]) {
        for (const frame of framer.push(stream.subarray(last, point))) names.push(parseFrontend(frame).name);
        last = point;
      }
      expect(names).toEqual(['parse', 'bind', 'describe', 'execute', 'close', 'sync', 'query', 'terminate']);
    }));
  });

  it('reads the startup packet, SSLRequest, GSSENCRequest and CancelRequest', () => {
    const framer = new Framer({ startup: true });
    const [startup] = framer.push(build.startup({ user: 'job', database: 'appdb' }));
    expect(parseStartup(startup!)).toEqual({ name: 'startup', protocol: 196608, parameters: new Map([['user', 'job'], ['database', 'appdb']]) });
    expect(parseStartup(new Framer({ startup: true }).push(build.sslRequest())[0]!)).toEqual({ name: 'sslRequest' });
    expect(parseStartup(new Framer({ startup: true }).push(build.gssEncRequest())[0]!)).toEqual({ name: 'gssEncRequest' });
    expect(parseStartup(new Framer({ startup: true }).push(build.cancel(42, -7))[0]!)).toEqual({ name: 'cancelRequest', processId: 42, secretKey: -7 });
  });

  it('refuses oversize and undersize lengths before buffering the body, trailing bytes, missing terminators and invalid UTF-8', () => {
    const oversize = Buffer.from([0x51, 0x00, 0x20, 0x00, 0x01]);
    expect(() => new Framer({ startup: false, maxBytes: 1024 * 1024 }).push(oversize)).toThrow(/exceeds the maximum/);
    expect(() => new Framer({ startup: false }).push(Buffer.from([0x51, 0, 0, 0, 3]))).toThrow(ProtocolViolation);
    const trailing = Buffer.from([0x51, 0, 0, 0, 8, 0x41, 0, 0x42, 0]);
    expect(() => parseFrontend(new Framer({ startup: false }).push(trailing)[0]!)).toThrow(/longer than its contents/);
    const unterminated = Buffer.from([0x51, 0, 0, 0, 6, 0x41, 0x42]);
    expect(() => parseFrontend(new Framer({ startup: false }).push(unterminated)[0]!)).toThrow(/terminator/);
    const invalid = Buffer.from([0x51, 0, 0, 0, 7, 0xc3, 0x28, 0]);
    expect(() => parseFrontend(new Framer({ startup: false }).push(invalid)[0]!)).toThrow(/UTF-8/);
    expect(() => parseFrontend(new Framer({ startup: false }).push(Buffer.from([0x7a, 0, 0, 0, 4]))[0]!)).toThrow(/unknown message type 0x7a/);
  });

  it('any bytes either parse or raise ProtocolViolation, both directions, never another error', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 256 }), fc.boolean(), (bytes, startup) => {
      const framer = new Framer({ startup, maxBytes: 4096 });
      try {
        for (const frame of framer.push(Buffer.from(bytes))) {
          if (startup) parseStartup(frame);
          else {
            parseFrontend(frame);
            parseBackend(frame);
          }
        }
      } catch (err) {
        expect(err).toBeInstanceOf(ProtocolViolation);
      }
    }), { numRuns: 2000 });
  });

  it('reads the backend messages the gateway acts on', () => {
    const frames = new Framer({ startup: false }).push(Buffer.concat([backend.readyForQuery('E'), backend.error('ERROR', '42501', 'no'), backend.backendKeyData(1, 2), backend.parameterStatus('a', 'b')]));
    expect(frames.map((f) => parseBackend(f))).toEqual([
      { name: 'readyForQuery', status: 'E' },
      { name: 'error', fields: new Map([['S', 'ERROR'], ['V', 'ERROR'], ['C', '42501'], ['M', 'no']]) },
      { name: 'backendKeyData', processId: 1, secretKey: 2 },
      { name: 'parameterStatus', parameter: 'a', value: 'b' },
    ]);
    expect([rowsOf('INSERT 0 3'), rowsOf('UPDATE 2'), rowsOf('SELECT 5'), rowsOf('BEGIN')]).toEqual([3, 2, 5, null]);
  });
});
