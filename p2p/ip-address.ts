/**
 * IP addresses as ICE candidates carry them: text to raw bytes (4 for IPv4, 16 for IPv6) and back, strictly
 * (no zone ids, no leading zeros in IPv4), with IPv6 printed in its canonical short form (RFC 5952).
 * Isomorphic, no I/O.
 */

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

/** The raw bytes of an IPv4 or IPv6 address; undefined for anything else (names, zones, junk). */
export function ipToBytes(text: string): Uint8Array | undefined {
  if (IPV4.test(text)) return new Uint8Array(text.split(".").map(Number));
  return ipv6ToBytes(text);
}

function ipv6ToBytes(text: string): Uint8Array | undefined {
  if (!text.includes(":") || text.length > 45) return undefined;
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const groups = (half: string): number[] | undefined => {
    if (half === "") return [];
    const parts = half.split(":");
    const out: number[] = [];
    for (const [i, part] of parts.entries()) {
      // An embedded IPv4 address may end the address (::ffff:192.0.2.1).
      if (i === parts.length - 1 && IPV4.test(part)) {
        const [a, b, c, d] = part.split(".").map(Number) as [number, number, number, number];
        out.push((a << 8) | b, (c << 8) | d);
      } else if (HEX_GROUP.test(part)) out.push(Number.parseInt(part, 16));
      else return undefined;
    }
    return out;
  };
  const head = groups(halves[0] as string);
  const tail = halves.length === 2 ? groups(halves[1] as string) : [];
  if (!head || !tail) return undefined;
  // An embedded IPv4 address may only end the whole address.
  if (halves.length === 2 && IPV4.test((halves[0] as string).split(":").at(-1) ?? "")) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const all = [...head, ...new Array<number>(halves.length === 2 ? missing : 0).fill(0), ...tail];
  const bytes = new Uint8Array(16);
  all.forEach((group, i) => {
    bytes[2 * i] = group >> 8;
    bytes[2 * i + 1] = group & 0xff;
  });
  return bytes;
}

/** The text of a 4- or 16-byte address (IPv6 in RFC 5952 form: lowercase, the longest zero run as "::"). */
export function bytesToIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return Array.from(bytes).join(".");
  if (bytes.length !== 16) throw new RangeError(`an IP address is 4 or 16 bytes, not ${bytes.length}`);
  const groups = Array.from({ length: 8 }, (_, i) => ((bytes[2 * i] as number) << 8) | (bytes[2 * i + 1] as number));
  let best = { at: -1, length: 1 };
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let end = i;
    while (end < 8 && groups[end] === 0) end++;
    if (end - i > best.length) best = { at: i, length: end - i };
    i = end;
  }
  const hex = (list: number[]) => list.map((group) => group.toString(16)).join(":");
  if (best.at < 0) return hex(groups);
  return `${hex(groups.slice(0, best.at))}::${hex(groups.slice(best.at + best.length))}`;
}
