/**
 * A seeder's claim of one epoch on SeedingRewards, from its stored receipts and its chunk cache. Isomorphic:
 * `seedcraft claim` runs it with a local key (cli/claim.ts), the app with the connected wallet (app/src/net/claim.ts).
 *
 * Steps: leave out every batch the chain would refuse (a commit cannot be taken back), prove each content
 * anchored (the anchoring transaction's `ChunkAnchored` events are the leaves of its batch tree), commit, wait
 * for the next block (its hash is the challenge), prove the challenged leaf from the cache, claim, then mark
 * the epoch claimed in the receipt store. A run that stopped after its commit goes on from it (`commitmentOf`).
 */
import {
  type Abi,
  type Address,
  BaseError,
  bytesToHex,
  ContractFunctionRevertedError,
  getAddress,
  type Hex,
  type PublicClient,
  parseEventLogs,
} from "viem";
import { AnchorTree } from "../core/anchors.ts";
import { decodeChunk } from "../core/chunk.ts";
import { type AnchoredAt, challengeOf, planClaim } from "../core/claim.ts";
import type { Deployment } from "../core/deployment.ts";
import { SeedcraftError } from "../core/errors.ts";
import { ChunkMerkle } from "../core/merkle.ts";
import { recoverReceiptBatchSigner, type SignedReceiptBatch } from "../core/receipt.ts";
import type { CachedChunk, ChunkHead } from "./chunk-store.ts";

export type ClaimFailedCode =
  | "CLAIM_NOTHING"
  | "CLAIM_NO_ANCHOR"
  | "CLAIM_NO_CHUNK"
  | "CLAIM_REVERTED"
  /** The wallet did not send a transaction (refused by the player, or the chain would revert it). */
  | "CLAIM_NOT_SENT";

export class ClaimFailedError extends SeedcraftError {
  declare readonly code: ClaimFailedCode;

  constructor(code: ClaimFailedCode, message: string, details?: string) {
    super(code, message, details);
    this.name = "ClaimFailedError";
  }
}

/** A SeedingRewards transaction, as viem's and wagmi's `writeContract` take it (the account is the writer's). */
export type ClaimWrite = { address: Address; abi: Abi; functionName: "commit" | "claim"; args: readonly unknown[] };

/** The chain as a claim needs it: reads, and writes from the seeder's wallet. */
export type ClaimChain = {
  deployment: Deployment;
  publicClient: Pick<
    PublicClient,
    | "readContract"
    | "getContractEvents"
    | "getTransactionReceipt"
    | "waitForTransactionReceipt"
    | "getBlockNumber"
    | "getBlock"
    | "request"
  >;
  /** The seeder's wallet: the receipts name it, and SeedingRewards pays it (the writer's wallet). */
  seeder: Address;
  /** Sends a SeedingRewards transaction from the seeder's wallet (or a session key of it); resolves with its hash. */
  write: (request: ClaimWrite) => Promise<Hex>;
};

/** Where the receipts come from: p2p/node/receipt-store.ts or p2p/browser/idb-receipts.ts. */
export type ClaimReceipts = {
  batches(epoch?: number): SignedReceiptBatch[];
  epochs(): number[];
  claimed(epoch: number): boolean;
  markClaimed(epoch: number): Promise<void>;
};

/** Where the snapshots come from: p2p/node/chunk-cache.ts or p2p/browser/idb-cache.ts. */
export type ClaimChunks = {
  /** Every chunk version held (not only the newest per chunk: a receipt may name an older one). */
  entries(): ChunkHead[];
  get(chunkId: bigint, version?: number): Promise<CachedChunk | undefined>;
};

export const CLAIM_STEPS = ["filtering", "anchoring", "committing", "waiting", "proving", "claiming", "done"] as const;
export type ClaimStep = (typeof CLAIM_STEPS)[number];

/** What a progress bar says for each step. */
export const CLAIM_STEP_LABELS: Record<ClaimStep, string> = {
  filtering: "checking the receipts against the chain",
  anchoring: "proving the snapshots anchored",
  committing: "committing to the receipts",
  waiting: "waiting for the challenge block",
  proving: "proving the challenged snapshot",
  claiming: "claiming",
  done: "claimed",
};

