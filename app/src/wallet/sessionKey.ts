/**
 * The player's session key: a burner secp256k1 key that signs every op, receipt and anchor, so the wallet is
 * asked once per session, never per edit. The wallet authorizes it in one transaction that also sends it
 * the ETH its anchors burn (SessionRegistry.authorize is payable); on the local chain the gas comes from
 * `hardhat_setBalance` instead. Each tab keeps its own key (sessionStorage), so two tabs of one wallet
 * are two peers with two keys, and a reload keeps the key and its authorization.
 */
import { type Address, formatEther, type Hex, nonceManager, numberToHex, type PublicClient, parseEther } from "viem";
import { generatePrivateKey, type PrivateKeyAccount, privateKeyToAccount } from "viem/accounts";
import type { Config } from "wagmi";
import { waitForTransactionReceipt, writeContract } from "wagmi/actions";
import { SeedcraftError } from "../../../core/errors.ts";
import { signSessionConsent } from "../../../core/session.ts";
import { IndexerLedger } from "../../../p2p/ledger.ts";
import type { AppConfig } from "../config.ts";
import { HARDHAT_CHAIN_ID } from "./devAccount.ts";

export class SessionError extends SeedcraftError {
  constructor(
    code: "SESSION_REFUSED" | "SESSION_NOT_INDEXED" | "SESSION_FUNDING" | "SESSION_NEEDS_CLICK",
    message: string,
    details?: string,
  ) {
    super(code, message, details);
    this.name = "SessionError";
  }
}

export type PlayerSession = { wallet: Address; key: PrivateKeyAccount; expiresAt: bigint };

/** How long an authorization lasts, and how much of it must be left to reuse one. */
const LIFETIME_S = 12 * 3600;
const MIN_LEFT_S = 600;
/** What the wallet sends along for gas on a real chain (an anchor costs well under 100k gas). */
const GAS_ALLOWANCE = parseEther("0.01");
const LOCAL_GAS = parseEther("100");
const INDEXER_WAIT_MS = 30_000;

const storageKey = (config: AppConfig, wallet: Address) =>
  `seedcraft:session:${config.deployment.chainId}:${config.deployment.contracts.SessionRegistry.address}:${wallet.toLowerCase()}`;

function storedKey(name: string): Hex {
  const stored = sessionStorage.getItem(name);
  if (stored && /^0x[0-9a-fA-F]{64}$/.test(stored)) return stored as Hex;
  const key = generatePrivateKey();
  sessionStorage.setItem(name, key);
  return key;
}

export type SessionStep = "checking" | "authorizing" | "funding" | "indexing" | "ready";

/**
 * This tab's session key for `wallet`, authorized and funded: reused while it has time left, else
 * authorized anew (one wallet confirmation), only if `ask` (the player clicked): otherwise it rejects with
 * SESSION_NEEDS_CLICK before the wallet is asked anything. Resolves once the indexer shows it, since peers
 * check hellos against the indexer.
 */
export async function ensureSession(
  wagmi: Config,
  config: AppConfig,
  chain: PublicClient,
  wallet: Address,
  onStep: (step: SessionStep) => void = () => {},
  ask = true,
): Promise<PlayerSession> {
  const { deployment, indexerUrl } = config;
  const registry = deployment.contracts.SessionRegistry;
  // The nonce manager lets anchors go out while earlier ones are still being mined.
  const key = privateKeyToAccount(storedKey(storageKey(config, wallet)), { nonceManager });
  const local = deployment.chainId === HARDHAT_CHAIN_ID;

  onStep("checking");
  const [owner, current] = (await chain.readContract({
    address: registry.address,
    abi: registry.abi,
    functionName: "sessionOf",
    args: [key.address],
  })) as [Address, bigint];
  const block = await chain.getBlock();
  let expiresAt = current;
  if (owner.toLowerCase() !== wallet.toLowerCase() || current < block.timestamp + BigInt(MIN_LEFT_S)) {
    if (!ask)
      throw new SessionError(
        "SESSION_NEEDS_CLICK",
        "Joining asks your wallet to authorize a session key: click Join.",
        "A wallet that reconnected by itself is never asked for a transaction without a click.",
      );
    onStep("authorizing");
    // Chain time, not the tab's clock: a local chain's time may have been moved ahead.
    expiresAt = block.timestamp + BigInt(LIFETIME_S);
    const consent = await signSessionConsent(key, wallet, expiresAt, {
      chainId: deployment.chainId,
      verifyingContract: registry.address,
    });
    try {
      const hash = await writeContract(wagmi, {
        address: registry.address,
        abi: registry.abi,
        functionName: "authorize",
        args: [key.address, expiresAt, consent],
        value: local ? 0n : GAS_ALLOWANCE,
        chainId: deployment.chainId,
      });
      const receipt = await waitForTransactionReceipt(wagmi, { hash, chainId: deployment.chainId });
      if (receipt.status !== "success") throw new Error(`reverted in block ${receipt.blockNumber}`);
    } catch (error) {
      const message =
        error instanceof Error ? ((error as { shortMessage?: string }).shortMessage ?? error.message) : "";
      throw new SessionError("SESSION_REFUSED", "The session key was not authorized.", message);
    }
  }
  if (local) {
    onStep("funding");
    const balance = await chain.getBalance({ address: key.address });
    if (balance < LOCAL_GAS / 2n)
      await chain
        .request({
          method: "hardhat_setBalance" as "eth_chainId",
          params: [key.address, numberToHex(LOCAL_GAS)] as unknown as undefined,
        })
        .catch((error: Error) => {
          throw new SessionError(
            "SESSION_FUNDING",
            "Could not fund the session key on the local chain.",
            error.message,
          );
        });
  } else {
    const balance = await chain.getBalance({ address: key.address });
    if (balance === 0n)
      throw new SessionError(
        "SESSION_FUNDING",
        "The session key has no ETH for its anchors.",
        `send some to ${key.address} (it holds ${formatEther(balance)})`,
      );
  }

  onStep("indexing");
  const ledger = new IndexerLedger(indexerUrl, { ttlMs: 0 });
  const deadline = Date.now() + INDEXER_WAIT_MS;
  for (;;) {
    const facts = await ledger.player(wallet).catch(() => undefined);
    if (facts?.sessions.some((s) => s.sessionKey.toLowerCase() === key.address.toLowerCase())) break;
    if (Date.now() > deadline)
      throw new SessionError(
        "SESSION_NOT_INDEXED",
        `The indexer did not show the session in ${INDEXER_WAIT_MS / 1000} s.`,
      );
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
  onStep("ready");
  return { wallet, key, expiresAt };
}
