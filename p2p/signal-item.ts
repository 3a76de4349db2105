/**
 * The signaling mailbox item, version 1: what one peer leaves another in a BEP44 mailbox (p2p/node/dht.ts,
 * the gateway's) or sends in-band (p2p/mesh-mailboxes.ts). An offer or an answer carries its description
 * in compact form (p2p/sdp.ts) with each candidate packed in a few bytes, so that one with host,
 * server-reflexive and relay candidates fits one BEP44 value whole; a knock asks the other side to dial.
 * Bencoded, like peer cards, and read strictly: a peer of another version gets SignalVersionError, junk
 * gets SignalItemError, never a half-read description. Isomorphic, no I/O.
 */
import bencode from "bencode";
import { bytesToHex, hexToBytes } from "viem";
import { SeedcraftError } from "../core/errors.ts";
import { bytesToIp, ipToBytes } from "./ip-address.ts";
import {
  CANDIDATE_TYPES,
  type CompactCandidate,
  type CompactDescription,
  descriptionProblem,
  SETUP_ROLES,
} from "./sdp.ts";

export const SIGNAL_VERSION = 1;
/**
 * An item's bytes at most: a BEP44 value is under 1000 bytes even bencoded (its "995:" prefix
 * included), whichever way a DHT node counts.
 */
export const MAX_SIGNAL_ITEM_BYTES = 995;
/** Candidates an item carries at most (a browser on many interfaces gathers more: the least useful go). */
export const MAX_CANDIDATES = 16;

export type SignalItem =
  | { type: "knock" }
  | {
      type: "offer" | "answer";
      /** The attempt the signal belongs to: 8 random bytes as 16 hex digits. */
      n: string;
      /** When it was sent (ms since the epoch). */
      t: number;
      description: CompactDescription;
    };

export class SignalItemError extends SeedcraftError {
  constructor(details: string) {
    super("SIGNAL_MALFORMED", "Not a valid signaling item.", details);
    this.name = "SignalItemError";
  }
}

/** The item is another version's: the peer runs an older or newer build, and must update. */
export class SignalVersionError extends SeedcraftError {
  /** The version the item says it is; "json" for builds before version 1, which sent JSON. */
  readonly version: number | "json";
  constructor(version: number | "json") {
    super(
      "SIGNAL_VERSION",
      "The peer signals in another version of the protocol: one of the two runs an outdated build.",
      `item version ${version}, this build reads ${SIGNAL_VERSION}`,
    );
    this.name = "SignalVersionError";
    this.version = version;
  }
}

const KIND = { offer: "o", answer: "a", knock: "k" } as const;
const ADDRESS_KINDS = { ipv4: 0, ipv6: 1, mdns: 2 } as const;
/** Which candidates go first when an item is too large: hosts (a browser has many), relays last. */
const DROP_ORDER: readonly CompactCandidate["type"][] = ["host", "prflx", "srflx", "relay"];
const ascii = new TextEncoder();
const text = new TextDecoder("utf-8", { fatal: true });

export function encodeSignalItem(item: SignalItem): Uint8Array {
  if (item.type === "knock") return bencode.encode({ v: SIGNAL_VERSION, y: KIND.knock });
  const { n, t, description } = item;
  if (description.type !== item.type) throw new SignalItemError("the description's type is not the item's");
  if (!/^[0-9a-f]{16}$/.test(n)) throw new SignalItemError("the attempt is not 16 hex digits");
  if (!Number.isSafeInteger(t) || t < 0) throw new SignalItemError("the time is not a whole number of ms");
  const problem = descriptionProblem(description);
  if (problem) throw new SignalItemError(problem);
  let candidates = description.candidates.slice();
  for (;;) {
    const bytes = bencode.encode({
      v: SIGNAL_VERSION,
      y: KIND[item.type],
      n: hexToBytes(`0x${n}`),
      t,
      u: ascii.encode(description.ufrag),
      p: ascii.encode(description.pwd),
      f: description.fingerprint,
      s: SETUP_ROLES.indexOf(description.setup),
      m: ascii.encode(description.mid),
      x: description.sctpPort,
      ...(description.maxMessageSize !== undefined ? { z: description.maxMessageSize } : {}),
      c: candidates.map(packCandidate),
    });
    if (bytes.length <= MAX_SIGNAL_ITEM_BYTES && candidates.length <= MAX_CANDIDATES) return bytes;
    if (candidates.length === 0) throw new SignalItemError(`the item is ${bytes.length} bytes without candidates`);
    candidates = withoutLeastUseful(candidates);
  }
}

/** The candidates less the one an item can best spare: the lowest-priority one of the first type in DROP_ORDER. */
function withoutLeastUseful(candidates: CompactCandidate[]): CompactCandidate[] {
  const type = DROP_ORDER.find((t) => candidates.some((c) => c.type === t));
  let drop = -1;
  for (const [i, c] of candidates.entries())
    if (c.type === type && (drop < 0 || c.priority < (candidates[drop] as CompactCandidate).priority)) drop = i;
  return candidates.filter((_, i) => i !== drop);
}

/** type and address kind (one byte), priority (4), port (2), address (4 or 16), then the foundation. */
function packCandidate(candidate: CompactCandidate): Uint8Array {
  const ip = ipToBytes(candidate.address);
  const address = ip ?? hexToBytes(`0x${candidate.address.slice(0, 36).replaceAll("-", "")}`);
  const kind = ip ? (ip.length === 4 ? ADDRESS_KINDS.ipv4 : ADDRESS_KINDS.ipv6) : ADDRESS_KINDS.mdns;
  const foundation = ascii.encode(candidate.foundation);
  const bytes = new Uint8Array(7 + address.length + foundation.length);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, (CANDIDATE_TYPES.indexOf(candidate.type) << 4) | kind);
  view.setUint32(1, candidate.priority);
  view.setUint16(5, candidate.port);
  bytes.set(address, 7);
  bytes.set(foundation, 7 + address.length);
  return bytes;
}

