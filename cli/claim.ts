/**
 * `seedcraft claim`: turns a seeder's stored receipts into energy. For each finished epoch it has receipts
 * for (oldest first): plan the claim (core/claim.ts), commit to it, wait for the challenge block, prove the
 * challenged leaf of the challenged chunk from the cache, and claim; then mark the epoch claimed in the
 * receipt store and show the energy earned and the balance.
 */
import path from "node:path";
import { parseArgs } from "node:util";
import { type Address, bytesToHex, getAddress, type Hex, parseEventLogs } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { AnchorTree } from "../core/anchors.ts";
import { decodeChunk } from "../core/chunk.ts";
import { type AnchoredAt, challengeOf, planClaim } from "../core/claim.ts";
import { SeedcraftError } from "../core/errors.ts";
import { ChunkMerkle } from "../core/merkle.ts";
import { recoverReceiptBatchSigner } from "../core/receipt.ts";
import { readDeployment } from "../deploy/deployment-file.ts";
import { NodeChunkCache } from "../p2p/node/chunk-cache.ts";
import { ReceiptStore } from "../p2p/node/receipt-store.ts";
import { UsageError } from "./errors.ts";
import { advanceToNextEpoch, type LocalChainClients, localChainClients, worldEnv } from "./local-chain.ts";
import { formatEnergy, readSeederWallet, seederRunningIn } from "./seed.ts";

export const CLAIM_HELP = `  claim    Claim energy for the seeder's receipts: commit, wait for the challenge, prove, claim.
           --cache <dir>          the seeder's directory (SEEDCRAFT_STATE_DIR/seeder)
           --epoch <n>            only this epoch (every finished epoch with receipts, oldest first)
           --advance-time         local chain only: move the chain's clock past the current epoch first`;

export class ClaimFailedError extends SeedcraftError {
  constructor(
    code: "CLAIM_NOTHING" | "CLAIM_NO_ANCHOR" | "CLAIM_NO_CHUNK" | "CLAIM_REVERTED",
    message: string,
    details?: string,
  ) {
    super(code, message, details);
    this.name = "ClaimFailedError";
  }
}

type Contract = LocalChainClients["deployment"]["contracts"]["SeedingRewards"];

async function read<T>(clients: LocalChainClients, contract: Contract, functionName: string, args: unknown[] = []) {
  return (await clients.publicClient.readContract({
    address: contract.address,
    abi: contract.abi,
    functionName,
    args,
  })) as T;
}

/**
 * Where `hash` was anchored: the anchoring transaction's `ChunkAnchored` events, in order, are the leaves of
 * the batch's Merkle tree (ChunkLedger stores its root).
 */
