import { useEffect, useState } from "react";
import { type Address, formatUnits } from "viem";
import { type Config, useConnection } from "wagmi";
import type { IdbChunkCache } from "../../../p2p/browser/idb-cache.ts";
import type { IdbReceiptStore } from "../../../p2p/browser/idb-receipts.ts";
import { CLAIM_STEP_LABELS } from "../../../p2p/claim.ts";
import type { AppConfig } from "../config.ts";
import { type ClaimRun, SeederClaims, type SeederFigures } from "../net/claim.ts";
import { useStore } from "../store.ts";

export type ClaimPanelProps = {
  config: AppConfig;
  wagmi: Config;
  /** The receipt store the peer's ReceiptDesk fills (app/src/net/claim.ts openReceiptStore). */
  store: IdbReceiptStore;
  /** The peer's chunk cache: the claim proves the challenged snapshot from it. */
  cache: IdbChunkCache;
  /** The seeder wallet (the peer's): receipts name it, and it must send the claim. */
  wallet: Address;
};

const energy = (wei: bigint) => Number(formatUnits(wei, 18)).toFixed(4);

function size(bytes: bigint): string {
  const n = Number(bytes);
  if (n >= 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(0)} KiB`;
  return `${n} B`;
}

/**
 * The seeder's side: receipts collected, the energy the chain will pay for them (and what it will not, and
 * why), the epochs to claim, and the claim.
 */
export function ClaimPanel(props: ClaimPanelProps) {
  const { config, wagmi, store, cache, wallet } = props;
  const [claims, setClaims] = useState<SeederClaims | undefined>(undefined);
  useEffect(() => {
    const made = new SeederClaims({ config, wagmi, store, cache, wallet });
    setClaims(made);
    return () => made.destroy();
  }, [config, wagmi, store, cache, wallet]);
  if (!claims) return null;
  return <ClaimView claims={claims} wallet={wallet} />;
}

function ClaimView({ claims, wallet }: { claims: SeederClaims; wallet: Address }) {
  const figures = useStore(claims.figures);
  const run = useStore(claims.run);
  const connection = useConnection();
  const claimable = figures.epochs.filter((e) => e.state === "claimable");
  // SeedingRewards pays the sender's wallet, and the receipts name this one: only it can claim them.
  const rightWallet = connection.address?.toLowerCase() === wallet.toLowerCase();
  const running = run.state === "running";
  const why = !rightWallet
    ? `connect ${wallet} to claim`
    : claimable.length === 0
      ? "an epoch can be claimed once it is over"
      : "";
  return (
    <div className="claim" data-testid="claim-panel">
      <div
        className="row"
        data-testid="receipts-collected"
        data-count={figures.receipts}
        data-bytes={figures.bytes.toString()}
      >
        <span className="label">Receipts</span>
        <span>
          {figures.receipts} · {size(figures.bytes)} served
        </span>
      </div>
      <div className="row" data-testid="energy-pending" data-wei={figures.pending?.toString()}>
        <span className="label">Pending</span>
        <span>{figures.pending === undefined ? "…" : `${energy(figures.pending)} energy`}</span>
      </div>
      {figures.notPayable && (
        <div className="row muted" data-testid="energy-not-payable">
          <span className="ellipsis" title={figures.notPayable}>
            {figures.notPayable}
          </span>
        </div>
      )}
      <Epochs figures={figures} />
      <button
        type="button"
        data-testid="claim-button"
        disabled={running || !rightWallet || claimable.length === 0}
        title={why}
        onClick={() => void claims.claim()}
      >
        {running ? "Claiming…" : `Claim${claimable.length > 1 ? ` ${claimable.length} epochs` : ""}`}
      </button>
      <Status run={run} />
    </div>
  );
}

function Epochs({ figures }: { figures: SeederFigures }) {
  const claimable = figures.epochs.filter((e) => e.state === "claimable");
  const open = figures.epochs.filter((e) => e.state === "open");
  return (
    <div
      className="row muted"
      data-testid="claimable-epochs"
      data-epochs={claimable.map((e) => e.epoch).join(",")}
      data-current={figures.current}
    >
      <span className="label">Epochs</span>
      <span>
        {claimable.length > 0
          ? claimable.map((e) => `${e.epoch} (${e.receipts})`).join(", ")
          : open.length > 0
            ? `epoch ${figures.current} still runs`
            : "none to claim"}
        {figures.chainError && ` · chain: ${figures.chainError}`}
      </span>
    </div>
  );
}

function Status({ run }: { run: ClaimRun }) {
  const last = run.lines.at(-1);
  return (
    <div data-testid="claim-status" data-state={run.state}>
      {run.state === "running" && (
        <>
          <div className="progress" role="progressbar" aria-valuenow={Math.round(run.fraction * 100)}>
            <div className="progress-fill" style={{ width: `${run.fraction * 100}%` }} />
          </div>
          <p className="muted">
            epoch {run.progress.epoch}: {CLAIM_STEP_LABELS[run.progress.step]}…
          </p>
        </>
      )}
      {run.state === "done" && (
        <p data-earned={run.earned.toString()}>
          Claimed {energy(run.earned)} energy
          {run.epochs.length > 0 && ` (epoch${run.epochs.length > 1 ? "s" : ""} ${run.epochs.join(", ")})`}
        </p>
      )}
      {run.state === "failed" && (
        <p className="error" data-code={run.code}>
          {run.error}
          {run.details && <span className="muted"> — {run.details}</span>}
        </p>
      )}
      {last && run.state !== "failed" && <p className="muted ellipsis">{last}</p>}
    </div>
  );
}