export type ClaimProgress = {
  epoch: number;
  step: ClaimStep;
  /** How far the claim of this epoch is, 0..1. */
  fraction: number;
  /** A line for the log (what `seedcraft claim` prints), when the step has one to say. */
  text?: string;
};

export type ClaimEpochOptions = {
  chain: ClaimChain;
  receipts: ClaimReceipts;
  chunks: ClaimChunks;
  epoch: number;
  onProgress?: (progress: ClaimProgress) => void;
  /** How often to poll for receipts and the challenge block (50 ms and 500 ms: a local chain is quick). */
  receiptPollingMs?: number;
  blockPollingMs?: number;
};

export type ClaimResult = { epoch: number; reward: bigint; receipts: number; bytes: bigint };

type Contract = Deployment["contracts"]["SeedingRewards"];

async function read<T>(
  chain: Pick<ClaimChain, "publicClient">,
  contract: Contract,
  functionName: string,
  args: unknown[] = [],
) {
  return (await chain.publicClient.readContract({
    address: contract.address,
    abi: contract.abi,
    functionName,
    args,
  })) as T;
}

/** Sends through `chain.write`; a refusal or a revert the wallet saw coming becomes CLAIM_NOT_SENT. */
async function send(chain: ClaimChain, request: ClaimWrite): Promise<Hex> {
  try {
    return await chain.write(request);
  } catch (error) {
    const reverted =
      error instanceof BaseError ? error.walk((e) => e instanceof ContractFunctionRevertedError) : undefined;
    const reason =
      reverted instanceof ContractFunctionRevertedError && reverted.data
        ? `${reverted.data.errorName}(${(reverted.data.args ?? []).map(String).join(", ")})`
        : error instanceof BaseError
          ? error.shortMessage
          : error instanceof Error
            ? error.message
            : String(error);
    throw new ClaimFailedError("CLAIM_NOT_SENT", `The ${request.functionName} was not sent.`, reason);
  }
}

/**
 * Where `hash` was anchored: the anchoring transaction's `ChunkAnchored` events, in order, are the leaves of
 * the batch's Merkle tree (ChunkLedger stores its root).
 */
export async function anchoringOf(chain: ClaimChain, chunkId: bigint, version: number, hash: Hex): Promise<AnchoredAt> {
  const ledger = chain.deployment.contracts.ChunkLedger;
  const logs = await chain.publicClient.getContractEvents({
    address: ledger.address,
    abi: ledger.abi,
    eventName: "ChunkAnchored",
    args: { chunkId },
    fromBlock: 0n,
  });
  const log = logs.find((entry) => {
    const args = entry.args as { version?: number; hash?: Hex };
    return args.version === version && args.hash?.toLowerCase() === hash.toLowerCase();
  });
  if (!log?.transactionHash)
    throw new ClaimFailedError("CLAIM_NO_ANCHOR", "A receipt names a snapshot the ledger never anchored.", `${hash}`);
  const receipt = await chain.publicClient.getTransactionReceipt({ hash: log.transactionHash });
  const leaves = parseEventLogs({ abi: ledger.abi, logs: receipt.logs, eventName: "ChunkAnchored" })
    .filter((entry) => getAddress(entry.address) === getAddress(ledger.address))
    .map((entry) => {
      const args = entry.args as { chunkId: bigint; version: number; hash: Hex };
      return { chunkId: args.chunkId, version: Number(args.version), hash: args.hash };
    });
  const tree = new AnchorTree(leaves);
  return { tree, index: tree.indexOf(hash) };
}

const headsByHash = (cache: ClaimChunks) => new Map(cache.entries().map((head) => [head.hash.toLowerCase(), head]));

/** A leecher's batch the chain would not pay for, and why (a phrase after "it"). */
export type UnpayableBatch = { leecher: Address; receipts: number; bytes: bigint; why: string };