function unpackCandidate(bytes: unknown): CompactCandidate {
  if (!(bytes instanceof Uint8Array) || bytes.length < 8) throw new SignalItemError("a candidate is too short");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const head = view.getUint8(0);
  const type = CANDIDATE_TYPES[head >> 4];
  if (!type) throw new SignalItemError("a candidate of an unknown type");
  const kind = head & 0x0f;
  const length = kind === ADDRESS_KINDS.ipv4 ? 4 : kind === ADDRESS_KINDS.ipv6 || kind === ADDRESS_KINDS.mdns ? 16 : 0;
  if (length === 0) throw new SignalItemError("a candidate of an unknown address kind");
  if (bytes.length < 8 + length) throw new SignalItemError("a candidate is too short");
  const raw = bytes.subarray(7, 7 + length);
  let address: string;
  if (kind === ADDRESS_KINDS.mdns) {
    const hex = bytesToHex(raw).slice(2);
    address = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}.local`;
  } else address = bytesToIp(raw);
  return {
    foundation: readText(bytes.subarray(7 + length), "foundation"),
    priority: view.getUint32(1),
    address,
    port: view.getUint16(5),
    type,
  };
}

/**
 * Reads an item, strictly: canonical bencoding, this version, exactly the fields of its kind, each
 * sound. Throws SignalVersionError for another version's item, SignalItemError for anything else.
 */
export function decodeSignalItem(payload: Uint8Array): SignalItem {
  if (payload.length > MAX_SIGNAL_ITEM_BYTES) throw new SignalItemError(`${payload.length} bytes is too large`);
  // Builds before version 1 sent {"type":…,"sdp":…} as JSON.
  if (payload[0] === 0x7b) throw new SignalVersionError("json");
  let value: unknown;
  try {
    value = bencode.decode(payload);
  } catch {
    throw new SignalItemError("not bencoded");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value) || value instanceof Uint8Array)
    throw new SignalItemError("not a dictionary");
  const fields = value as Record<string, unknown>;
  if (!Number.isSafeInteger(fields.v)) throw new SignalItemError("no version");
  if (fields.v !== SIGNAL_VERSION) throw new SignalVersionError(fields.v as number);
  let canonical: Uint8Array;
  try {
    canonical = bencode.encode(value);
  } catch {
    throw new SignalItemError("not bencoded");
  }
  if (!sameBytes(canonical, payload)) throw new SignalItemError("not canonical bencoding");
  const y = fields.y instanceof Uint8Array ? readText(fields.y, "kind") : "";
  if (y === KIND.knock) {
    expectKeys(fields, ["v", "y"]);
    return { type: "knock" };
  }
  const type = y === KIND.offer ? "offer" : y === KIND.answer ? "answer" : undefined;
  if (!type) throw new SignalItemError("neither an offer, an answer nor a knock");
  expectKeys(fields, ["v", "y", "n", "t", "u", "p", "f", "s", "m", "x", "c"], ["z"]);
  const n = fields.n;
  if (!(n instanceof Uint8Array) || n.length !== 8) throw new SignalItemError("the attempt is not 8 bytes");
  const t = fields.t;
  if (!Number.isSafeInteger(t) || (t as number) < 0) throw new SignalItemError("a bad time");
  const f = fields.f;
  if (!(f instanceof Uint8Array)) throw new SignalItemError("no fingerprint");
  const setup = SETUP_ROLES[fields.s as number];
  if (!Number.isInteger(fields.s) || !setup) throw new SignalItemError("a bad setup role");
  if (!Array.isArray(fields.c)) throw new SignalItemError("the candidates are not a list");
  if (fields.c.length > MAX_CANDIDATES) throw new SignalItemError(`more than ${MAX_CANDIDATES} candidates`);
  const description: CompactDescription = {
    type,
    ufrag: readText(fields.u, "ufrag"),
    pwd: readText(fields.p, "password"),
    fingerprint: f.slice(),
    setup,
    mid: readText(fields.m, "mid"),
    sctpPort: integer(fields.x, "SCTP port"),
    ...(fields.z !== undefined ? { maxMessageSize: integer(fields.z, "max-message-size") } : {}),
    candidates: fields.c.map(unpackCandidate),
  };
  const problem = descriptionProblem(description);
  if (problem) throw new SignalItemError(problem);
  return { type, n: bytesToHex(n).slice(2), t: t as number, description };
}

function expectKeys(fields: Record<string, unknown>, required: string[], optional: string[] = []): void {
  for (const key of required) if (!(key in fields)) throw new SignalItemError(`no "${key}" field`);
  for (const key of Object.keys(fields))
    if (!required.includes(key) && !optional.includes(key)) throw new SignalItemError(`an unknown "${key}" field`);
}

function readText(value: unknown, field: string): string {
  if (!(value instanceof Uint8Array)) throw new SignalItemError(`the ${field} is not a string`);
  try {
    return text.decode(value);
  } catch {
    throw new SignalItemError(`the ${field} is not UTF-8`);
  }
}

function integer(value: unknown, field: string): number {
  if (!Number.isSafeInteger(value)) throw new SignalItemError(`the ${field} is not an integer`);
  return value as number;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}
