/** viem clients for a local Seedcraft chain, from its deployment file, and the steps tests repeat on it. */
import type { LocalAccount } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { authorizeSession, fundLocalAccount, localChainClients } from "../../cli/local-chain.ts";
import { readDeployment } from "../../deploy/deployment-file.ts";
import { waitFor } from "./world.ts";

/** Hardhat's first well-known dev account: public knowledge, holds value only on local chains. */
export const DEV_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

/** The deployment `network` names and clients for the chain at `rpc`, writing as the dev account. */
export async function localClients(network: string, rpc: string) {
  return localChainClients(await readDeployment(network), rpc, privateKeyToAccount(DEV_KEY));
}

export type LocalClients = Awaited<ReturnType<typeof localClients>>;

/**
 * `wallet` (the dev account by default; another one is funded first) authorizes `key` as its session
 * key (for an hour by default), with the key's consent; returns the block.
 */
export async function authorizeSessionKey(
  clients: LocalClients,
  key: LocalAccount,
  wallet?: LocalAccount,
  lifetimeS = 3600,
): Promise<bigint> {
  if (!wallet) return await authorizeSession(clients, key, lifetimeS);
  await fundLocalAccount(clients, wallet);
  const rpc = clients.publicClient.transport.url as string;
  return await authorizeSession(localChainClients(clients.deployment, rpc, wallet), key, lifetimeS);
}

/**
 * Waits until the indexer at `indexer` has indexed `block`. Its status moves only after every table of
 * the block is written, so this, not one table's answer, says that the whole block is in.
 */
export async function waitForIndexedBlock(indexer: string, block: bigint, timeoutMs = 30_000): Promise<void> {
  await waitFor(
    `${indexer} to index block ${block}`,
    async () => {
      const status = (await (await fetch(`${indexer}/v1/status`)).json()) as { indexedBlock: number | null };
      return (status.indexedBlock ?? 0) >= Number(block);
    },
    timeoutMs,
  );
}

/** A player of the tests: a wallet and the session key it authorized. */
export type TestPlayer = { wallet: LocalAccount; session: LocalAccount };

/** `count` new wallets, each with a session key authorized on chain (for an hour) and seen by the indexer. */
export async function newPlayers(clients: LocalClients, indexer: string, count: number): Promise<TestPlayer[]> {
  const made: TestPlayer[] = [];
  let last = 0n;
  for (let i = 0; i < count; i++) {
    const player = {
      wallet: privateKeyToAccount(generatePrivateKey()),
      session: privateKeyToAccount(generatePrivateKey()),
    };
    last = await authorizeSessionKey(clients, player.session, player.wallet);
    made.push(player);
  }
  await waitForIndexedBlock(indexer, last);
  return made;
}