async function anchoringOf(
  clients: LocalChainClients,
  chunkId: bigint,
  version: number,
  hash: Hex,
): Promise<AnchoredAt> {
  const ledger = clients.deployment.contracts.ChunkLedger;
  const logs = await clients.publicClient.getContractEvents({
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
  const receipt = await clients.publicClient.getTransactionReceipt({ hash: log.transactionHash });
  const leaves = parseEventLogs({ abi: ledger.abi, logs: receipt.logs, eventName: "ChunkAnchored" })
    .filter((entry) => getAddress(entry.address) === getAddress(ledger.address))
    .map((entry) => {
      const args = entry.args as { chunkId: bigint; version: number; hash: Hex };
      return { chunkId: args.chunkId, version: Number(args.version), hash: args.hash };
    });
  const tree = new AnchorTree(leaves);
  return { tree, index: tree.indexOf(hash) };
}

/** Claims one epoch; resolves with the reward (energy wei). */
async function claimEpoch(
  clients: LocalChainClients,
  store: ReceiptStore,
  cache: NodeChunkCache,
  epoch: number,
  say: (line: string) => void,
): Promise<bigint> {
  const { deployment, publicClient, walletClient } = clients;
  const rewards = deployment.contracts.SeedingRewards;
  const seeder = walletClient.account.address;
  const domain = { chainId: deployment.chainId, verifyingContract: rewards.address };
  const heads = new Map(cache.entries().map((head) => [head.hash.toLowerCase(), head]));

  // A commit cannot be taken back: leave out, before committing, every batch the chain would refuse.
  const start = await read<bigint>(clients, rewards, "epochStart", [epoch]);
  const cap = await read<bigint>(clients, rewards, "leecherCap");
  const batches = [];
  for (const batch of store.batches(epoch)) {
    if (getAddress(batch.seeder) !== getAddress(seeder)) continue;
    const leecher = getAddress(batch.leecher);
    const why = await (async () => {
      const first = await read<bigint>(clients, deployment.contracts.ChunkLedger, "firstAnchorAt", [leecher]);
      if (first === 0n || first >= start) return "had not anchored anything before the epoch";
      const signer = recoverReceiptBatchSigner(batch, domain);
      if (signer !== leecher) {
        const wallet = await read<Address>(clients, deployment.contracts.SessionRegistry, "walletOf", [signer]);
        if (getAddress(wallet) !== leecher) return "signed with a session key that is no longer live";
      }
      const attested = await read<bigint>(clients, rewards, "attestedBy", [leecher, epoch]);
      const bytes = batch.receipts.reduce((sum, r) => sum + r.bytes, 0n);
      if (attested + bytes > cap) return `would pass its cap of ${cap} bytes for the epoch`;
      for (const r of batch.receipts) {
        const head = heads.get(r.contentHash.toLowerCase());
        if (!head || !(await cache.get(head.chunkId, head.version)))
          return "names a snapshot the cache no longer holds";
      }
      return undefined;
    })();
    if (why) say(`epoch ${epoch}: leaving out ${batch.receipts.length} receipt(s) from ${leecher}: it ${why}`);
    else batches.push(batch);
  }
  if (batches.length === 0)
    throw new ClaimFailedError("CLAIM_NOTHING", `No receipts the chain would pay for in epoch ${epoch}.`);

  // The anchoring proof of every content the receipts name, from the snapshot the cache holds for it.
  const anchored = new Map<string, AnchoredAt>();
  const contents = new Set(batches.flatMap((batch) => batch.receipts.map((r) => r.contentHash.toLowerCase())));
  say(`epoch ${epoch}: ${batches.length} leecher(s), proving ${contents.size} snapshot(s) anchored…`);
  for (const hash of contents) {
    const head = heads.get(hash);
    if (!head)
      throw new ClaimFailedError("CLAIM_NO_CHUNK", "A receipt names a snapshot the cache no longer holds.", hash);
    anchored.set(hash, await anchoringOf(clients, head.chunkId, head.version, head.hash));
  }
  const plan = planClaim({ seeder, epoch, batches, anchored, domain });
  // A run that stopped after its commit goes on from it, if the commitment is to the same receipts.
  const [committedAlready, committedEpoch, digest, pendingChallenge, claimedAlready] = await read<
    [boolean, number, Hex, bigint, boolean]
  >(clients, rewards, "commitmentOf", [seeder]);
  let challengeBlock: bigint;
  if (committedAlready && committedEpoch === epoch && !claimedAlready) {
    if (digest.toLowerCase() !== plan.commitment.toLowerCase())
      throw new ClaimFailedError(
        "CLAIM_REVERTED",
        `Epoch ${epoch} is committed to other receipts than the store holds now.`,
        `committed ${digest}, the store's plan ${plan.commitment}`,
      );
    challengeBlock = pendingChallenge;
    say(`epoch ${epoch}: already committed; challenge block ${challengeBlock}`);
  } else {
    say(`epoch ${epoch}: ${plan.receiptCount} receipts, ${plan.totalBytes} bytes; committing…`);
    const commitTx = await walletClient.writeContract({
      address: rewards.address,
      abi: rewards.abi,
      functionName: "commit",
      args: [epoch, plan.commitment],
    });
    const committed = await publicClient.waitForTransactionReceipt({ hash: commitTx, pollingInterval: 50 });
    if (committed.status !== "success") throw new ClaimFailedError("CLAIM_REVERTED", "The commit reverted.", commitTx);
    // The challenge is the hash of the block after the commit, which nobody could know when committing.
    challengeBlock = committed.blockNumber + 1n;
    say(`epoch ${epoch}: committed in block ${committed.blockNumber}; waiting for challenge block ${challengeBlock}…`);
  }
  if (deployment.chainId === 31337) await publicClient.request({ method: "evm_mine" as "eth_chainId" });
  while ((await publicClient.getBlockNumber()) <= challengeBlock) await new Promise((r) => setTimeout(r, 500));
  const block = await publicClient.getBlock({ blockNumber: challengeBlock });
  const challenge = challengeOf(block.hash, seeder, epoch, plan.receiptCount);
  const challenged = plan.contentAt(challenge.receiptIndex);
  const head = heads.get(challenged.toLowerCase());
  const cached = head ? await cache.get(head.chunkId, head.version) : undefined;
  if (!cached) throw new ClaimFailedError("CLAIM_NO_CHUNK", "The challenged snapshot is not in the cache.", challenged);
  const merkle = new ChunkMerkle(decodeChunk(cached.bytes));
  say(`epoch ${epoch}: proving leaf ${challenge.leafIndex} of receipt ${challenge.receiptIndex}; claiming…`);
  const claimTx = await walletClient.writeContract({
    address: rewards.address,
    abi: rewards.abi,
    functionName: "claim",
    args: [
      epoch,
      plan.contents,
      plan.anchorings,
      plan.batches,
      {
        leaf: bytesToHex(merkle.leafBytes(challenge.leafIndex)),
        siblings: merkle.proof(challenge.leafIndex).map((node) => bytesToHex(node)),
      },
    ],
  });
  const claimed = await publicClient.waitForTransactionReceipt({ hash: claimTx, pollingInterval: 50 });
  if (claimed.status !== "success") throw new ClaimFailedError("CLAIM_REVERTED", "The claim reverted.", claimTx);
  const [event] = parseEventLogs({ abi: rewards.abi, logs: claimed.logs, eventName: "RewardClaimed" });
  await store.markClaimed(epoch);
  return (event?.args as { reward?: bigint } | undefined)?.reward ?? 0n;
}

export async function claim(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { cache: { type: "string" }, epoch: { type: "string" }, "advance-time": { type: "boolean" } },
    strict: true,
    allowPositionals: false,
  });
  const only = values.epoch === undefined ? undefined : Number(values.epoch);
  if (only !== undefined && (!Number.isInteger(only) || only < 0 || only > 0xffff_ffff))
    throw new UsageError(`--epoch must be an epoch number, got ${JSON.stringify(values.epoch)}`);
  const stateDir = process.env.SEEDCRAFT_STATE_DIR || ".seedcraft";
  const dir = path.resolve(values.cache ?? path.join(stateDir, "seeder"));
  const { network, rpc } = worldEnv();
  const deployment = await readDeployment(network);
  const wallet = privateKeyToAccount(await readSeederWallet(dir));
  const clients = localChainClients(deployment, rpc, wallet);
  const rewards = deployment.contracts.SeedingRewards;
  const say = (line: string) => console.log(line);

  if (values["advance-time"]) {
    if (deployment.chainId !== 31337) throw new UsageError("--advance-time works on the local chain only");
    const epochLength = await read<bigint>(clients, rewards, "epochLength");
    const epoch = await advanceToNextEpoch(clients);
    say(`moved the local chain's clock to epoch ${epoch} (epochs are ${epochLength} s)`);
  }

  // The seeder writes its receipt log and cache as it runs: claim from a stopped seeder's directory.
  const running = await seederRunningIn(dir);
  if (running !== undefined)
    throw new UsageError(`a seeder (pid ${running}) runs in ${dir}: stop it first, then claim`);
  const store = await ReceiptStore.open(path.join(dir, "receipts"));
  const cache = await NodeChunkCache.open(path.join(dir, "cache"));
  try {
    const current = Number(await read<bigint>(clients, rewards, "currentEpoch"));
    const window = Number(await read<bigint>(clients, rewards, "claimWindow"));
    const epochs = store.epochs().filter((epoch) => !store.claimed(epoch) && (only === undefined || epoch === only));
    const finished = epochs.filter((epoch) => epoch < current && current <= epoch + window);
    for (const epoch of epochs)
      if (!finished.includes(epoch))
        say(
          epoch >= current
            ? `epoch ${epoch}: not over yet (the chain is in epoch ${current})`
            : `epoch ${epoch}: its claim window has closed`,
        );
    if (finished.length === 0) {
      say("nothing to claim");
      return only === undefined ? 0 : 1;
    }
    let earned = 0n;
    for (const epoch of finished) {
      const reward = await claimEpoch(clients, store, cache, epoch, say);
      say(`epoch ${epoch}: claimed ${formatEnergy(reward, 4)} energy`);
      earned += reward;
    }
    const energy = deployment.contracts.EnergyToken;
    const balance = (await clients.publicClient.readContract({
      address: energy.address,
      abi: energy.abi,
      functionName: "balanceOf",
      args: [wallet.address as Address],
    })) as bigint;
    say(`earned ${formatEnergy(earned, 4)} energy; ${wallet.address} holds ${formatEnergy(balance, 4)}`);
    return 0;
  } finally {
    await cache.close();
    await store.close();
  }
}
