/** viem clients for a local Seedcraft chain, from its deployment file, and the steps tests repeat on it. */
import { createPublicClient, createWalletClient, defineChain, http, type LocalAccount } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { signSessionConsent } from "../../core/session.ts";
import { readDeployment } from "../../deploy/deployment-file.ts";
import { waitFor } from "./world.ts";

/** Hardhat's first well-known dev account: public knowledge, holds value only on local chains. */
export const DEV_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

/** The deployment `network` names and clients for the chain at `rpc`, writing as the dev account. */
export async function localClients(network: string, rpc: string) {
  const deployment = await readDeployment(network);
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
    walletClient: createWalletClient({ chain, transport, account: privateKeyToAccount(DEV_KEY) }),
  };
}

export type LocalClients = Awaited<ReturnType<typeof localClients>>;

/** A wallet client for another local account, given 100 ETH for gas (hardhat_setBalance). */
export async function fundedWalletClient(clients: LocalClients, account: LocalAccount) {
  const { publicClient } = clients;
  await publicClient.request({
    method: "hardhat_setBalance" as "eth_chainId",
    params: [account.address, "0x56bc75e2d63100000"] as unknown as undefined,
  });
  return createWalletClient({ chain: publicClient.chain, transport: http(publicClient.transport.url), account });
}

/**
 * `wallet` (the dev account by default) authorizes `key` as its session key for an hour, with the key's
 * consent; returns the block.
 */
export async function authorizeSessionKey(
  clients: LocalClients,
  key: LocalAccount,
  wallet?: LocalAccount,
): Promise<bigint> {
  const { deployment, publicClient } = clients;
  const walletClient = wallet ? await fundedWalletClient(clients, wallet) : clients.walletClient;
  const registry = deployment.contracts.SessionRegistry;
  const expiresAt = BigInt(Math.floor(Date.now() / 1000) + 3600);
  const consent = await signSessionConsent(key, walletClient.account.address, expiresAt, {
    chainId: deployment.chainId,
    verifyingContract: registry.address,
  });
  const tx = await walletClient.writeContract({
    address: registry.address,
    abi: registry.abi,
    functionName: "authorize",
    args: [key.address, expiresAt, consent],
  });
  return (await publicClient.waitForTransactionReceipt({ hash: tx, pollingInterval: 20 })).blockNumber;
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
