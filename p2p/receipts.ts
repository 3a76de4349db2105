/**
 * Seeding receipts between two linked peers, over the torrent channel's control messages. Isomorphic.
 *
 * - The leecher (`ReceiptSigner`) signs, for each seeder and epoch, one growing batch of receipts (the
 *   contract's EIP-712 format, core/receipt.ts): one receipt per snapshot the seeder sent, for the bytes
 *   it sent. It sends only the receipts the seeder does not have yet, with the signature over the whole
 *   batch, and keeps them until the seeder acknowledges.
 * - The seeder (`ReceiptDesk`) rebuilds the whole batch from what it stored and what came, checks that the
 *   linked peer's wallet or session key signed it for this seeder, stores it durably, and only then
 *   acknowledges. A seeder that crashed before storing never acknowledged, so the leecher sends again.
 */
import createDebug from "debug";
import { type Address, getAddress, type Hex, type LocalAccount } from "viem";
import {
  MAX_RECEIPT_BYTES,
  type ReceiptBatch,
  type ReceiptDomain,
  recoverReceiptBatchSigner,
  type SignedReceiptBatch,
  signReceiptBatch,
} from "../core/receipt.ts";
import type { ChunkHead } from "./chunk-store.ts";

const log = createDebug("seedcraft:receipts");

/** Receipts one control message carries at most (about 30 KB: well inside the channel's 64 KiB). */
const RECEIPTS_PER_MESSAGE = 256;
/** Receipts signed for one seeder and epoch at most (core/receipt.ts MAX_BATCH_RECEIPTS). */
const MAX_RECEIPTS = 4096;
/** How long a leecher waits for an acknowledgement before sending again. */
const RESEND_MS = 2000;
/** Peers whose served contents a seeder remembers. */
const MAX_SERVED_PEERS = 1024;

type Wire =
  | {
      t: "receipts";
      epoch: number;
      /** How many receipts the seeder should hold already: these follow them. */
      from: number;
      receipts: [contentHash: Hex, bytes: string, nonce: string][];
      signature: Hex;
    }
  | { t: "ack"; epoch: number; count: number }
  | { t: "resync"; epoch: number; have: number }
  /** The seeder cannot take this batch (it does not extend what it holds, or names what it did not serve). */
  | { t: "refused"; epoch: number };

const HASH = /^0x[0-9a-fA-F]{64}$/;
const SIGNATURE = /^0x[0-9a-fA-F]{128}$/;
const DECIMAL = /^\d{1,20}$/;

/** Decodes a control message strictly; undefined if it is not one of ours. */
export function decodeReceiptMessage(bytes: Uint8Array): Wire | undefined {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const m = value as Record<string, unknown>;
  const epoch = m.epoch;
  if (typeof epoch !== "number" || !Number.isInteger(epoch) || epoch < 0 || epoch > 0xffff_ffff) return undefined;
  const count = (v: unknown) => typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= MAX_RECEIPTS;
  if (m.t === "ack") return count(m.count) ? { t: "ack", epoch, count: m.count as number } : undefined;
  if (m.t === "resync") return count(m.have) ? { t: "resync", epoch, have: m.have as number } : undefined;
  if (m.t === "refused") return { t: "refused", epoch };
  if (m.t !== "receipts" || !count(m.from) || typeof m.signature !== "string" || !SIGNATURE.test(m.signature))
    return undefined;
  if (!Array.isArray(m.receipts) || m.receipts.length === 0 || m.receipts.length > RECEIPTS_PER_MESSAGE)
    return undefined;
  const receipts: [Hex, string, string][] = [];
  for (const item of m.receipts as unknown[]) {
    if (!Array.isArray(item) || item.length !== 3) return undefined;
    const [hash, size, nonce] = item as unknown[];
    if (typeof hash !== "string" || !HASH.test(hash)) return undefined;
    if (typeof size !== "string" || !DECIMAL.test(size) || typeof nonce !== "string" || !DECIMAL.test(nonce))
      return undefined;
    receipts.push([hash as Hex, size, nonce]);
  }
  return { t: "receipts", epoch, from: m.from as number, receipts, signature: m.signature as Hex };
}