/**
 * Splits the seeder's batches of `epoch` into those SeedingRewards would pay for and those it would refuse,
 * with the reason: a leecher that had not anchored before the epoch began (the anti-sybil rule), a session
 * key no longer live, a leecher over its cap. With `cache`, also a snapshot the cache no longer holds (a
 * claim must prove possession). Reads the chain; for an open epoch it says what would be paid once it ends.
 */
export async function judgeBatches(
  chain: Pick<ClaimChain, "deployment" | "publicClient" | "seeder">,
  all: readonly SignedReceiptBatch[],
  epoch: number,
  options: {
    cache?: ClaimChunks;
    heads?: Map<string, ChunkHead>;
    onBatch?: (index: number, count: number) => void;
  } = {},
): Promise<{ payable: SignedReceiptBatch[]; unpayable: UnpayableBatch[] }> {
  const { deployment } = chain;
  const rewards = deployment.contracts.SeedingRewards;
  const seeder = getAddress(chain.seeder);
  const domain = { chainId: deployment.chainId, verifyingContract: rewards.address };
  const mine = all.filter((batch) => getAddress(batch.seeder) === seeder);
  if (mine.length === 0) return { payable: [], unpayable: [] };
  const [start, cap, genesis, epochLength] = await Promise.all([
    read<bigint>(chain, rewards, "epochStart", [epoch]),
    read<bigint>(chain, rewards, "leecherCap"),
    read<bigint>(chain, rewards, "genesis"),
    read<bigint>(chain, rewards, "epochLength"),
  ]);
  const heads = options.cache ? (options.heads ?? headsByHash(options.cache)) : undefined;
  const payable: SignedReceiptBatch[] = [];
  const unpayable: UnpayableBatch[] = [];
  for (const [i, batch] of mine.entries()) {
    options.onBatch?.(i, mine.length);
    const leecher = getAddress(batch.leecher);
    const bytes = batch.receipts.reduce((sum, r) => sum + r.bytes, 0n);
    const why = await (async () => {
      const first = await read<bigint>(chain, deployment.contracts.ChunkLedger, "firstAnchorAt", [leecher]);
      if (first === 0n) return "had not anchored anything before the epoch";
      if (first >= start) {
        const since = Number((first - genesis) / epochLength);
        return since === epoch
          ? `first anchored in this epoch (it counts from epoch ${epoch + 1})`
          : `first anchored in epoch ${since}, after this one`;
      }
      const signer = recoverReceiptBatchSigner(batch, domain);
      if (signer !== leecher) {
        const wallet = await read<Address>(chain, deployment.contracts.SessionRegistry, "walletOf", [signer]);
        if (getAddress(wallet) !== leecher) return "signed with a session key that is no longer live";
      }
      const attested = await read<bigint>(chain, rewards, "attestedBy", [leecher, epoch]);
      if (attested + bytes > cap) return `would pass its cap of ${cap} bytes for the epoch`;
      if (options.cache && heads)
        for (const r of batch.receipts) {
          const head = heads.get(r.contentHash.toLowerCase());
          if (!head || !(await options.cache.get(head.chunkId, head.version)))
            return "names a snapshot the cache no longer holds";
        }
      return undefined;
    })();
    if (why) unpayable.push({ leecher, receipts: batch.receipts.length, bytes, why });
    else payable.push(batch);
  }
  return { payable, unpayable };
}

/** What the epochs not claimed yet are worth: what the chain would pay (bytes), and what it would not, and why. */
export type PendingEnergy = { payableBytes: bigint; unpayable: (UnpayableBatch & { epoch: number })[] };

/**
 * The seeder's pending energy, counted as the chain will pay it: every epoch the store holds receipts for that
 * is open or still claimable, judged by `judgeBatches` (without the cache check, which only a claim needs).
 */
