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
