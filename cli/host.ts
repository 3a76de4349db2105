/**
 * Where the world's parts and a peer's sockets listen (`--host`, SEEDCRAFT_HOST: an IPv4 address of this
 * machine, 127.0.0.1 by default, 0.0.0.0 only when asked) and the name others are given for it
 * (`--public-host`, SEEDCRAFT_PUBLIC_HOST: what goes into the URLs of seedcraft.json, run.json and the
 * printed lines). A bind address is checked before anything starts. Node-only.
 */
import { lookup } from "node:dns/promises";
import net from "node:net";
import { networkInterfaces } from "node:os";
import { HostNotLocalError, UsageError } from "./errors.ts";

export const DEFAULT_HOST = "127.0.0.1";

/** 0.0.0.0: every interface of this machine. */
export function isWildcard(host: string): boolean {
  return host === "0.0.0.0";
}

/** Where a process on this machine reaches a socket bound to `host`: loopback for a wildcard bind. */
export function reachAt(host: string): string {
  return isWildcard(host) ? DEFAULT_HOST : host;
}

/** A host as a URL's authority wants it (an IPv6 address in brackets). */
export function urlHost(host: string): string {
  return net.isIPv6(host) ? `[${host}]` : host;
}

/** This machine's IPv4 addresses (loopback first). */
export function localAddresses(): string[] {
  const addresses = Object.values(networkInterfaces())
    .flat()
    .filter((info) => info?.family === "IPv4")
    .map((info) => info?.address as string);
  return [...new Set(addresses)].sort((a, b) => Number(!a.startsWith("127.")) - Number(!b.startsWith("127.")));
}

/** A name's IPv4 address, or undefined when it has none within `timeoutMs` (a resolver that hangs). */
async function resolveIPv4(name: string, timeoutMs: number): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), timeoutMs);
  });
  try {
    return await Promise.race([
      lookup(name, { family: 4 }).then(
        (found) => found.address,
        () => undefined,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Listens once on host:0: the system's own word on whether `address` is this machine's. */
function canListenOn(address: string): Promise<NodeJS.ErrnoException | undefined> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", (error: NodeJS.ErrnoException) => resolve(error));
    server.listen({ host: address, port: 0, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}

/**
 * Checks a bind address (`flag` names where it came from) and returns it as an IPv4 address: a name is
 * resolved first. Throws UsageError for what is no address at all (IPv6 included: the DHT speaks IPv4),
 * HostNotLocalError for an address that is not this machine's; both well within 10 s.
 */
export async function checkBindHost(value: string | undefined, flag = "--host"): Promise<string> {
  const host = (value ?? "").trim() || DEFAULT_HOST;
  if (net.isIPv6(host) || host.startsWith("["))
    throw new UsageError(
      `${flag} ${host}: IPv6 is not supported (the DHT speaks IPv4); give an IPv4 address of this machine, or 0.0.0.0 for all of them`,
    );
  if (!net.isIPv4(host) && !/^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(host))
    throw new UsageError(`${flag} wants an address of this machine (such as 127.0.0.1), got ${JSON.stringify(host)}`);
  const address = net.isIPv4(host) ? host : await resolveIPv4(host, 5000);
  if (address === undefined)
    throw new HostNotLocalError(flag, host, "it does not resolve to an IPv4 address", localAddresses());
  if (isWildcard(address)) return address;
  const refused = await canListenOn(address);
  if (refused)
    throw new HostNotLocalError(
      flag,
      host,
      refused.code === "EADDRNOTAVAIL"
        ? `nothing can listen on ${address} here`
        : `listening on ${address} failed (${refused.code ?? refused.message})`,
      localAddresses(),
      refused,
    );
  return address;
}

/**
 * The name others are given (`--public-host`): a host name or an IPv4 address, without scheme or port.
 * Default: the bind address, or for a wildcard bind this machine's first address off loopback.
 */
export function publicHostOf(value: string | undefined, bindHost: string, flag = "--public-host"): string {
  const given = value?.trim();
  if (given === undefined || given === "") {
    if (!isWildcard(bindHost)) return bindHost;
    return localAddresses().find((address) => !address.startsWith("127.")) ?? DEFAULT_HOST;
  }
  if (isWildcard(given) || !/^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(given))
    throw new UsageError(
      `${flag} wants the name or IPv4 address others reach this machine by, without scheme or port (such as play.example.org), got ${JSON.stringify(given)}`,
    );
  return given;
}
