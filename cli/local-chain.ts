/**
 * Node-only: viem clients for a Seedcraft deployment on a local chain, and the two steps a headless
 * player (and the tests) take on it: funding an account (hardhat_setBalance, local chains only) and
 * authorizing a session key in SessionRegistry with the key's consent.
 */
import { createPublicClient, createWalletClient, defineChain, http, type LocalAccount } from "viem";
import type { Deployment } from "../core/deployment.ts";
import { signSessionConsent } from "../core/session.ts";

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
