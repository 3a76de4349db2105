/** The block that created a contract: its hash names the world (core/deployment.ts `worldKeyOf`). */
import type { Address, Hex, PublicClient } from "viem";

/**
 * The first block after `fromBlock` whose state holds code at `address`, by bisection over `eth_getCode`
 * (a handful of reads, on any node that keeps the state of recent blocks).
 */
export async function creationBlockOf(
  client: Pick<PublicClient, "getCode" | "getBlock" | "getBlockNumber">,
  address: Address,
  fromBlock: bigint,
): Promise<{ number: bigint; hash: Hex }> {
  let low = fromBlock;
  let high = await client.getBlockNumber({ cacheTime: 0 });
  const hasCode = async (blockNumber: bigint) => {
    const code = await client.getCode({ address, blockNumber });
    return code !== undefined && code !== "0x";
  };
  if (!(await hasCode(high))) throw new Error(`no contract at ${address} in block ${high}`);
  // Invariant: no code at `low` (or low is fromBlock), code at `high`.
  while (high - low > 1n) {
    const middle = (low + high) / 2n;
    if (await hasCode(middle)) high = middle;
    else low = middle;
  }
  if (high - 1n === low && low === fromBlock && (await hasCode(low))) high = low;
  const block = await client.getBlock({ blockNumber: high });
  if (!block.hash) throw new Error(`block ${high} has no hash yet`);
  return { number: high, hash: block.hash };
}
