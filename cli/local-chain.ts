/**
 * Node-only: viem clients for a Seedcraft deployment on a local chain, and the two steps a headless
 * player (and the tests) take on it: funding an account (hardhat_setBalance, local chains only) and
 * authorizing a session key in SessionRegistry with the key's consent.
 */
import { bytesToHex, createPublicClient, createWalletClient, defineChain, http, type LocalAccount } from "viem";
import { decodeChunk } from "../core/chunk.ts";
import type { Deployment } from "../core/deployment.ts";
import { type Hlc, packHlc } from "../core/hlc.ts";
import { chunkHash } from "../core/merkle.ts";
import { signSessionConsent } from "../core/session.ts";
import { chunkTorrent } from "../core/torrent.ts";
import { seedingEpochClock } from "../p2p/epochs.ts";
import type { AnchoredHead } from "../p2p/heads.ts";

export { seedingEpochClock };

/** Clients for the chain at `rpc`, writing as `account`. */
export function localChainClients(deployment: Deployment, rpc: string, account: LocalAccount) {
  const chain = defineChain({
    id: deployment.chainId,
    name: "local",
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [rpc] } },
  });
  const transport = http(rpc);
  return {
    deployment,
    publicClient: createPublicClient({ chain, transport }),
    walletClient: createWalletClient({ chain, transport, account }),
  };
}

export type LocalChainClients = ReturnType<typeof localChainClients>;

/** Gives `account` 100 ETH for gas (hardhat_setBalance: a local chain's method). */
export async function fundLocalAccount(clients: LocalChainClients, account: LocalAccount): Promise<void> {
  await clients.publicClient.request({
    method: "hardhat_setBalance" as "eth_chainId",
    params: [account.address, "0x56bc75e2d63100000"] as unknown as undefined,
  });
}

/**
 * The clients' wallet authorizes `sessionKey` for `lifetimeS` seconds, with the key's consent; resolves
 * with the block that holds the authorization.
 */
export async function authorizeSession(
  clients: LocalChainClients,
  sessionKey: LocalAccount,
  lifetimeS: number,
): Promise<bigint> {
  const { deployment, publicClient, walletClient } = clients;
  const registry = deployment.contracts.SessionRegistry;
  const expiresAt = BigInt(Math.floor(Date.now() / 1000) + lifetimeS);
  const consent = await signSessionConsent(sessionKey, walletClient.account.address, expiresAt, {
    chainId: deployment.chainId,
    verifyingContract: registry.address,
  });
  const hash = await walletClient.writeContract({
    address: registry.address,
    abi: registry.abi,
    functionName: "authorize",
    args: [sessionKey.address, expiresAt, consent],
  });
  return (await publicClient.waitForTransactionReceipt({ hash, pollingInterval: 20 })).blockNumber;
}

/** A chunk's new snapshot, ready to anchor on top of `expectedVersion`. */
export type SnapshotToAnchor = { chunkId: bigint; expectedVersion: number; snapshot: Uint8Array; watermark: Hlc };

/**
 * Anchors snapshots as the clients' wallet, in `anchorBatch` transactions of up to 256, each with the
 * infoHash of its torrent (core/torrent.ts) so peers can fetch it. Resolves with the heads and the last block.
 */
export async function anchorSnapshots(
  clients: LocalChainClients,
  snapshots: readonly SnapshotToAnchor[],
): Promise<{ heads: AnchoredHead[]; blockNumber: bigint }> {
  const ledger = clients.deployment.contracts.ChunkLedger;
  const heads: AnchoredHead[] = [];
  let blockNumber = 0n;
  for (let i = 0; i < snapshots.length; i += 256) {
    const slice = snapshots.slice(i, i + 256);
    const batch = slice.map((item) => {
      const version = item.expectedVersion + 1;
      const head: AnchoredHead = {
        chunkId: item.chunkId,
        version,
        hash: bytesToHex(chunkHash(decodeChunk(item.snapshot))),
        infoHash: chunkTorrent(item.chunkId, version, item.snapshot).infoHash,
        watermark: item.watermark,
      };
      heads.push(head);
      return {
        chunkId: item.chunkId,
        expectedVersion: item.expectedVersion,
        newHash: head.hash,
        infoHash: head.infoHash,
        watermark: packHlc(item.watermark),
      };
    });
    const hash = await clients.walletClient.writeContract({
      address: ledger.address,
      abi: ledger.abi,
      functionName: "anchorBatch",
      args: [batch],
    });
    const receipt = await clients.publicClient.waitForTransactionReceipt({ hash, pollingInterval: 20 });
    if (receipt.status !== "success") throw new Error(`anchorBatch reverted in ${hash}`);
    blockNumber = receipt.blockNumber;
  }
  return { heads, blockNumber };
}

/** The world's host as `seedcraft up` tells others (SEEDCRAFT_PUBLIC_HOST), else this machine's loopback. */
export function worldHost(): string {
  return process.env.SEEDCRAFT_PUBLIC_HOST || "127.0.0.1";
}

/** Where a command finds the local world: the deployment's network, the chain and the indexer. */
export function worldEnv(): { network: string; rpc: string; indexer: string } {
  // The same host and ports `seedcraft up` was given, so a world moved with SEEDCRAFT_PUBLIC_HOST and
  // SEEDCRAFT_*_PORT is found without URLs.
  const chainPort = process.env.SEEDCRAFT_CHAIN_PORT || "8545";
  const indexerPort = process.env.SEEDCRAFT_INDEXER_PORT || "42069";
  return {
    network: process.env.SEEDCRAFT_NETWORK || "localhost",
    rpc: process.env.SEEDCRAFT_RPC_URL || `http://${worldHost()}:${chainPort}`,
    indexer: process.env.SEEDCRAFT_INDEXER_URL || `http://${worldHost()}:${indexerPort}`,
  };
}

/** Local chains only: moves the chain's clock one second into the next seeding epoch; resolves with it. */
export async function advanceToNextEpoch(clients: LocalChainClients): Promise<bigint> {
  const rewards = clients.deployment.contracts.SeedingRewards;
  const read = (functionName: "currentEpoch" | "epochStart", args: unknown[] = []) =>
    clients.publicClient.readContract({
      address: rewards.address,
      abi: rewards.abi,
      functionName,
      args,
    }) as Promise<bigint>;
  const next = (await read("currentEpoch")) + 1n;
  const start = await read("epochStart", [Number(next)]);
  const now = (await clients.publicClient.getBlock()).timestamp;
  await clients.publicClient.request({
    method: "evm_increaseTime" as "eth_chainId",
    params: [Number(start - now + 1n)] as unknown as undefined,
  });
  await clients.publicClient.request({ method: "evm_mine" as "eth_chainId" });
  return next;
}
