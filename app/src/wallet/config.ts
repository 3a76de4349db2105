/** The wagmi config: one chain (the deployment's), the browser wallet, and on a hardhat chain the dev account. */
import { defineChain } from "viem";
import { type Config, createConfig, http, injected } from "wagmi";
import type { AppConfig } from "../config.ts";
import { devAccount, HARDHAT_CHAIN_ID } from "./devAccount.ts";

export function worldChain({ deployment, rpcUrl }: AppConfig) {
  return defineChain({
    id: deployment.chainId,
    name: deployment.chainId === HARDHAT_CHAIN_ID ? "Hardhat (local)" : `Seedcraft chain ${deployment.chainId}`,
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
  });
}

export function createWalletConfig(app: AppConfig): Config {
  const chain = worldChain(app);
  return createConfig({
    chains: [chain],
    connectors: chain.id === HARDHAT_CHAIN_ID ? [injected(), devAccount()] : [injected()],
    transports: { [chain.id]: http(app.rpcUrl) },
    // Every wallet that announces itself (EIP-6963) gets a button of its own, beside the generic injected one.
    multiInjectedProviderDiscovery: true,
    // A local chain mines at once: don't wait seconds for receipts.
    pollingInterval: 250,
  });
}
