/**
 * Chunk heads read from the chain itself, for the moments the indexer cannot answer (down, restarting, or
 * behind the chain): ChunkLedger's `versionOf` gives a chunk's latest version, and its `ChunkAnchored` event
 * for that version (chunkId is indexed) gives the hash, info hash and watermark. The chain is the ledger the
 * indexer reads, so a head read here is as good as one the indexer serves; it costs an RPC call or a few,
 * which is why the indexer stays the first source (`LedgerHeads`). Region queries stay the indexer's: the
 * chain has no index by region. Isomorphic.
 */
import createDebug from "debug";
import type { Abi, Address, Hex, PublicClient } from "viem";
import { unpackHlc } from "../core/hlc.ts";
import { type AnchoredHead, type HeadSource, IndexerHeads } from "./heads.ts";
import { LedgerError } from "./ledger-error.ts";

const log = createDebug("seedcraft:heads");

/** The first window of blocks searched back from the chain's head for a chunk's anchor event (most are a block or two old). */
const FIRST_WINDOW = 16n;
/** Windows double up to this many blocks (inside what public RPC providers take in one eth_getLogs). */
const MAX_WINDOW = 8192n;
/**
 * A chunk's head read from the chain is reused this long: a claim checked again every 100 ms (p2p/chunk-sync.ts)
 * costs a read every 250 ms at most, and a version anchored meanwhile is seen within that.
 */
const FRESH_MS = 250;
/** Heads remembered at most (the oldest read is forgotten first). */
const MAX_REMEMBERED = 1024;

export type ChainHeadsOptions = {
  client: Pick<PublicClient, "readContract" | "getContractEvents" | "getBlockNumber">;
  ledger: { address: Address; abi: Abi };
  /** The block before the ledger was deployed: no anchor event lies before it. */
  startBlock: bigint;
  /** Milliseconds, for how long a read stays fresh. Default Date.now. */
  now?: () => number;
};

type ChunkAnchoredArgs = { chunkId?: bigint; version?: number; hash?: Hex; infoHash?: Hex; watermark?: bigint };

export class ChainHeads {
  readonly #options: ChainHeadsOptions;
  readonly #now: () => number;
  /** Per chunk: the head last read (undefined: never anchored), and when. */
  readonly #read = new Map<bigint, { head: AnchoredHead | undefined; at: number }>();
  /** Per chunk and version: the head found for it, which never changes (anchors are final). */
  readonly #found = new Map<string, AnchoredHead>();