const encode = (message: Wire) => new TextEncoder().encode(JSON.stringify(message));

export type ReceiptLink = {
  /** Sends a control message to a linked peer; false when it is not linked. */
  send: (peerId: string, bytes: Uint8Array) => Promise<boolean>;
};

type Outgoing = {
  seeder: Address;
  epoch: number;
  receipts: ReceiptBatch["receipts"];
  signature: Hex | undefined;
  /** How many receipts `signature` covers. */
  signedCount: number;
  /** Receipts the seeder acknowledged. */
  acked: number;
  peerId: string;
  timer: ReturnType<typeof setTimeout> | undefined;
  signing: Promise<void>;
};

export type ReceiptSignerOptions = ReceiptLink & {
  /** The leecher's wallet (receipts name it) and the key that signs (its session key). */
  wallet: Address;
  key: LocalAccount;
  domain: ReceiptDomain;
  /** The seeding epoch now (SeedingRewards.currentEpoch). */
  epoch: () => number;
};

/** The leecher's side: receipts for what seeders sent us. */
export class ReceiptSigner {
  readonly #options: ReceiptSignerOptions;
  readonly #batches = new Map<string, Outgoing>();
  signed = 0;
  acked = 0;
  /** Receipts a seeder would not take. */
  refused = 0;
  #stopped = false;

  constructor(options: ReceiptSignerOptions) {
    this.#options = options;
  }