export async function pendingEnergy(
  chain: Pick<ClaimChain, "deployment" | "publicClient" | "seeder">,
  receipts: Pick<ClaimReceipts, "batches" | "epochs" | "claimed">,
): Promise<PendingEnergy> {
  const window = await readClaimWindow(chain);
  let payableBytes = 0n;
  const unpayable: PendingEnergy["unpayable"] = [];
  for (const epoch of receipts.epochs()) {
    const state = epochState(epoch, window, receipts.claimed(epoch));
    if (state !== "open" && state !== "claimable") continue;
    const judged = await judgeBatches(chain, receipts.batches(epoch), epoch);
    for (const batch of judged.payable) for (const r of batch.receipts) payableBytes += r.bytes;
    for (const left of judged.unpayable) unpayable.push({ ...left, epoch });
  }
  return { payableBytes, unpayable };
}

/** "0.40 energy not payable: leecher 0xab12…cdef first anchored in this epoch" (and how many more), or "". */
export function unpayableNote(pending: PendingEnergy, rewardRate: bigint, format: (wei: bigint) => string): string {
  const [first, ...more] = pending.unpayable;
  if (!first) return "";
  const bytes = pending.unpayable.reduce((sum, left) => sum + left.bytes, 0n);
  const who = `${first.leecher.slice(0, 6)}…${first.leecher.slice(-4)}`;
  const others = more.length > 0 ? ` (and ${more.length} more)` : "";
  return `${format(rewardFor(bytes, rewardRate))} energy not payable: leecher ${who} ${first.why}${others}`;
}

/** The share of the bar each step ends at; a step's own progress fills the space before it. */
function fractionOf(step: ClaimStep, part = 0): number {
  const index = CLAIM_STEPS.indexOf(step);
  return Math.min(1, (index + Math.max(0, Math.min(1, part))) / (CLAIM_STEPS.length - 1));
}

