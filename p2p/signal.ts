/**
 * Opens a WebRTC connection to a peer known by its DHT key, with the offer and the answer carried in
 * BEP44 mailboxes (no server). The lower key offers, and keys say what kind of peer holds them, so a browser
 * always offers to a Node peer (p2p/key-kind.ts). Signals are sent whole (no trickle): a mailbox
 * keeps only its latest message, so a description goes once its candidates are gathered, in the compact
 * mailbox item of p2p/signal-item.ts (under the DHT's 1000 bytes with host, server-reflexive and relay
 * candidates), and is rebuilt into an SDP on arrival (p2p/sdp.ts). Isomorphic: Node passes
 * node-datachannel's WebRTC (p2p/node/rtc.ts), browsers their own; the mailboxes are a DHT node
 * (p2p/node/dht.ts), the gateway (p2p/gateway-client.ts) or the mesh itself (p2p/mesh-mailboxes.ts).
 */
import createDebug from "debug";
import Peer from "simple-peer";
import { SeedcraftError } from "../core/errors.ts";
import { type CandidateType, compactSdp, parseCandidate, rebuildSdp } from "./sdp.ts";
import { decodeSignalItem, encodeSignalItem, SignalItemError, SignalVersionError } from "./signal-item.ts";

const debug = createDebug("seedcraft:signal");

export type DhtAddress = { host: string; port: number };

/** What signaling needs of a DHT: our key, and mailboxes. */
export type Mailboxes = {
  readonly publicKey: Uint8Array;
  sendMail(to: Uint8Array, payload: Uint8Array, recipient?: DhtAddress): Promise<void>;
  readMail(from: Uint8Array): Promise<{ payload: Uint8Array; seq: number } | undefined>;
  /** Calls `handler` when mail from `from` may have just landed here (then it is read at once). */
  onMail?(from: Uint8Array, handler: () => void): () => void;
};

export class SignalingError extends SeedcraftError {
  constructor(message: string, details?: string) {
    super("SIGNALING", message, details);
    this.name = "SignalingError";
  }
}

/**
 * The other side made a newer offer while we waited on the one we answered (its attempt failed on its
 * side and it tried again): this attempt is dead, and the next one answers the new offer at once.
 */
export class SupersededError extends SignalingError {
  constructor() {
    super("The peer made a newer offer.");
    this.name = "SupersededError";
  }
}

/**
 * Connects, and when the other side gave up the attempt we answered and offered again (SupersededError),
 * answers that newer offer: up to `tries` attempts in all.
 */
export async function answeringNewerOffers<T>(connect: () => Promise<T>, tries = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await connect();
    } catch (error) {
      if (!(error instanceof SupersededError) || attempt >= tries) throw error;
    }
  }
}

type Description = { type: "offer" | "answer"; sdp: string };
/** A signal in a mailbox: the description, the attempt it belongs to, and when it was sent (ms). */
export type MailSignal = Description & { n: string; t: number };

/** A signal as a mailbox item (p2p/signal-item.ts): the description goes compact. Throws SdpError or SignalItemError. */
export function encodeSignal(signal: MailSignal): Uint8Array {
  const { type, n, t } = signal;
  return encodeSignalItem({ type, n, t, description: compactSdp(type, signal.sdp) });
}

/**
 * A mailbox item as a signal, its SDP rebuilt. Throws SignalVersionError for another version's item and
 * SignalItemError for anything else (a knock included).
 */
export function decodeSignal(payload: Uint8Array): MailSignal {
  const item = decodeSignalItem(payload);
  if (item.type === "knock") throw new SignalItemError("a knock, not an offer or an answer");
  // The o= line's session id, from the attempt: one attempt, one session.
  const sessionId = (BigInt(`0x${item.n}`) >> 1n).toString();
  return { type: item.type, sdp: rebuildSdp(item.description, sessionId), n: item.n, t: item.t };
}

