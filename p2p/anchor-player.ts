/**
 * A headless player's edits on their way to the ledger: each edit is signed and sent through the peer's mesh,
 * queued in an AnchorQueue (batched anchors from the player's session key, seeded through the peer's data
 * plane), and ends in a final state that is reported once. What the app's Game does for the HUD, without one.
 * Isomorphic: `seedcraft peer` and the tests run it on a NodePeer.
 */
import type { Address, Hex } from "viem";
import type { BlockOp } from "../core/op.ts";
import type { AnchorChain } from "./anchor-chain.ts";
import { type EditState, HeadlessEdits, isOpen } from "./anchor-edits.ts";
import { AnchorQueue, type AnchorQueueOptions } from "./anchor-queue.ts";
import type { HeadSource } from "./heads.ts";
import type { WorldPeer } from "./peer.ts";

/** One edit that ended: its op's signature (as `seedcraft peer` reported it when edited), and how it ended. */
export type EndedEdit = { op: Hex; state: EditState; reason: string | undefined };

export type AnchoringPlayerOptions = {
  /** The peer edits go through; its data plane (`peer.sync`) seeds our anchored snapshots and fetches winners'. */
  peer: WorldPeer;
  chain: AnchorChain;
  heads: HeadSource;
  /** Our wallet: the author of our ops. */
  author: Address;
  /** Called once per edit, when it reaches a final state. */
  onEnded?: (ended: EndedEdit) => void;
  /** Passed on to the queue (batch delay, confirmation timeout and cap, clock). */
  queue?: Omit<AnchorQueueOptions, "replica" | "chain" | "heads" | "sync" | "edits" | "author">;
};

export class AnchoringPlayer {
  readonly edits: HeadlessEdits;
  readonly queue: AnchorQueue;
  readonly #options: AnchoringPlayerOptions;
  /** Edit id → its op's signature, while the edit is open. */
  readonly #signatures = new Map<number, Hex>();
  readonly #stopBounces: () => void;

  constructor(options: AnchoringPlayerOptions) {
    this.#options = options;
    const { peer } = options;
    this.edits = new HeadlessEdits(({ entry, state, reason }) => {
      const op = this.#signatures.get(entry.id);
      this.#signatures.delete(entry.id);
      if (op) options.onEnded?.({ op, state, reason });
    });
    this.queue = new AnchorQueue({
      ...options.queue,
      replica: peer.replica,
      chain: options.chain,
      heads: options.heads,
      sync: peer.sync,
      edits: this.edits,
      author: options.author,
    });
    // A peer's op that ties with ours bounces both: ours then waits for no anchor.
    this.#stopBounces = peer.mesh.on("op", (verdict) => {
      if (verdict.status === "bounced") this.#bounced(verdict.ops, verdict.reason);
    });
  }

  /** Edits one block: signed, applied here, sent to the linked peers and queued for anchoring. */
  async edit(chunkId: bigint, index: number, block: number): Promise<{ op: BlockOp & { signature: Hex } }> {
    const entry = this.edits.add({ block, chunkId, index });
    const { op, verdict } = await this.#options.peer.mesh.edit(chunkId, index, block);
    this.#signatures.set(entry.id, op.signature);
    this.edits.update(entry.id, { hlc: op.hlc });
    if (verdict.status === "applied") this.queue.record(entry.id, chunkId, op.hlc);
    else if (verdict.status === "bounced") this.edits.update(entry.id, { state: "bounced", reason: verdict.reason });
    else if (verdict.status === "rejected") this.edits.update(entry.id, { state: "failed", reason: verdict.reason });
    return { op };
  }

  /** Resolves once no edit is on its way, or after `timeoutMs`; returns how many still are. */
  async settle(timeoutMs: number): Promise<number> {
    const deadline = performance.now() + timeoutMs;
    while (this.edits.open > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    return this.edits.open;
  }

  destroy(): void {
    this.#stopBounces();
    this.queue.destroy();
  }

  #bounced(ops: readonly BlockOp[], reason: string): void {
    for (const op of ops) {
      const entry = this.edits.entries.find(
        (e) =>
          e.chunkId === op.chunk &&
          e.index === op.index &&
          e.hlc?.wallMs === op.hlc.wallMs &&
          e.hlc.logical === op.hlc.logical &&
          isOpen(e.state),
      );
      if (!entry) continue;
      this.edits.update(entry.id, { state: "bounced", reason });
      this.queue.drop(entry.id);
    }
  }
}
