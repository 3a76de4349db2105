/**
 * In-band signaling: mailboxes carried by the mesh itself. A signal for a peer we are not linked with
 * goes to a neighbour that is linked with it (the `signal` message, relayed one hop), with no DHT
 * round trip; connectThroughDht (p2p/signal.ts) runs over these mailboxes as over the DHT's, with the
 * same items (p2p/signal-item.ts: compact offers and answers, and knocks). A relay could carry anyone's
 * signals, so the peer (p2p/peer.ts) checks the new link's hello against the card the dialled key
 * signed in the DHT. Inbox and routes are bounded. Isomorphic.
 */
import { bytesToHex, type Hex, hexToBytes } from "viem";
import type { Mesh } from "./mesh.ts";
import { type Mailboxes, SignalingError } from "./signal.ts";
import { encodeSignalItem } from "./signal-item.ts";

/** The item that asks the other side to dial back (its offer comes back, or our offer goes). */
const KNOCK = encodeSignalItem({ type: "knock" });
/** Senders kept in the inbox at most (the oldest is forgotten first). */
const MAX_SENDERS = 64;

export class MeshMailboxes implements Mailboxes {
  readonly publicKey: Uint8Array;
  readonly #mesh: Mesh;
  readonly #inbox = new Map<string, { payload: Uint8Array; seq: number }>();
  readonly #waiters = new Map<string, Set<() => void>>();
  /** Sender → the neighbour its last signal came through: the answer goes back that way. */
  readonly #routes = new Map<string, Hex>();
  #seq = 0;

  /** `onKnock` hears a knock, or a first signal, from a peer we may not be dialling yet. */
  constructor(mesh: Mesh, onKnock: (from: Hex) => void) {
    this.#mesh = mesh;
    this.publicKey = hexToBytes(mesh.id);
    mesh.on("signal", (message, relay) => {
      const from = message.from.toLowerCase();
      // Straight from a neighbour (it is linked with us already), or relayed by one.
      if (relay.id !== from) {
        this.#routes.delete(from);
        this.#routes.set(from, relay.id);
        if (this.#routes.size > MAX_SENDERS) this.#routes.delete(this.#routes.keys().next().value as string);
      }
      if (!sameBytes(message.payload, KNOCK)) {
        this.#inbox.delete(from);
        this.#inbox.set(from, { payload: message.payload, seq: ++this.#seq });
        if (this.#inbox.size > MAX_SENDERS) this.#inbox.delete(this.#inbox.keys().next().value as string);
        for (const wake of [...(this.#waiters.get(from) ?? [])]) wake();
      }
      onKnock(from as Hex);
    });
  }

  /**
   * The neighbour a signal to `to` can go through: the one its own signals came through, else one
   * that says it is linked with it.
   */
  via(to: Hex): Hex | undefined {
    const key = to.toLowerCase();
    const route = this.#routes.get(key);
    if (route && this.#mesh.peer(route)) return route;
    return this.#mesh.peers.find((peer) => peer.neighbours.has(key))?.id;
  }

  async sendMail(to: Uint8Array, payload: Uint8Array): Promise<void> {
    const key = bytesToHex(to);
    const via = this.via(key);
    if (!via || !this.#mesh.relaySignal(via, key, payload))
      throw new SignalingError("No neighbour is linked with that peer.", key);
  }

  /** Asks `to` to dial us through the mesh. */
  async knock(to: Hex): Promise<void> {
    await this.sendMail(hexToBytes(to), KNOCK);
  }

  async readMail(from: Uint8Array): Promise<{ payload: Uint8Array; seq: number } | undefined> {
    return this.#inbox.get(bytesToHex(from));
  }

  onMail(from: Uint8Array, handler: () => void): () => void {
    const key = bytesToHex(from);
    let waiters = this.#waiters.get(key);
    if (!waiters) {
      waiters = new Set();
      this.#waiters.set(key, waiters);
    }
    waiters.add(handler);
    return () => {
      waiters.delete(handler);
      if (waiters.size === 0) this.#waiters.delete(key);
    };
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}
