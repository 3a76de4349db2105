/**
 * "Local dev account": a wagmi connector for local chains that needs no browser wallet. It signs with this tab's
 * burner key (see devKey.ts) through viem, sends raw transactions to the chain's RPC, and on connect tops its
 * balance up with `hardhat_setBalance`. Offered only on the hardhat chain id (31337).
 */
import {
  type Address,
  createWalletClient,
  type Hex,
  hexToBigInt,
  http,
  nonceManager,
  numberToHex,
  type PrivateKeyAccount,
  parseEther,
  RpcRequestError,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { getHttpRpcClient } from "viem/utils";
import { createConnector } from "wagmi";
import { claimDevKey } from "./devKey.ts";

export const HARDHAT_CHAIN_ID = 31337;
/** On connect the account is topped up to this when it has less than half of it. */
const DEV_BALANCE = parseEther("1000");
/** sessionStorage: this tab chose the dev account, so a reload reconnects it. */
const CONNECTED = "seedcraft:dev-account:connected";

type RequestArguments = { method: string; params?: unknown };
export type DevAccountProvider = { request(args: RequestArguments): Promise<unknown> };

type RpcTransaction = { to?: Address | null; data?: Hex; value?: Hex; gas?: Hex; nonce?: Hex };

devAccount.type = "devAccount" as const;

export function devAccount() {
  return createConnector<DevAccountProvider>((config) => {
    const chain = config.chains[0];
    const rpcUrl = chain.rpcUrls.default.http[0] ?? "http://127.0.0.1:8545";
    const rpc = getHttpRpcClient(rpcUrl);
    let account: PrivateKeyAccount | undefined;
    let provider: DevAccountProvider | undefined;
    let client: ReturnType<typeof createWalletClient> | undefined;

    async function call(method: string, params: unknown[] = []): Promise<unknown> {
      const body = { method, params };
      const response = await rpc.request({ body });
      if ("error" in response && response.error)
        throw new RpcRequestError({ body, error: response.error, url: rpcUrl });
      return "result" in response ? response.result : undefined;
    }

    async function loadAccount(): Promise<PrivateKeyAccount> {
      if (!account) {
        const { key } = await claimDevKey();
        // The nonce manager lets anchors of several chunks go out at once without reusing a nonce.
        account = privateKeyToAccount(key, { nonceManager });
      }
      return account;
    }

    async function fund(address: Address): Promise<void> {
      const balance = await call("eth_getBalance", [address, "latest"]);
      if (typeof balance === "string" && hexToBigInt(balance as Hex) >= DEV_BALANCE / 2n) return;
      await call("hardhat_setBalance", [address, numberToHex(DEV_BALANCE)]);
    }

    function walletClient(signer: PrivateKeyAccount) {
      client ??= createWalletClient({ account: signer, chain, transport: http(rpcUrl), pollingInterval: 250 });
      return client;
    }

    return {
      id: "devAccount",
      name: "Local dev account",
      type: devAccount.type,

      async connect({ withCapabilities } = {}) {
        if (chain.id !== HARDHAT_CHAIN_ID)
          throw new Error(`the local dev account works on the hardhat chain (${HARDHAT_CHAIN_ID}) only`);
        const signer = await loadAccount();
        await fund(signer.address);
        sessionStorage.setItem(CONNECTED, "1");
        const accounts = withCapabilities ? [{ address: signer.address, capabilities: {} }] : [signer.address];
        return { accounts: accounts as never, chainId: chain.id };
      },
      async disconnect() {
        sessionStorage.removeItem(CONNECTED);
      },
      async getAccounts() {
        return account && sessionStorage.getItem(CONNECTED) ? [account.address] : [];
      },
      async getChainId() {
        return chain.id;
      },
      async isAuthorized() {
        return chain.id === HARDHAT_CHAIN_ID && sessionStorage.getItem(CONNECTED) === "1";
      },
      async getClient() {
        return walletClient(await loadAccount());
      },
      async getProvider() {
        provider ??= {
          request: async ({ method, params }) => {
            const list = Array.isArray(params) ? (params as unknown[]) : [];
            switch (method) {
              case "eth_chainId":
                return numberToHex(chain.id);
              case "eth_accounts":
                return account && sessionStorage.getItem(CONNECTED) ? [account.address] : [];
              case "eth_requestAccounts":
                return [(await loadAccount()).address];
              case "personal_sign":
                return (await loadAccount()).signMessage({ message: { raw: list[0] as Hex } });
              case "eth_sendTransaction": {
                const tx = (list[0] ?? {}) as RpcTransaction;
                const signer = await loadAccount();
                return walletClient(signer).sendTransaction({
                  account: signer,
                  chain,
                  to: tx.to ?? null,
                  data: tx.data,
                  value: tx.value === undefined ? undefined : hexToBigInt(tx.value),
                  gas: tx.gas === undefined ? undefined : hexToBigInt(tx.gas),
                });
              }
              default:
                return call(method, list);
            }
          },
        };
        return provider;
      },
      onAccountsChanged(accounts) {
        if (accounts.length === 0) this.onDisconnect();
      },
      onChainChanged(chainId) {
        config.emitter.emit("change", { chainId: Number(chainId) });
      },
      onDisconnect() {
        sessionStorage.removeItem(CONNECTED);
        config.emitter.emit("disconnect");
      },
    };
  });
}
