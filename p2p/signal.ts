/**
 * Opens a WebRTC connection to a peer known by its DHT key, with the offer and the answer carried in
 * BEP44 mailboxes (no server). The lower key offers. Signals are sent whole (no trickle): a mailbox
 * keeps only its latest message, and a data-channel SDP with its loopback candidates is about 600
 * bytes, under the DHT's 1000. Isomorphic: Node passes node-datachannel's WebRTC (p2p/node/rtc.ts),
 * browsers their own; the mailboxes are a DHT node (p2p/node/dht.ts) or the gateway (p2p/gateway-client.ts).
 */
import Peer from "simple-peer";
import { SeedcraftError } from "../core/errors.ts";

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

type Description = { type: "offer" | "answer"; sdp: string };
/** A signal in a mailbox: the description, the attempt it belongs to, and when it was sent (ms). */
export type MailSignal = Description & { n: string; t: number };

/**
 * An SDP cut down to what a data-channel connection needs, so that a browser's fits a BEP44 value:
 * UDP candidates only, without their optional extensions (generation, network id and cost), no
 * attributes a data channel ignores, and bare line feeds (restoreSdp puts CRLF back). Chromium's
 * answer grew past 1000 bytes with its TCP candidates.
 */
export function minimizeSdp(sdp: string): string {
  return sdp
    .split(/\r?\n/)
    .filter((line) => line !== "")
    .filter((line) => !/^a=candidate:\S+ \d+ tcp /i.test(line))
    .filter((line) => !/^a=(extmap-allow-mixed|msid-semantic|ice-options)/.test(line))
    .map((line) =>
      line.startsWith("a=candidate:") ? line.replace(/ (generation|network-id|network-cost) \S+/g, "") : line,
    )
    .join("\n");
}

export function restoreSdp(sdp: string): string {
  return `${sdp.split(/\r?\n/).join("\r\n")}\r\n`;
}

/** A mailbox payload as a signal; undefined for anything else (it is ignored). */
export function parseSignal(payload: Uint8Array): MailSignal | undefined {
  if (payload.length >= 1000) return undefined;
  try {
    const value = JSON.parse(new TextDecoder().decode(payload)) as unknown;
    if (typeof value !== "object" || value === null) return undefined;
    const { type, sdp, n, t } = value as Record<string, unknown>;
    if ((type !== "offer" && type !== "answer") || typeof sdp !== "string" || !sdp.startsWith("v=0")) return undefined;
    if (typeof n !== "string" || !/^[0-9a-f]{16}$/.test(n) || typeof t !== "number" || !Number.isFinite(t))
      return undefined;
    return { type, sdp: restoreSdp(sdp), n, t };
  } catch {
    return undefined;
  }
}

/** Whether this side offers: the lower public key does, so both sides agree without talking. */
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
   * How long after its first ICE candidate a side takes gathering as done (signals go whole, without
   * trickle, and node-datachannel never reports the end): 200 ms by default, less on loopback.
   */
  iceCompleteMs?: number;
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
  const peer = new Peer({
    initiator,
    trickle: false,
    ...(options.wrtc ? { wrtc: options.wrtc } : {}),
    ...(options.config ? { config: options.config } : {}),
    // The polyfill never reports the end of ICE gathering; loopback candidates come at once.
    ...({ iceCompleteTimeout: options.iceCompleteMs ?? 200 } as object),
  });
  let attempt = initiator ? randomAttempt() : undefined;
  let done = false;
  peer.on("signal", (data: Description) => {
    const signal: MailSignal = { type: data.type, sdp: minimizeSdp(data.sdp), n: attempt as string, t: now() };
    void route
      .sendMail(remoteKey, new TextEncoder().encode(JSON.stringify(signal)), options.address)
      .catch((error: Error) => peer.destroy(error));
  });
  let superseded: (() => void) | undefined;
  let onAbort: (() => void) | undefined;
  const poll = async () => {
    let answeredOffer = false;
    while (!done) {
      const mails = await Promise.all(boxes.map((box) => box.readMail(remoteKey).catch(() => undefined)));
      if (done || peer.destroyed) return;
      let offer: { signal: MailSignal; box: Mailboxes } | undefined;
      for (const [i, mail] of mails.entries()) {
        const signal = mail ? parseSignal(mail.payload) : undefined;
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
        peer.signal({ type: offer.signal.type, sdp: offer.signal.sdp });
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
        () => reject(new SignalingError("The peer did not connect in time.", `${timeoutMs} ms`)),
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

/** Offer attempts this process answered already (an attempt id is random, so one set serves every peer). */
const answered = new Set<string>();
