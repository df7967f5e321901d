import { isIPv4, isIPv6 } from 'node:net';

// Token CIDR allow-lists are compiled once per cache entry into numeric ranges;
// a request then parses its client address (only when the token has a list)
// and compares numbers, never strings.

/** An IPv4 address as an unsigned 32-bit number, or an IPv6 one as 8 16-bit groups. */
export type ParsedAddress = { readonly v4: number } | { readonly v6: Uint16Array };

interface V4Range {
  readonly base: number;
  readonly mask: number;
}
interface V6Range {
  readonly groups: Uint16Array;
  readonly bits: number;
}

export interface CidrSet {
  readonly size: number;
  contains(address: ParsedAddress): boolean;
}

function parseV4(text: string): number {
  const parts = text.split('.');
  let value = 0;
  for (const part of parts) value = value * 256 + Number(part);
  return value >>> 0;
}

function parseV6(text: string): Uint16Array {
  const groups = new Uint16Array(8);
  let head = text;
  let tail = '';
  const gap = text.indexOf('::');
  if (gap >= 0) {
    head = text.slice(0, gap);
    tail = text.slice(gap + 2);
  }
  const expand = (part: string): number[] => {
    if (part === '') return [];
    const out: number[] = [];
    for (const group of part.split(':')) {
      if (group.includes('.')) {
        const v4 = parseV4(group);
        out.push(v4 >>> 16, v4 & 0xffff);
      } else out.push(parseInt(group, 16));
    }
    return out;
  };
  const front = expand(head);
  const back = expand(tail);
  front.forEach((g, i) => (groups[i] = g));
  back.forEach((g, i) => (groups[8 - back.length + i] = g));
  return groups;
}

/** Parses a socket or forwarded address; IPv4-mapped IPv6 (`::ffff:a.b.c.d`) counts as IPv4. */
export function parseAddress(text: string): ParsedAddress | undefined {
  if (isIPv4(text)) return { v4: parseV4(text) };
  const zone = text.indexOf('%');
  const bare = zone >= 0 ? text.slice(0, zone) : text;
  if (!isIPv6(bare)) return undefined;
  const groups = parseV6(bare);
  if (groups[0] === 0 && groups[1] === 0 && groups[2] === 0 && groups[3] === 0 && groups[4] === 0 && groups[5] === 0xffff) {
    return { v4: ((groups[6]! << 16) | groups[7]!) >>> 0 };
  }
  return { v6: groups };
}

/** Throws on a malformed CIDR: lists are validated when tokens are created, so this is a store inconsistency. */
export function compileCidrs(cidrs: readonly string[]): CidrSet {
  const v4: V4Range[] = [];
  const v6: V6Range[] = [];
  for (const cidr of cidrs) {
    const slash = cidr.indexOf('/');
    const addressText = slash >= 0 ? cidr.slice(0, slash) : cidr;
    const address = parseAddress(addressText);
    if (address === undefined) throw new Error(`invalid CIDR ${JSON.stringify(cidr)}`);
    const max = 'v4' in address && isIPv4(addressText) ? 32 : 128;
    const bits = slash >= 0 ? Number(cidr.slice(slash + 1)) : max;
    if (!Number.isInteger(bits) || bits < 0 || bits > max) throw new Error(`invalid CIDR ${JSON.stringify(cidr)}`);
    if ('v4' in address) {
      // A ::ffff:a.b.c.d/N range is the IPv4 range a.b.c.d/(N-96).
      const v4bits = max === 32 ? bits : Math.max(0, bits - 96);
      const mask = v4bits === 0 ? 0 : (0xffffffff << (32 - v4bits)) >>> 0;
      v4.push({ base: (address.v4 & mask) >>> 0, mask });
    } else {
      v6.push({ groups: address.v6, bits });
    }
  }
  return {
    size: cidrs.length,
    contains(address: ParsedAddress): boolean {
      if ('v4' in address) {
        for (const range of v4) if (((address.v4 & range.mask) >>> 0) === range.base) return true;
        return false;
      }
      for (const range of v6) if (v6Within(address.v6, range)) return true;
      return false;
    },
  };
}

function v6Within(groups: Uint16Array, range: V6Range): boolean {
  let bits = range.bits;
  for (let i = 0; i < 8 && bits > 0; i++) {
    const take = Math.min(16, bits);
    const mask = (0xffff << (16 - take)) & 0xffff;
    if ((groups[i]! & mask) !== (range.groups[i]! & mask)) return false;
    bits -= take;
  }
  return true;
}
