/** The hardhat network's funded wallets for contract tests, by index, with a clear error if one is missing. */
import type { network } from "hardhat";
import { type LocalAccount, mnemonicToAccount } from "viem/accounts";

type Viem = Awaited<ReturnType<typeof network.create>>["viem"];
export type TestWallet = Awaited<ReturnType<Viem["getWalletClients"]>>[number];

export async function testWallets(viem: Viem, count: number): Promise<TestWallet[]> {
  const wallets = await viem.getWalletClients();
  if (wallets.length < count)
    throw new Error(`the hardhat network has ${wallets.length} accounts, the test needs ${count}`);
  return wallets.slice(0, count);
}

/** Hardhat's default accounts come from this well-known development mnemonic. */
const DEV_MNEMONIC = "test test test test test test test test test test test junk";

/**
 * The local (private-key) account behind a test wallet, for code that signs digests itself, as core/ does.
 * Throws if the wallet is not one of the development mnemonic's first 20 accounts.
 */
export function localAccountOf(wallet: TestWallet): LocalAccount {
  for (let addressIndex = 0; addressIndex < 20; addressIndex++) {
    const account = mnemonicToAccount(DEV_MNEMONIC, { addressIndex });
    if (account.address.toLowerCase() === wallet.account.address.toLowerCase()) return account;
  }
  throw new Error(`${wallet.account.address} is not a development account`);
}