/** A mailbox payload as a signal; undefined for anything else (it is ignored, and said under DEBUG). */
export function parseSignal(payload: Uint8Array): MailSignal | undefined {
  try {
    return decodeSignal(payload);
  } catch (error) {
    debug("ignored a mailbox item: %s", (error as Error).message);
    return undefined;
  }
}

/**
 * Whether this side offers, so that both sides agree without talking: the lower public key does. A browser's
 * key is always lower than a Node peer's (p2p/key-kind.ts), so between the two the browser offers.
 */
export function isOfferer(own: Uint8Array, remote: Uint8Array): boolean {
  for (let i = 0; i < Math.min(own.length, remote.length); i++)
    if (own[i] !== remote[i]) return (own[i] as number) < (remote[i] as number);
  return own.length < remote.length;
}

export type ConnectOptions = {
  timeoutMs?: number;
  /** The remote node's DHT address, when known: signals are also put straight into its node. */
  address?: DhtAddress;
  /** How often the mailbox is read (each read is a DHT lookup). */
  pollMs?: number;
  /** Offers older than this are left unanswered: their offerer gave up on them. */
  maxOfferAgeMs?: number;
  config?: RTCConfiguration;
  /** WebRTC for simple-peer where there is no global one (Node: p2p/node/rtc.ts). */
  wrtc?: object;
  /**
   * How long after its first ICE candidate a side takes gathering as done when it does not wait for it
   * (see gatherMs): 200 ms by default, less on loopback, where every candidate comes at once.
   */
  iceCompleteMs?: number;
  /**
   * Waits for ICE gathering before a description goes: until it is complete, or has a candidate of each
   * type the ICE servers give (server-reflexive from STUN, relay from TURN), at most this long (a server
   * that does not answer costs this much, then the description goes with what it has). 2000 ms by
   * default when `config` names ICE servers; otherwise only when set (node-datachannel never reports
   * the end of gathering to simple-peer, so a Node peer off loopback sets it).
   */
  gatherMs?: number;
  /** Gives the attempt up (its connection is closed): a peer that stops leaves none half open. */
  signal?: AbortSignal;
  now?: () => number;
};

const randomAttempt = (): string =>
  Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, "0")).join("");

/**
 * Connects to the peer with DHT key `remoteKey`; both sides call it. The offerer tags its offer with a
 * fresh attempt id and the time; the answerer answers only a recent offer it has not answered yet, and
 * the offerer takes only the answer that echoes its attempt. A mailbox keeps just its latest message,
 * so without the tags one side could answer, or accept, a signal of an attempt the other gave up.
 *
 * Given several mailboxes (the mesh's and the DHT's, p2p/mesh-mailboxes.ts), it reads them all and
 * sends through the first, except that an answer goes back the way its offer came: two peers that
 * dial each other at once by different ways still meet.
 */
