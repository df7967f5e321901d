import { describe, expect, it } from 'vitest';
import { compileCidrs, parseAddress } from './cidr.js';

describe('CIDR sets', () => {
  const set = compileCidrs(['10.0.0.0/8', '192.168.1.7', '2001:db8::/32', '::ffff:172.16.0.0/108']);
  const cases: Array<[string, boolean]> = [
    ['10.1.2.3', true],
    ['11.0.0.1', false],
    ['192.168.1.7', true],
    ['192.168.1.8', false],
    ['::ffff:10.9.9.9', true],
    ['2001:db8:1::5', true],
    ['2001:db9::1', false],
    ['172.16.5.5', true],
    ['172.32.0.1', false],
  ];
  for (const [address, inside] of cases) {
    it(`${address} is ${inside ? 'inside' : 'outside'}`, () => {
      expect(set.contains(parseAddress(address)!)).toBe(inside);
    });
  }

  it('/0 matches every address of its family', () => {
    expect(compileCidrs(['0.0.0.0/0']).contains(parseAddress('203.0.113.1')!)).toBe(true);
    expect(compileCidrs(['0.0.0.0/0']).contains(parseAddress('2001:db8::1')!)).toBe(false);
  });

  it('rejects what is not an address or a prefix', () => {
    expect(parseAddress('10.0.0')).toBeUndefined();
    expect(() => compileCidrs(['10.0.0.0/33'])).toThrow();
    expect(() => compileCidrs(['example.com/8'])).toThrow();
  });
});
