/**
 * The STUN/TURN servers WebRTC gathers candidates from, in RTCIceServer form ({urls, username?, credential?}):
 * one parser for SEEDCRAFT_ICE_SERVERS, `--ice-servers` and seedcraft.json's `iceServers`, used by the CLI and
 * the app alike, so a list the one accepts the other accepts too.
 */
import { SeedcraftError } from "./errors.ts";

/** One STUN or TURN server (the shape of the DOM's RTCIceServer, which it is assignable to). */
export type IceServer = { urls: string | string[]; username?: string; credential?: string };

export class IceServersError extends SeedcraftError {
  /** Where the list came from: SEEDCRAFT_ICE_SERVERS, --ice-servers, seedcraft.json's iceServers. */
  readonly source: string;

  constructor(source: string, details: string) {
    super(
      "BAD_ICE_SERVERS",
      `${source} is not a list of ICE servers.`,
      `${details}. Expected JSON such as [{"urls":"stun:stun.example.org:3478"},{"urls":"turn:turn.example.org:3478","username":"u","credential":"p"}]`,
    );
    this.name = "IceServersError";
    this.source = source;
  }
}

/** More would only slow ICE down: every server is asked by every connection. */
const MAX_SERVERS = 16;
const MAX_URLS = 8;
const MAX_FIELD = 512;
const KEYS = new Set(["urls", "username", "credential"]);

/**
 * RFC 7064/7065: `stun:host[:port]`, `turn:host[:port][?transport=udp|tcp]`, `turns:` the same over TLS. The
 * host is a name, an IPv4 address, or an IPv6 one in brackets.
 */
const ICE_URL =
  /^(stun|turn|turns):(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::(\d{1,5}))?(\?transport=(?:udp|tcp))?$/;

function checkUrl(source: string, where: string, url: unknown): "stun" | "turn" {
  if (typeof url !== "string" || url === "") throw new IceServersError(source, `${where}: a URL is a non-empty string`);
  const match = ICE_URL.exec(url);
  if (!match) {
    const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1];
    throw new IceServersError(
      source,
      scheme && !["stun", "turn", "turns"].includes(scheme.toLowerCase())
        ? `${where}: ${JSON.stringify(url)} has the scheme ${scheme}:, not stun:, turn: or turns:`
        : `${where}: ${JSON.stringify(url)} is not stun:host[:port], turn:host[:port][?transport=udp|tcp] or turns:…`,
    );
  }
  const port = match[3] === undefined ? undefined : Number(match[3]);
  if (port !== undefined && (port < 1 || port > 65535))
    throw new IceServersError(source, `${where}: ${JSON.stringify(url)} has no valid port (1-65535)`);
  if (match[1] === "stun" && match[4] !== undefined)
    throw new IceServersError(source, `${where}: ${JSON.stringify(url)}: a stun: URL takes no ?transport`);
  return match[1] === "stun" ? "stun" : "turn";
}

function checkField(source: string, where: string, name: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value === "" || value.length > MAX_FIELD)
    throw new IceServersError(source, `${where}: ${name} must be a string of 1 to ${MAX_FIELD} characters`);
  return value;
}

/**
 * Checks an already-decoded list (seedcraft.json's `iceServers`) and returns a copy with only the known
 * fields; `source` names it in errors. Throws IceServersError on anything else, naming the entry.
 */
export function parseIceServers(value: unknown, source = "iceServers"): IceServer[] {
  if (!Array.isArray(value)) throw new IceServersError(source, "it is not a JSON list");
  if (value.length > MAX_SERVERS)
    throw new IceServersError(source, `it lists ${value.length} servers, at most ${MAX_SERVERS}`);
  return value.map((entry: unknown, index) => {
    const where = `entry ${index}`;
    if (typeof entry !== "object" || entry === null || Array.isArray(entry))
      throw new IceServersError(source, `${where} is not an object`);
    const record = entry as Record<string, unknown>;
    const unknown = Object.keys(record).filter((key) => !KEYS.has(key));
    if (unknown.length > 0)
      throw new IceServersError(
        source,
        `${where} has unknown fields ${unknown.join(", ")} (known: urls, username, credential)`,
      );
    const urls = record.urls;
    const list = Array.isArray(urls) ? urls : [urls];
    if (list.length === 0 || list.length > MAX_URLS)
      throw new IceServersError(source, `${where}: urls must be a URL or a list of 1 to ${MAX_URLS}`);
    const kinds = list.map((url) => checkUrl(source, where, url));
    const username = checkField(source, where, "username", record.username);
    const credential = checkField(source, where, "credential", record.credential);
    // Browsers refuse a TURN server without both (InvalidAccessError), as node-datachannel's polyfill does.
    if (kinds.includes("turn") && (username === undefined || credential === undefined))
      throw new IceServersError(source, `${where}: a turn: or turns: server needs a username and a credential`);
    return {
      urls: Array.isArray(urls) ? [...(urls as string[])] : (urls as string),
      ...(username === undefined ? {} : { username }),
      ...(credential === undefined ? {} : { credential }),
    };
  });
}

/** The JSON value of an ICE servers text, unchecked; undefined when the text is empty or absent (none). */
export function iceServersJsonValue(text: string | undefined, source: string): unknown {
  if (text === undefined || text.trim() === "") return undefined;
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new IceServersError(source, `it is not JSON (${(error as Error).message})`);
  }
}

/** Parses a JSON text (SEEDCRAFT_ICE_SERVERS, --ice-servers); empty or absent means none. */
export function parseIceServersJson(text: string | undefined, source = "SEEDCRAFT_ICE_SERVERS"): IceServer[] {
  const value = iceServersJsonValue(text, source);
  return value === undefined ? [] : parseIceServers(value, source);
}