export async function connectThroughDht(
  mailboxes: Mailboxes | readonly Mailboxes[],
  remoteKey: Uint8Array,
  options: ConnectOptions = {},
): Promise<Peer> {
  const boxes: readonly Mailboxes[] = Array.isArray(mailboxes) ? mailboxes : [mailboxes as Mailboxes];
  let route = boxes[0] as Mailboxes;
  const now = options.now ?? Date.now;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const pollMs = options.pollMs ?? 100;
  const maxOfferAgeMs = options.maxOfferAgeMs ?? 8_000;
  const initiator = isOfferer(route.publicKey, remoteKey);
  const servedTypes = candidateTypesOf(options.config);
  const gatherMs = options.gatherMs ?? (servedTypes.length > 0 ? DEFAULT_GATHER_MS : undefined);
  const peer = new Peer({
    initiator,
    trickle: false,
    ...(options.wrtc ? { wrtc: options.wrtc } : {}),
    ...(options.config ? { config: options.config } : {}),
    // Waiting for gathering here (gatherMs), simple-peer may hand the description over at once.
    ...({ iceCompleteTimeout: gatherMs !== undefined ? 1 : (options.iceCompleteMs ?? 200) } as object),
  });
  let attempt = initiator ? randomAttempt() : undefined;
  let done = false;
  /** The offer's candidates, held back until our answer is out (see holdCandidates). */
  let held: { mid: string; candidates: string[] } = { mid: "0", candidates: [] };
  peer.on("signal", (data: Description) => {
    const gathered =
      gatherMs === undefined ? Promise.resolve(data.sdp) : gatheredSdp(peer, data.sdp, servedTypes, gatherMs);
    void gathered
      .then((sdp) => {
        if (peer.destroyed) return;
        const payload = encodeSignal({ type: data.type, sdp, n: attempt as string, t: now() });
        debug("%s of %d bytes", data.type, payload.length);
        return route.sendMail(remoteKey, payload, options.address);
      })
      .then(() => {
        if (peer.destroyed) return;
        for (const candidate of held.candidates)
          peer.signal({ candidate: { candidate, sdpMid: held.mid, sdpMLineIndex: 0 } });
        held = { mid: held.mid, candidates: [] };
      })
      .catch((error: Error) => peer.destroy(error));
  });
  let superseded: (() => void) | undefined;
  let onAbort: (() => void) | undefined;
  /** The peer's signals are another version's: said when the attempt times out, instead of a bare timeout. */
  let stale: SignalVersionError | undefined;
  const ignored = new Map<Mailboxes, number>();
  const read = (box: Mailboxes, mail: { payload: Uint8Array; seq: number }): MailSignal | undefined => {
    try {
      return decodeSignal(mail.payload);
    } catch (error) {
      if (error instanceof SignalVersionError) stale = error;
      if (ignored.get(box) !== mail.seq) debug("ignored a mailbox item: %s", (error as Error).message);
      ignored.set(box, mail.seq);
      return undefined;
    }
  };
  const poll = async () => {
    let answeredOffer = false;
    while (!done) {
      const mails = await Promise.all(boxes.map((box) => box.readMail(remoteKey).catch(() => undefined)));
      if (done || peer.destroyed) return;
      let offer: { signal: MailSignal; box: Mailboxes } | undefined;
      for (const [i, mail] of mails.entries()) {
        const signal = mail ? read(boxes[i] as Mailboxes, mail) : undefined;
        if (initiator && signal?.type === "answer" && signal.n === attempt) {
          peer.signal({ type: signal.type, sdp: signal.sdp });
          return;
        }
        if (!initiator && signal?.type === "offer" && now() - signal.t < maxOfferAgeMs && !answered.has(signal.n))
          if (!offer || signal.t > offer.signal.t) offer = { signal, box: boxes[i] as Mailboxes };
      }
      if (offer) {
        // Answered one already: the offerer gave that attempt up and made this one.
        if (answeredOffer) return superseded?.();
        answered.add(offer.signal.n);
        attempt = offer.signal.n;
        route = offer.box;
        answeredOffer = true;
        const { sdp, ...rest } = holdCandidates(offer.signal.sdp);
        held = rest;
        peer.signal({ type: offer.signal.type, sdp });
      }
      // Until the next read, or until mail lands in one of our own boxes (put straight there).
      await new Promise<void>((resolve) => {
        const timer = setTimeout(wake, pollMs);
        const stops = boxes.map((box) => box.onMail?.(remoteKey, wake));
        function wake() {
          clearTimeout(timer);
          for (const stop of stops) stop?.();
          resolve();
        }
      });
    }
  };
  void poll().catch(() => undefined);
  try {
    return await new Promise<Peer>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(stale ?? new SignalingError("The peer did not connect in time.", `${timeoutMs} ms`)),
        timeoutMs,
      );
      peer.once("connect", () => {
        clearTimeout(timer);
        resolve(peer);
      });
      peer.once("error", (error: Error) => {
        clearTimeout(timer);
        reject(new SignalingError("The connection failed.", error.message));
      });
      superseded = () => {
        clearTimeout(timer);
        reject(new SupersededError());
      };
      onAbort = () => {
        clearTimeout(timer);
        reject(new SignalingError("The attempt was given up."));
      };
      if (options.signal?.aborted) onAbort();
      options.signal?.addEventListener("abort", onAbort);
    });
  } catch (error) {
    peer.destroy();
    throw error;
  } finally {
    done = true;
    if (onAbort) options.signal?.removeEventListener("abort", onAbort);
  }
}

