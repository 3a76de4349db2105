/**
 * The compact form of a data-channel session description: only what the other side needs to connect
 * (ICE ufrag and password, the DTLS fingerprint and role, the m-line's mid, SCTP port and message size,
 * and the UDP candidates), read out of an SDP and rebuilt into one that Chromium and libdatachannel both
 * accept. Everything else in an SDP is what either stack assumes for a lone data channel anyway. A
 * description with audio or video, several m-lines or another fingerprint hash is refused, typed.
 * Isomorphic, no I/O.
 */
import { hexToBytes } from "viem";
import { SeedcraftError } from "../core/errors.ts";
import { bytesToIp, ipToBytes } from "./ip-address.ts";

export const CANDIDATE_TYPES = ["host", "srflx", "prflx", "relay"] as const;
export type CandidateType = (typeof CANDIDATE_TYPES)[number];
export const SETUP_ROLES = ["actpass", "active", "passive"] as const;
export type SetupRole = (typeof SETUP_ROLES)[number];

/** A UDP candidate of component 1 (a data channel is bundled and muxed: there is no other). */
export type CompactCandidate = {
  foundation: string;
  priority: number;
  /** An IPv4 or IPv6 address, or a browser's mDNS name (`<uuid>.local`) hiding its host address. */
  address: string;
  port: number;
  type: CandidateType;
};

export type CompactDescription = {
  type: "offer" | "answer";
  ufrag: string;
  pwd: string;
  /** The DTLS certificate's sha-256 fingerprint, 32 raw bytes. */
  fingerprint: Uint8Array;
  setup: SetupRole;
  mid: string;
  sctpPort: number;
  /** The largest message the side takes; absent means SCTP's default of 64 KiB (RFC 8841). */
  maxMessageSize?: number;
  candidates: CompactCandidate[];
};

export class SdpError extends SeedcraftError {
  constructor(message: string, details?: string) {
    super("SDP_UNSUPPORTED", message, details);
    this.name = "SdpError";
  }
}

/** ICE's ufrag, password and foundation characters (RFC 8839's ice-char). */
const ICE_CHARS = /^[A-Za-z0-9+/]+$/;
/** A browser's mDNS host name: a random UUID under .local. */
export const MDNS_NAME = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.local$/;
const MID = /^[A-Za-z0-9_.-]{1,16}$/;
const DATA_CHANNEL_M_LINE = /^m=application \d+ UDP\/DTLS\/SCTP webrtc-datachannel$/;

/**
 * What is wrong with a compact description, or undefined when it is sound: the limits RFC 8839 sets
 * (ufrag 4–256 ice-chars, password 22–256, foundation 1–32), ports 1–65535, 32-bit priorities.
 */
export function descriptionProblem(description: CompactDescription): string | undefined {
  const { ufrag, pwd, fingerprint, setup, mid, sctpPort, maxMessageSize, candidates } = description;
  if (description.type !== "offer" && description.type !== "answer") return "the type is neither offer nor answer";
  if (ufrag.length < 4 || ufrag.length > 256 || !ICE_CHARS.test(ufrag)) return "a bad ICE ufrag";
  if (pwd.length < 22 || pwd.length > 256 || !ICE_CHARS.test(pwd)) return "a bad ICE password";
  if (fingerprint.length !== 32) return `a sha-256 fingerprint is 32 bytes, not ${fingerprint.length}`;
  if (!SETUP_ROLES.includes(setup)) return "a bad DTLS setup role";
  if (!MID.test(mid)) return "a bad mid";
  if (!isPort(sctpPort)) return "a bad SCTP port";
  if (maxMessageSize !== undefined && !(Number.isSafeInteger(maxMessageSize) && maxMessageSize >= 0))
    return "a bad max-message-size";
  for (const candidate of candidates) {
    const problem = candidateProblem(candidate);
    if (problem) return problem;
  }
  return undefined;
}

function candidateProblem({ foundation, priority, address, port, type }: CompactCandidate): string | undefined {
  if (foundation.length < 1 || foundation.length > 32 || !ICE_CHARS.test(foundation)) return "a bad foundation";
  if (!Number.isInteger(priority) || priority < 1 || priority > 0xffffffff) return "a bad candidate priority";
  if (!ipToBytes(address) && !MDNS_NAME.test(address)) return `a bad candidate address ${address.slice(0, 64)}`;
  if (!isPort(port)) return "a bad candidate port";
  if (!CANDIDATE_TYPES.includes(type)) return "a bad candidate type";
  return undefined;
}

const isPort = (port: number) => Number.isInteger(port) && port >= 1 && port <= 0xffff;

/**
 * Reads the compact description out of a local SDP (Chromium's or libdatachannel's). Candidates a data
 * channel cannot use over UDP (TCP, a second component, unknown address forms) are left out; so are
 * their extensions (generation, network id and cost, related address), which only inform. Throws
 * SdpError when the SDP is not one data channel's, or lacks what the other side needs.
 */