  constructor(options: ChainHeadsOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** The chunk's latest anchored head, undefined if it was never anchored. Rejects with LedgerError. */
  async head(chunkId: bigint): Promise<AnchoredHead | undefined> {
    const fresh = this.#read.get(chunkId);
    if (fresh && this.#now() - fresh.at < FRESH_MS) return fresh.head;
    let head: AnchoredHead | undefined;
    try {
      head = await this.#head(chunkId);
    } catch (error) {
      if (error instanceof LedgerError) throw error;
      throw new LedgerError("The chain did not answer for a chunk's head.", (error as Error).message);
    }
    this.#read.delete(chunkId);
    this.#read.set(chunkId, { head, at: this.#now() });
    if (this.#read.size > MAX_REMEMBERED) this.#read.delete(this.#read.keys().next().value as bigint);
    return head;
  }

  async #head(chunkId: bigint): Promise<AnchoredHead | undefined> {
    const { client, ledger, startBlock } = this.#options;
    const [version, latest] = await Promise.all([
      client.readContract({ address: ledger.address, abi: ledger.abi, functionName: "versionOf", args: [chunkId] }),
      client.getBlockNumber({ cacheTime: 0 }),
    ]);
    if (typeof version !== "number") throw new LedgerError("The chain's versionOf answered no version.");
    if (version === 0) return undefined;
    const key = `${chunkId}:${version}`;
    const known = this.#found.get(key);
    if (known) return known;
    // The anchor we look for is most often a few blocks old (a race just lost, a claim just made): search
    // back from the head in growing windows, down to the ledger's deployment.
    let window = FIRST_WINDOW;
    for (let to = latest; to >= startBlock; ) {
      const from = to - window + 1n > startBlock ? to - window + 1n : startBlock;
      const events = await client.getContractEvents({
        address: ledger.address,
        abi: ledger.abi,
        eventName: "ChunkAnchored",
        args: { chunkId },
        fromBlock: from,
        toBlock: to,
      });
      // The newest anchor in the window at or past the version read (one may have landed since).
      for (const event of events.reverse()) {
        const head = headOf((event as { args: ChunkAnchoredArgs }).args, chunkId);
        if (head && head.version >= version) {
          this.#remember(key, head);
          return head;
        }
      }
      if (from === startBlock) break;
      to = from - 1n;
      if (window < MAX_WINDOW) window *= 2n;
    }
    log(
      "chunk %s: the chain holds v%d, but no ChunkAnchored event for it since block %d",
      chunkId,
      version,
      startBlock,
    );
    throw new LedgerError("The chain holds no anchor event for this chunk's version.", `chunk ${chunkId} v${version}`);
  }

  #remember(key: string, head: AnchoredHead): void {
    this.#found.set(key, head);
    if (this.#found.size > MAX_REMEMBERED) this.#found.delete(this.#found.keys().next().value as string);
  }
}

function headOf(args: ChunkAnchoredArgs, chunkId: bigint): AnchoredHead | undefined {
  const { version, hash, infoHash, watermark } = args;
  if (args.chunkId !== chunkId || typeof version !== "number" || typeof hash !== "string") return undefined;
  if (typeof infoHash !== "string" || typeof watermark !== "bigint") return undefined;
  return {
    chunkId,
    version,
    hash: hash.toLowerCase() as Hex,
    infoHash: infoHash.toLowerCase() as Hex,
    watermark: unpackHlc(watermark),
  };
}

/**
 * The heads a peer reads: the indexer's, and a chunk's head from the chain while the indexer cannot answer
 * (a lost race rebases, and a peer's new version is loaded, through an indexer's restart), or when it does not
 * serve yet the version the caller was told of (`atLeast`: a peer announces its anchor as soon as it is mined,
 * a block or two before the indexer serves it; a seeder that waited for the indexer held hot chunks only
 * seconds late, and a player joining then was refused). Regions only come from the indexer. When both fail,
 * the indexer's error is the one thrown (it says why: down, or behind).
 */
export class LedgerHeads implements HeadSource {
  readonly #indexer: HeadSource;
  readonly #chain: Pick<ChainHeads, "head">;

  constructor(indexer: HeadSource, chain: Pick<ChainHeads, "head">) {
    this.#indexer = indexer;
    this.#chain = chain;
  }

  regions(regions: Parameters<HeadSource["regions"]>[0]): Promise<AnchoredHead[]> {
    return this.#indexer.regions(regions);
  }

  async head(chunkId: bigint, atLeast = 0): Promise<AnchoredHead | undefined> {
    let indexed: AnchoredHead | undefined;
    try {
      indexed = await this.#indexer.head(chunkId);
    } catch (error) {
      if (!(error instanceof LedgerError)) throw error;
      try {
        const head = await this.#chain.head(chunkId);
        log("chunk %s: the indexer cannot answer (%s); the chain says v%d", chunkId, error.code, head?.version ?? 0);
        return head;
      } catch (chainError) {
        log("chunk %s: neither the indexer nor the chain answered: %s", chunkId, (chainError as Error).message);
        throw error;
      }
    }
    if ((indexed?.version ?? 0) >= atLeast) return indexed;
    // Told of a version the indexer does not serve yet: the chain may hold it already (read at most every
    // 250 ms per chunk, so a false claim asked again and again costs little).
    const onChain = await this.#chain.head(chunkId).catch(() => undefined);
    return onChain && onChain.version > (indexed?.version ?? 0) ? onChain : indexed;
  }
}

/** A world's heads: its indexer's at `indexerUrl`, the chain's (through `client`) while the indexer cannot answer. */
export function ledgerHeadsOf(
  indexerUrl: string,
  client: ChainHeadsOptions["client"],
  deployment: { startBlock: number; contracts: { ChunkLedger: { address: Address; abi: Abi } } },
): LedgerHeads {
  const chain = new ChainHeads({
    client,
    ledger: deployment.contracts.ChunkLedger,
    startBlock: BigInt(deployment.startBlock),
  });
  return new LedgerHeads(new IndexerHeads(indexerUrl), chain);
}
