import { isIP } from 'node:net';

/** Validates an IPv4 or IPv6 CIDR (`10.0.0.0/8`, `2001:db8::/32`, or a bare address) and returns its canonical text. */
export function parseCidr(text: string): string | undefined {
  const slash = text.indexOf('/');
  const address = slash === -1 ? text : text.slice(0, slash);
  const family = isIP(address);
  if (family === 0) return undefined;
  const max = family === 4 ? 32 : 128;
  if (slash === -1) return `${address}/${max}`;
  const prefixText = text.slice(slash + 1);
  if (!/^[0-9]{1,3}$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  if (prefix > max) return undefined;
  return `${address}/${prefix}`;
}

/** The address as a bigint and its width in bits. */
function addressBits(address: string): { value: bigint; width: number } {
  if (isIP(address) === 4) return { value: address.split('.').reduce((v, part) => (v << 8n) | BigInt(Number(part)), 0n), width: 32 };
  let head = address;
  let tail = '';
  const gap = address.indexOf('::');
  if (gap >= 0) {
    head = address.slice(0, gap);
    tail = address.slice(gap + 2);
  }
  const groups = (part: string): number[] => (part === '' ? [] : part.split(':').flatMap((g) => {
    if (!g.includes('.')) return [parseInt(g, 16)];
    const v4 = addressBits(g).value;
    return [Number(v4 >> 16n), Number(v4 & 0xffffn)];
  }));
  const front = groups(head);
  const back = groups(tail);
  const all = [...front, ...new Array<number>(8 - front.length - back.length).fill(0), ...back];
  return { value: all.reduce((v, g) => (v << 16n) | BigInt(g), 0n), width: 128 };
}

/** Every address of canonical CIDR `inner` is in canonical CIDR `outer` (same family only). */
export function cidrWithin(inner: string, outer: string): boolean {
  const [innerAddress, innerPrefix] = inner.split('/') as [string, string];
  const [outerAddress, outerPrefix] = outer.split('/') as [string, string];
  const a = addressBits(innerAddress);
  const b = addressBits(outerAddress);
  if (a.width !== b.width || Number(innerPrefix) < Number(outerPrefix)) return false;
  const shift = BigInt(b.width - Number(outerPrefix));
  return a.value >> shift === b.value >> shift;
}