  /** Receipts signed but not acknowledged yet. */
  get pending(): number {
    let pending = 0;
    for (const batch of this.#batches.values()) pending += batch.receipts.length - batch.acked;
    return pending;
  }

  /** `seeder` (its wallet, linked as `peerId`) sent us `bytes` of the snapshot `head`. */
  record(peerId: string, seeder: Address, head: ChunkHead, bytes: number): void {
    if (this.#stopped || bytes <= 0 || getAddress(seeder) === getAddress(this.#options.wallet)) return;
    const epoch = this.#options.epoch();
    const key = `${seeder.toLowerCase()}:${epoch}`;
    let batch = this.#batches.get(key);
    if (!batch) {
      batch = {
        seeder: getAddress(seeder),
        epoch,
        receipts: [],
        signature: undefined,
        signedCount: 0,
        acked: 0,
        peerId,
        timer: undefined,
        signing: Promise.resolve(),
      };
      this.#batches.set(key, batch);
    }
    batch.peerId = peerId;
    if (batch.receipts.length >= MAX_RECEIPTS) return;
    const nonce = BigInt(batch.receipts.length);
    const size = BigInt(Math.min(bytes, Number(MAX_RECEIPT_BYTES)));
    batch.receipts.push({ contentHash: head.hash, bytes: size, nonce });
    this.signed++;
    this.#schedule(batch, 0);
  }

  /**
   * A peer linked (again): receipts for its wallet that it never acknowledged go to it now. A seeder that
   * crashed before storing them, and came back under a new key, gets them this way.
   */
  relink(peerId: string, wallet: Address): void {
    for (const batch of this.#batches.values()) {
      if (getAddress(batch.seeder) !== getAddress(wallet)) continue;
      batch.peerId = peerId;
      if (batch.acked < batch.receipts.length) this.#schedule(batch, 0);
    }
  }

  /** A seeder's acknowledgement or request to resend. */
  onControl(peerId: string, message: Wire): void {
    for (const batch of this.#batches.values()) {
      if (batch.peerId !== peerId || batch.epoch !== message.epoch) continue;
      if (message.t === "ack" && message.count > batch.acked && message.count <= batch.receipts.length) {
        this.acked += message.count - batch.acked;
        batch.acked = message.count;
        if (batch.acked === batch.receipts.length) clearTimeout(batch.timer);
        else this.#schedule(batch, 0);
      } else if (message.t === "resync" && message.have <= batch.receipts.length) {
        batch.acked = Math.min(batch.acked, message.have);
        this.#schedule(batch, 0, message.have);
      } else if (message.t === "refused" || message.t === "resync") {
        // It holds a batch of ours we cannot extend (signed before a restart), or will not take this one:
        // these receipts are lost for the epoch; stop sending them.
        log("seeder %s refused our receipts for epoch %d", batch.seeder, batch.epoch);
        clearTimeout(batch.timer);
        this.refused += batch.receipts.length - batch.acked;
        batch.acked = batch.receipts.length;
      }
    }
  }

  stop(): void {
    this.#stopped = true;
    for (const batch of this.#batches.values()) clearTimeout(batch.timer);
  }

  #schedule(batch: Outgoing, delayMs: number, from = batch.acked): void {
    clearTimeout(batch.timer);
    if (this.#stopped) return;
    // A short pause gathers the receipts of a burst of downloads under one signature.
    batch.timer = setTimeout(() => void this.#send(batch, from), delayMs || 20);
    batch.timer.unref?.();
  }

  async #send(batch: Outgoing, from: number): Promise<void> {
    // A prefix of the batch is a batch too: a seeder far behind gets it in parts, each signed.
    const upTo = Math.min(batch.receipts.length, from + RECEIPTS_PER_MESSAGE);
    if (upTo <= from) return;
    const signature = await this.#signature(batch, upTo);
    const message: Wire = {
      t: "receipts",
      epoch: batch.epoch,
      from,
      receipts: batch.receipts.slice(from, upTo).map((r) => [r.contentHash, r.bytes.toString(), r.nonce.toString()]),
      signature,
    };
    const sent = await this.#options.send(batch.peerId, encode(message)).catch(() => false);
    clearTimeout(batch.timer);
    if (this.#stopped) return;
    if (!sent) {
      // Not linked: they go when it links again (relink), not every 2 s meanwhile.
      log("seeder %s not linked: its receipts wait for it", batch.seeder);
      return;
    }
    batch.timer = setTimeout(() => {
      if (batch.acked < batch.receipts.length) void this.#send(batch, batch.acked);
    }, RESEND_MS);
    batch.timer.unref?.();
  }

  /** The signature over the batch's first `count` receipts (signed once per count). */
  #signature(batch: Outgoing, count: number): Promise<Hex> {
    const signing = batch.signing.then(async () => {
      if (batch.signature && batch.signedCount === count) return batch.signature;
      const signed = await signReceiptBatch(
        {
          seeder: batch.seeder,
          leecher: getAddress(this.#options.wallet),
          epoch: batch.epoch,
          receipts: batch.receipts.slice(0, count),
        },
        this.#options.key,
        this.#options.domain,
      );
      batch.signature = signed.signature;
      batch.signedCount = count;
      return signed.signature;
    });
    batch.signing = signing.then(
      () => undefined,
      () => undefined,
    );
    return signing;
  }
}

/** What the seeder stores receipts in (p2p/node/receipt-store.ts in Node). */
export type ReceiptSink = {
  put(batch: SignedReceiptBatch): Promise<{ stored: boolean; receipts: number }>;
  batches(epoch?: number): SignedReceiptBatch[];
};

export type ReceiptDeskOptions = ReceiptLink & {
  /** The seeder's wallet: receipts must name it. */
  wallet: Address;
  /** The seeding epoch now: receipts are taken for it and the one before (late ones) only. */
  epoch: () => number;
  domain: ReceiptDomain;
  store: ReceiptSink;
  /** The verified identity of a linked peer (its hello), or undefined. */
  peerOf: (peerId: string) => { wallet: Address; sessionKey: Address } | undefined;
};

/** The seeder's side: checks, stores, then acknowledges. */
export class ReceiptDesk {
  readonly #options: ReceiptDeskOptions;
  /** Per leecher and epoch, one batch handled at a time (in the order they came). */
  readonly #queues = new Map<string, Promise<void>>();
  /** What we served each linked peer lately (content hashes): a receipt may name only these. */
  readonly #served = new Map<string, Set<string>>();
  received = 0;
  refused = 0;

  constructor(options: ReceiptDeskOptions) {
    this.#options = options;
  }

  /** We served `contentHash` to a linked peer (it may sign a receipt for it). */
  served(peerId: string, contentHash: Hex): void {
    let hashes = this.#served.get(peerId);
    if (!hashes) {
      hashes = new Set();
      this.#served.set(peerId, hashes);
      // Bounded: a peer's old entries go first (a Set iterates in insertion order).
      if (this.#served.size > MAX_SERVED_PEERS) this.#served.delete(this.#served.keys().next().value as string);
    }
    hashes.add(contentHash.toLowerCase());
    if (hashes.size > MAX_RECEIPTS) hashes.delete(hashes.values().next().value as string);
  }

  forget(peerId: string): void {
    this.#served.delete(peerId);
  }

  onControl(peerId: string, message: Wire): Promise<void> {
    if (message.t !== "receipts") return Promise.resolve();
    const peer = this.#options.peerOf(peerId);
    if (!peer) return Promise.resolve();
    const now = this.#options.epoch();
    const served = this.#served.get(peerId);
    if (
      (message.epoch !== now && message.epoch !== now - 1) ||
      !message.receipts.every(([hash]) => served?.has(hash.toLowerCase()))
    ) {
      this.refused += message.receipts.length;
      return this.#options.send(peerId, encode({ t: "refused", epoch: message.epoch })).then(() => undefined);
    }
    const key = `${peer.wallet.toLowerCase()}:${message.epoch}`;
    const turn = (this.#queues.get(key) ?? Promise.resolve()).then(() => this.#take(peerId, peer, message));
    const settled = turn.catch((error: Error) => log("receipts from %s: %s", peerId.slice(0, 10), error.message));
    this.#queues.set(key, settled);
    return settled;
  }

  async #take(
    peerId: string,
    peer: { wallet: Address; sessionKey: Address },
    message: Extract<Wire, { t: "receipts" }>,
  ): Promise<void> {
    const leecher = getAddress(peer.wallet);
    const stored = this.#options.store
      .batches(message.epoch)
      .find((batch) => getAddress(batch.leecher) === leecher)?.receipts;
    const have = stored?.length ?? 0;
    if (message.from !== have) {
      await this.#options.send(peerId, encode({ t: "resync", epoch: message.epoch, have }));
      return;
    }
    const batch: SignedReceiptBatch = {
      seeder: getAddress(this.#options.wallet),
      leecher,
      epoch: message.epoch,
      receipts: [
        ...(stored ?? []),
        ...message.receipts.map(([contentHash, bytes, nonce]) => ({
          contentHash,
          bytes: BigInt(bytes),
          nonce: BigInt(nonce),
        })),
      ],
      signature: message.signature,
    };
    // A batch that does not verify is refused, not struck: a leecher that restarted within an epoch signs
    // a new batch that cannot extend the one we hold, and that is not an attack.
    let signer: Address | undefined;
    try {
      signer = recoverReceiptBatchSigner(batch, this.#options.domain);
    } catch {
      signer = undefined;
    }
    if (signer !== getAddress(peer.sessionKey) && signer !== leecher) {
      this.refused += message.receipts.length;
      await this.#options.send(peerId, encode({ t: "refused", epoch: message.epoch }));
      return;
    }
    // Durable before acknowledged: a crash here loses nothing the leecher counts as delivered.
    const { receipts } = await this.#options.store.put(batch);
    this.received += message.receipts.length;
    await this.#options.send(peerId, encode({ t: "ack", epoch: message.epoch, count: receipts }));
  }
}