/** Claims one epoch; resolves with the reward (energy wei). Throws ClaimFailedError. */
export async function claimEpoch(options: ClaimEpochOptions): Promise<ClaimResult> {
  const { chain, receipts: store, chunks: cache, epoch } = options;
  const { deployment, publicClient } = chain;
  let reached = 0;
  const progress = (step: ClaimStep, part: number, text?: string) => {
    // A note within a step keeps the bar where it is.
    reached = Math.max(reached, fractionOf(step, part));
    options.onProgress?.({ epoch, step, fraction: reached, ...(text === undefined ? {} : { text }) });
  };
  const say = (step: ClaimStep, text: string) => progress(step, 0, text);
  const receiptPollingMs = options.receiptPollingMs ?? 50;
  const blockPollingMs = options.blockPollingMs ?? 500;
  const rewards = deployment.contracts.SeedingRewards;
  const seeder = getAddress(chain.seeder);
  const domain = { chainId: deployment.chainId, verifyingContract: rewards.address };
  const heads = headsByHash(cache);

  // Claimed on the chain but not marked in the store (a run stopped right after its claim): mark it now.
  const [, lastEpoch, , , lastClaimed] = await read<[boolean, number, Hex, bigint, boolean]>(
    chain,
    rewards,
    "commitmentOf",
    [seeder],
  );
  if (lastClaimed && lastEpoch === epoch) return await markClaimedFromChain(options, seeder);

  // A commit cannot be taken back: leave out, before committing, every batch the chain would refuse.
  const { payable: batches, unpayable } = await judgeBatches(chain, store.batches(epoch), epoch, {
    cache,
    heads,
    onBatch: (i, n) => progress("filtering", i / n),
  });
  for (const left of unpayable)
    say("filtering", `epoch ${epoch}: leaving out ${left.receipts} receipt(s) from ${left.leecher}: it ${left.why}`);
  if (batches.length === 0)
    throw new ClaimFailedError(
      "CLAIM_NOTHING",
      `No receipts the chain would pay for in epoch ${epoch}.`,
      unpayable.map((left) => `${left.leecher} ${left.why}`).join("; ") || "no receipts",
    );

  // The anchoring proof of every content the receipts name, from the snapshot the cache holds for it.
  const anchored = new Map<string, AnchoredAt>();
  const contents = new Set(batches.flatMap((batch) => batch.receipts.map((r) => r.contentHash.toLowerCase())));
  say("anchoring", `epoch ${epoch}: ${batches.length} leecher(s), proving ${contents.size} snapshot(s) anchored…`);
  for (const hash of contents) {
    const head = heads.get(hash);
    if (!head)
      throw new ClaimFailedError("CLAIM_NO_CHUNK", "A receipt names a snapshot the cache no longer holds.", hash);
    anchored.set(hash, await anchoringOf(chain, head.chunkId, head.version, head.hash));
    progress("anchoring", anchored.size / contents.size);
  }
  const plan = planClaim({ seeder, epoch, batches, anchored, domain });
  // A run that stopped after its commit goes on from it, if the commitment is to the same receipts.
  const [committedAlready, committedEpoch, digest, pendingChallenge, claimedAlready] = await read<
    [boolean, number, Hex, bigint, boolean]
  >(chain, rewards, "commitmentOf", [seeder]);
  let challengeBlock: bigint;
  if (committedAlready && committedEpoch === epoch && !claimedAlready) {
    if (digest.toLowerCase() !== plan.commitment.toLowerCase())
      throw new ClaimFailedError(
        "CLAIM_REVERTED",
        `Epoch ${epoch} is committed to other receipts than the store holds now.`,
        `committed ${digest}, the store's plan ${plan.commitment}`,
      );
    challengeBlock = pendingChallenge;
    say("committing", `epoch ${epoch}: already committed; challenge block ${challengeBlock}`);
  } else {
    say("committing", `epoch ${epoch}: ${plan.receiptCount} receipts, ${plan.totalBytes} bytes; committing…`);
    const commitTx = await send(chain, {
      address: rewards.address,
      abi: rewards.abi,
      functionName: "commit",
      args: [epoch, plan.commitment],
    });
    const committed = await publicClient.waitForTransactionReceipt({
      hash: commitTx,
      pollingInterval: receiptPollingMs,
    });
    if (committed.status !== "success") throw new ClaimFailedError("CLAIM_REVERTED", "The commit reverted.", commitTx);
    // The challenge is the hash of the block after the commit, which nobody could know when committing.
    challengeBlock = committed.blockNumber + 1n;
    say(
      "waiting",
      `epoch ${epoch}: committed in block ${committed.blockNumber}; waiting for challenge block ${challengeBlock}…`,
    );
  }
  // The claim's gas estimate runs on the latest block, which must be past the challenge block. A local chain
  // mines on transactions (and maybe an interval): mine the blocks rather than wait for them.
  const local = deployment.chainId === 31337;
  while ((await publicClient.getBlockNumber({ cacheTime: 0 })) <= challengeBlock)
    if (local) await publicClient.request({ method: "evm_mine" as "eth_chainId" });
    else await new Promise((r) => setTimeout(r, blockPollingMs));
  progress("proving", 0);
  const block = await publicClient.getBlock({ blockNumber: challengeBlock });
  const challenge = challengeOf(block.hash, seeder, epoch, plan.receiptCount);
  const challenged = plan.contentAt(challenge.receiptIndex);
  const head = heads.get(challenged.toLowerCase());
  const cached = head ? await cache.get(head.chunkId, head.version) : undefined;
  if (!cached) throw new ClaimFailedError("CLAIM_NO_CHUNK", "The challenged snapshot is not in the cache.", challenged);
  const merkle = new ChunkMerkle(decodeChunk(cached.bytes));
  const possession = {
    leaf: bytesToHex(merkle.leafBytes(challenge.leafIndex)),
    siblings: merkle.proof(challenge.leafIndex).map((node) => bytesToHex(node)),
  };
  say(
    "claiming",
    `epoch ${epoch}: proving leaf ${challenge.leafIndex} of receipt ${challenge.receiptIndex}; claiming…`,
  );
  const claimTx = await send(chain, {
    address: rewards.address,
    abi: rewards.abi,
    functionName: "claim",
    args: [epoch, plan.contents, plan.anchorings, plan.batches, possession],
  });
  const claimed = await publicClient.waitForTransactionReceipt({ hash: claimTx, pollingInterval: receiptPollingMs });
  if (claimed.status !== "success") throw new ClaimFailedError("CLAIM_REVERTED", "The claim reverted.", claimTx);
  const [event] = parseEventLogs({ abi: rewards.abi, logs: claimed.logs, eventName: "RewardClaimed" });
  await store.markClaimed(epoch);
  const reward = (event?.args as { reward?: bigint } | undefined)?.reward ?? 0n;
  progress("done", 1);
  return { epoch, reward, receipts: plan.receiptCount, bytes: plan.totalBytes };
}