/**
 * An offer without its candidates, and them apart: the answerer applies them only once its answer is
 * out. Given them at once, it checks the offerer's candidates straight away; the offerer's ICE (libjuice)
 * may then connect on those checks before the answer reaches it, start DTLS with no fingerprint to check
 * the other side's certificate against, fail ("unknown CA"), and then refuse the answer ("Got a remote
 * candidate without ICE transport"): about 1 loopback connect in 10 failed so. Held back, the checks
 * start about when the answer lands.
 */
export function holdCandidates(sdp: string): { sdp: string; mid: string; candidates: string[] } {
  const lines = sdp.split("\r\n");
  const candidates = lines.filter((line) => line.startsWith("a=candidate:")).map((line) => line.slice(2));
  const rest = lines.filter((line) => !line.startsWith("a=candidate:") && line !== "a=end-of-candidates");
  const mid = lines.find((line) => line.startsWith("a=mid:"))?.slice("a=mid:".length) ?? "0";
  return { sdp: rest.join("\r\n"), mid, candidates };
}

/** How long a description waits for gathering at most, by default (see ConnectOptions.gatherMs). */
export const DEFAULT_GATHER_MS = 2000;

/** The candidate types `config`'s ICE servers give: server-reflexive from STUN, relay from TURN. */
export function candidateTypesOf(config: RTCConfiguration | undefined): CandidateType[] {
  const urls = (config?.iceServers ?? []).flatMap((server: RTCIceServer | string) =>
    typeof server === "string" ? [server] : Array.isArray(server.urls) ? server.urls : [server.urls],
  );
  const types = new Set<CandidateType>();
  for (const url of urls) {
    if (/^stuns?:/i.test(url)) types.add("srflx");
    if (/^turns?:/i.test(url)) types.add("relay");
  }
  return [...types];
}

/**
 * The local description once gathering is complete or has a candidate of every type in `want`, or as
 * it stands after `capMs`. Read from the connection itself, which adds candidates as they come.
 */
function gatheredSdp(peer: Peer, first: string, want: readonly CandidateType[], capMs: number): Promise<string> {
  const pc = (peer as unknown as { _pc?: RTCPeerConnection })._pc;
  const current = () => pc?.localDescription?.sdp ?? first;
  const ready = () => {
    if (pc?.iceGatheringState === "complete") return true;
    if (want.length === 0) return false;
    const types = new Set(
      current()
        .split(/\r?\n/)
        .filter((line) => line.startsWith("a=candidate:"))
        .map((line) => parseCandidate(line.slice("a=candidate:".length))?.type),
    );
    return want.every((type) => types.has(type));
  };
  if (!pc || ready()) return Promise.resolve(current());
  return new Promise((resolve) => {
    const check = () => {
      if (ready() || peer.destroyed) finish();
    };
    const finish = () => {
      clearTimeout(timer);
      pc.removeEventListener("icecandidate", check);
      pc.removeEventListener("icegatheringstatechange", check);
      debug("gathered for %d ms", performance.now() - startedAt);
      resolve(current());
    };
    const startedAt = performance.now();
    const timer = setTimeout(finish, capMs);
    pc.addEventListener("icecandidate", check);
    pc.addEventListener("icegatheringstatechange", check);
  });
}

/** Offer attempts this process answered already (an attempt id is random, so one set serves every peer). */
const answered = new Set<string>();