export function compactSdp(type: "offer" | "answer", sdp: string): CompactDescription {
  const lines = sdp.split(/\r?\n/).filter((line) => line !== "");
  if (lines[0] !== "v=0") throw new SdpError("Not a session description.", "it does not start with v=0");
  const mLines = lines.filter((line) => line.startsWith("m="));
  if (mLines.length !== 1 || !DATA_CHANNEL_M_LINE.test(mLines[0] as string))
    throw new SdpError("Only a description of one data channel can be sent compact.", mLines.join(" | "));
  // Session- and media-level attributes alike (libdatachannel puts the fingerprint in the session).
  const one = (name: string): string | undefined => {
    const values = new Set(lines.filter((line) => line.startsWith(`a=${name}:`)).map((l) => l.slice(name.length + 3)));
    if (values.size > 1) throw new SdpError(`The description has two different a=${name} values.`);
    return values.values().next().value?.trim();
  };
  const required = (name: string): string => {
    const value = one(name);
    if (value === undefined) throw new SdpError(`The description has no a=${name}.`);
    return value;
  };
  const fingerprintLine = required("fingerprint");
  const match = /^sha-256 ((?:[0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2})$/.exec(fingerprintLine);
  if (!match) throw new SdpError("The description has no sha-256 fingerprint.", fingerprintLine.slice(0, 120));
  const maxMessageSize = one("max-message-size");
  const candidates: CompactCandidate[] = [];
  for (const line of lines) {
    const candidate = line.startsWith("a=candidate:") ? parseCandidate(line.slice("a=candidate:".length)) : undefined;
    if (!candidate) continue;
    if (
      candidates.some((c) => c.address === candidate.address && c.port === candidate.port && c.type === candidate.type)
    )
      continue;
    candidates.push(candidate);
  }
  const description: CompactDescription = {
    type,
    ufrag: required("ice-ufrag"),
    pwd: required("ice-pwd"),
    fingerprint: hexToBytes(`0x${(match[1] as string).replaceAll(":", "")}`),
    setup: required("setup") as SetupRole,
    mid: required("mid"),
    sctpPort: Number(required("sctp-port")),
    ...(maxMessageSize !== undefined ? { maxMessageSize: Number(maxMessageSize) } : {}),
    candidates,
  };
  const problem = descriptionProblem(description);
  if (problem) throw new SdpError("The description cannot be sent compact.", problem);
  return description;
}

/** One `candidate:` attribute value as a compact candidate; undefined when a data channel cannot use it. */
export function parseCandidate(value: string): CompactCandidate | undefined {
  const [foundation, component, transport, priority, address, port, typ, type] = value.trim().split(/\s+/);
  if (component !== "1" || transport?.toLowerCase() !== "udp" || typ !== "typ") return undefined;
  if (!/^\d{1,10}$/.test(priority ?? "") || !/^\d{1,5}$/.test(port ?? "")) return undefined;
  // Addresses as the other side will read them back: IPv6 in its canonical form, names in lowercase.
  const bytes = ipToBytes(address ?? "");
  const candidate = {
    foundation: foundation ?? "",
    priority: Number(priority),
    address: bytes ? bytesToIp(bytes) : (address ?? "").toLowerCase(),
    port: Number(port),
    type: type as CandidateType,
  };
  return candidateProblem(candidate) ? undefined : candidate;
}

/**
 * The SDP of a compact description, in the form both stacks take: the one m-line with port 9 and a
 * null connection address (the candidates say where to go), every candidate, then end-of-candidates
 * (they were gathered whole). `sessionId` is the o= line's (digits).
 */
export function rebuildSdp(description: CompactDescription, sessionId = "0"): string {
  const problem = descriptionProblem(description);
  if (problem) throw new SdpError("The description cannot be rebuilt.", problem);
  if (!/^\d{1,19}$/.test(sessionId)) throw new SdpError("An SDP session id is digits.", sessionId);
  const { ufrag, pwd, fingerprint, setup, mid, sctpPort, maxMessageSize, candidates } = description;
  const hex = Array.from(fingerprint, (byte) => byte.toString(16).padStart(2, "0").toUpperCase()).join(":");
  return [
    "v=0",
    `o=- ${sessionId} 2 IN IP4 127.0.0.1`,
    "s=-",
    "t=0 0",
    `a=group:BUNDLE ${mid}`,
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
    "c=IN IP4 0.0.0.0",
    `a=ice-ufrag:${ufrag}`,
    `a=ice-pwd:${pwd}`,
    `a=fingerprint:sha-256 ${hex}`,
    `a=setup:${setup}`,
    `a=mid:${mid}`,
    `a=sctp-port:${sctpPort}`,
    ...(maxMessageSize !== undefined ? [`a=max-message-size:${maxMessageSize}`] : []),
    ...candidates.map((c) => `a=candidate:${c.foundation} 1 udp ${c.priority} ${c.address} ${c.port} typ ${c.type}`),
    "a=end-of-candidates",
    "",
  ].join("\r\n");
}
