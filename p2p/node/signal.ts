/**
 * Node-only: opens a WebRTC connection to a peer known by its DHT key, with the offer and the answer
 * carried in BEP44 mailboxes (no server). The lower key offers. Signals are sent whole (no trickle):
 * a mailbox keeps only its latest message, and a data-channel SDP with its loopback candidates is
 * about 600 bytes, under the DHT's 1000.
 */
import Peer from "simple-peer";
import { SeedcraftError } from "../../core/errors.ts";
import type { WorldDht } from "./dht.ts";
import { LOOPBACK_RTC_CONFIG, nodeWrtc } from "./rtc.ts";

export class SignalingError extends SeedcraftError {
  constructor(message: string, details?: string) {
    super("SIGNALING", message, details);
    this.name = "SignalingError";
  }
}

type Description = { type: "offer" | "answer"; sdp: string };

/** A mailbox payload as a session description; undefined for anything else (it is ignored). */
export function parseSignal(payload: Uint8Array): Description | undefined {
  if (payload.length >= 1000) return undefined;
  try {
    const value = JSON.parse(new TextDecoder().decode(payload)) as unknown;
    if (typeof value !== "object" || value === null) return undefined;
    const { type, sdp } = value as Record<string, unknown>;
    if ((type !== "offer" && type !== "answer") || typeof sdp !== "string" || !sdp.startsWith("v=0")) return undefined;
    return { type, sdp };
  } catch {
    return undefined;
  }
}

/** Whether this side offers: the lower public key does, so both sides agree without talking. */
export function isOfferer(own: Uint8Array, remote: Uint8Array): boolean {
  return Buffer.compare(Buffer.from(own), Buffer.from(remote)) < 0;
}

export async function connectThroughDht(
  dht: WorldDht,
  remoteKey: Uint8Array,
  options: { timeoutMs?: number; pollMs?: number; config?: RTCConfiguration } = {},
): Promise<Peer> {
  const initiator = isOfferer(dht.publicKey, remoteKey);
  const peer = new Peer({
    initiator,
    trickle: false,
    wrtc: nodeWrtc,
    config: options.config ?? LOOPBACK_RTC_CONFIG,
    // The polyfill never reports the end of ICE gathering; loopback candidates come at once.
    ...({ iceCompleteTimeout: 200 } as object),
  });
  const expected = initiator ? "answer" : "offer";
  let lastSeq = -1;
  let done = false;
  peer.on("signal", (data: Description) => {
    void dht
      .sendMail(remoteKey, new TextEncoder().encode(JSON.stringify(data)))
      .catch((error: Error) => peer.destroy(error));
  });
  const poll = async () => {
    while (!done) {
      const mail = await dht.readMail(remoteKey).catch(() => undefined);
      if (mail && mail.seq > lastSeq) {
        lastSeq = mail.seq;
        const signal = parseSignal(mail.payload);
        if (signal?.type === expected) {
          peer.signal(signal);
          return;
        }
      }
      await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 25));
    }
  };
  void poll();
  try {
    return await new Promise<Peer>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new SignalingError("The peer did not connect in time.", `${options.timeoutMs ?? 10_000} ms`)),
        options.timeoutMs ?? 10_000,
      );
      peer.once("connect", () => {
        clearTimeout(timer);
        resolve(peer);
      });
      peer.once("error", (error: Error) => {
        clearTimeout(timer);
        reject(new SignalingError("The connection failed.", error.message));
      });
    });
  } catch (error) {
    peer.destroy();
    throw error;
  } finally {
    done = true;
  }
}
