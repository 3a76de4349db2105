import { useEffect } from "react";
import { formatUnits } from "viem";
import { useConnection, useReadContracts, useWaitForTransactionReceipt, useWriteContract } from "wagmi";
import { BLOCKS } from "../../../core/blocks.ts";
import type { Session } from "../session.ts";

const PREMIUM = BLOCKS.filter((block) => block.premium);

/** The energy balance, and the shop: premium blocks unlocked with energy (one wallet transaction each). */
export function EnergyPanel({ session }: { session: Session }) {
  const { address } = useConnection();
  const token = session.config.deployment.contracts.EnergyToken;
  const chainId = session.config.deployment.chainId;
  const reads = useReadContracts({
    contracts: address
      ? [
          { address: token.address, abi: token.abi, functionName: "balanceOf", args: [address], chainId },
          ...PREMIUM.flatMap((block) => [
            { address: token.address, abi: token.abi, functionName: "priceOf", args: [BigInt(block.id)], chainId },
            {
              address: token.address,
              abi: token.abi,
              functionName: "hasUnlocked",
              args: [address, BigInt(block.id)],
              chainId,
            },
          ]),
        ]
      : [],
    query: { enabled: Boolean(address), refetchInterval: 2000 },
  });
  const write = useWriteContract();
  const mined = useWaitForTransactionReceipt({ hash: write.data, chainId });
  const { refetch } = reads;
  useEffect(() => {
    if (mined.isSuccess) void refetch();
  }, [mined.isSuccess, refetch]);

  const results = reads.data ?? [];
  const balance = results[0]?.result as bigint | undefined;
  const items = PREMIUM.map((block, i) => ({
    block,
    price: results[1 + i * 2]?.result as bigint | undefined,
    unlocked: results[2 + i * 2]?.result === true,
  }));
  const unlockedIds = items.filter((item) => item.unlocked).map((item) => item.block.id);
  useEffect(() => {
    const current = session.unlocked.get();
    if (unlockedIds.length !== current.size || unlockedIds.some((id) => !current.has(id)))
      session.unlocked.set(new Set(unlockedIds));
  }, [session, unlockedIds]);

  if (!address) return null;
  return (
    <div className="energy">
      <div className="row">
        <span className="label">Energy</span>
        <code data-testid="energy-balance" data-wei={balance?.toString()}>
          {balance === undefined ? "…" : Number(formatUnits(balance, 18)).toFixed(4)}
        </code>
      </div>
      <div className="shop" data-testid="shop">
        {items.map(({ block, price, unlocked }) => {
          const affordable = balance !== undefined && price !== undefined && balance >= price;
          return (
            <div key={block.id} className="row">
              <span className="label">{block.name}</span>
              {unlocked ? (
                <span className="pill pill-ready" data-testid={`unlocked-${block.name}`}>
                  unlocked
                </span>
              ) : (
                <button
                  type="button"
                  data-testid={`unlock-${block.name}`}
                  disabled={!affordable || write.isPending || mined.isLoading}
                  title={price === undefined ? "" : `costs ${formatUnits(price, 18)} energy`}
                  onClick={() =>
                    price !== undefined &&
                    write.mutate({
                      address: token.address,
                      abi: token.abi,
                      functionName: "spend",
                      args: [price, BigInt(block.id)],
                      chainId,
                    })
                  }
                >
                  Unlock ({price === undefined ? "…" : Number(formatUnits(price, 18)).toFixed(2)})
                </button>
              )}
            </div>
          );
        })}
      </div>
      {write.error && (
        <p className="error" data-testid="shop-error">
          {(write.error as { shortMessage?: string }).shortMessage ?? write.error.message}
        </p>
      )}
    </div>
  );
}