/** The reward an earlier run claimed for the epoch (its RewardClaimed event); marks the epoch claimed. */
async function markClaimedFromChain(options: ClaimEpochOptions, seeder: Address): Promise<ClaimResult> {
  const { chain, epoch } = options;
  const rewards = chain.deployment.contracts.SeedingRewards;
  const [event] = await chain.publicClient.getContractEvents({
    address: rewards.address,
    abi: rewards.abi,
    eventName: "RewardClaimed",
    args: { seeder, epoch },
    fromBlock: 0n,
  });
  const args = (event?.args ?? {}) as { receipts?: bigint; bytes_?: bigint; reward?: bigint };
  await options.receipts.markClaimed(epoch);
  options.onProgress?.({ epoch, step: "done", fraction: 1, text: `epoch ${epoch}: claimed on the chain already` });
  return { epoch, reward: args.reward ?? 0n, receipts: Number(args.receipts ?? 0n), bytes: args.bytes_ ?? 0n };
}

/**
 * Where an epoch stands for a claim: `open` (not over yet), `claimable`, `closed` (its window has passed),
 * `claimed`, or `passed` (a later epoch is committed: SeedingRewards takes no older one).
 */
export type EpochState = "open" | "claimable" | "closed" | "claimed" | "passed";

export type ClaimWindow = {
  /** SeedingRewards.currentEpoch. */
  current: number;
  /** SeedingRewards.claimWindow: an epoch can be claimed until `current > epoch + window`. */
  window: number;
  /** SeedingRewards.commitmentOf(seeder): the newest epoch committed, and whether it was claimed. */
  committed?: { epoch: number; claimed: boolean };
};

/** Where `epoch` stands, as SeedingRewards would judge a claim of it now. */
export function epochState(epoch: number, at: ClaimWindow, claimedInStore = false): EpochState {
  if (claimedInStore || (at.committed?.epoch === epoch && at.committed.claimed)) return "claimed";
  if (epoch >= at.current) return "open";
  if (at.current > epoch + at.window) return "closed";
  if (at.committed !== undefined && at.committed.epoch > epoch) return "passed";
  return "claimable";
}

/** The chain's epoch, claim window, and the seeder's commitment. */
export async function readClaimWindow(chain: Pick<ClaimChain, "deployment" | "publicClient" | "seeder">) {
  const rewards = chain.deployment.contracts.SeedingRewards;
  const [current, window, [committed, epoch, , , claimed]] = await Promise.all([
    read<bigint>(chain, rewards, "currentEpoch"),
    read<bigint>(chain, rewards, "claimWindow"),
    read<[boolean, number, Hex, bigint, boolean]>(chain, rewards, "commitmentOf", [getAddress(chain.seeder)]),
  ]);
  return {
    current: Number(current),
    window: Number(window),
    ...(committed ? { committed: { epoch: Number(epoch), claimed } } : {}),
  } satisfies ClaimWindow;
}

export type EpochSummary = { epoch: number; state: EpochState; leechers: number; receipts: number; bytes: bigint };

/** The receipts of one epoch, for the seeder (every leecher's newest batch). */
export function summarize(batches: readonly SignedReceiptBatch[], seeder: Address) {
  const mine = batches.filter((batch) => getAddress(batch.seeder) === getAddress(seeder));
  let receipts = 0;
  let bytes = 0n;
  for (const batch of mine) {
    receipts += batch.receipts.length;
    for (const item of batch.receipts) bytes += item.bytes;
  }
  return { leechers: new Set(mine.map((batch) => batch.leecher.toLowerCase())).size, receipts, bytes };
}

