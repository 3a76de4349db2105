/** The hardhat network's funded wallets for contract tests, by index, with a clear error if one is missing. */
import type { network } from "hardhat";

type Viem = Awaited<ReturnType<typeof network.create>>["viem"];
export type TestWallet = Awaited<ReturnType<Viem["getWalletClients"]>>[number];

export async function testWallets(viem: Viem, count: number): Promise<TestWallet[]> {
  const wallets = await viem.getWalletClients();
  if (wallets.length < count)
    throw new Error(`the hardhat network has ${wallets.length} accounts, the test needs ${count}`);
  return wallets.slice(0, count);
}