/**
 * Every epoch the store holds receipts for the seeder in, oldest first, with where it stands now; the ones to
 * claim are `state === "claimable"`, and they must be claimed oldest first (a commit passes every older epoch).
 */
export async function epochsToClaim(
  chain: Pick<ClaimChain, "deployment" | "publicClient" | "seeder">,
  receipts: Pick<ClaimReceipts, "batches" | "epochs" | "claimed">,
): Promise<{ window: ClaimWindow; epochs: EpochSummary[] }> {
  const window = await readClaimWindow(chain);
  const epochs: EpochSummary[] = [];
  for (const epoch of receipts.epochs()) {
    const summary = summarize(receipts.batches(epoch), chain.seeder);
    if (summary.receipts === 0) continue;
    epochs.push({ epoch, state: epochState(epoch, window, receipts.claimed(epoch)), ...summary });
  }
  return { window, epochs };
}

/** Energy wei for `bytes` of proven seeding (SeedingRewards.rewardFor: bytes × rate / 1e18, rounded down). */
export function rewardFor(bytes: bigint, rewardRate: bigint): bigint {
  return (bytes * rewardRate) / 10n ** 18n;
}

/** What one round of claims did: the epochs claimed, those with nothing the chain would pay, those left. */
export type ClaimRound = {
  claimed: ClaimResult[];
  nothing: { epoch: number; details: string | undefined }[];
  waiting: number[];
};

/**
 * Claims every finished epoch the store holds receipts for, oldest first (a commit passes every older epoch),
 * saying what it does through `say`. An epoch with nothing the chain would pay is said and passed over, not an
 * error. With `settleS`, the epoch that just ended waits that long after its end, for receipts leechers still
 * send for it (a seeder takes them during the next epoch). Throws ClaimFailedError on any other failure.
 */
export async function claimFinishedEpochs(options: {
  chain: ClaimChain;
  receipts: ClaimReceipts;
  chunks: ClaimChunks;
  only?: number;
  settleS?: number;
  say: (line: string) => void;
  /** Epochs judged to hold nothing payable, with their receipt count then: not judged again until it grows. */
  nothingSeen?: Map<number, number>;
  onProgress?: (progress: ClaimProgress) => void;
}): Promise<ClaimRound> {
  const { chain, receipts, say } = options;
  const window = await readClaimWindow(chain);
  const round: ClaimRound = { claimed: [], nothing: [], waiting: [] };
  const rewards = chain.deployment.contracts.SeedingRewards;
  for (const epoch of receipts.epochs()) {
    if (receipts.claimed(epoch) || (options.only !== undefined && epoch !== options.only)) continue;
    const count = summarize(receipts.batches(epoch), chain.seeder).receipts;
    if (count === 0) continue;
    const state = epochState(epoch, window);
    if (state === "open") {
      say(`epoch ${epoch}: not over yet (the chain is in epoch ${window.current})`);
      round.waiting.push(epoch);
      continue;
    }
    if (state !== "claimable") {
      say(`epoch ${epoch}: ${state === "closed" ? "its claim window has closed" : "a later epoch is claimed already"}`);
      continue;
    }
    if (options.nothingSeen?.get(epoch) === count) continue;
    if (options.settleS && epoch === window.current - 1) {
      const [ended, block] = await Promise.all([
        read<bigint>(chain, rewards, "epochStart", [window.current]),
        chain.publicClient.getBlock(),
      ]);
      if (block.timestamp < ended + BigInt(options.settleS)) {
        round.waiting.push(epoch);
        continue;
      }
    }
    try {
      const result = await claimEpoch({
        chain,
        receipts,
        chunks: options.chunks,
        epoch,
        onProgress: (progress) => {
          if (progress.text !== undefined) say(progress.text);
          options.onProgress?.(progress);
        },
      });
      round.claimed.push(result);
    } catch (error) {
      if (!(error instanceof ClaimFailedError && error.code === "CLAIM_NOTHING")) throw error;
      say(`epoch ${epoch}: nothing the chain would pay for`);
      options.nothingSeen?.set(epoch, count);
      round.nothing.push({ epoch, details: error.details });
    }
  }
  return round;
}
