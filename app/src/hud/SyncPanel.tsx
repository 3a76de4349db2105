import type { SyncProgress } from "../../../p2p/chunk-sync.ts";
import { type Store, useStore } from "../store.ts";

/** The join sync: anchored chunks around the spawn, from the cache or fetched over torrents. */
export function SyncPanel({ sync }: { sync: Store<SyncProgress | undefined> }) {
  const progress = useStore(sync);
  if (!progress)
    return (
      <p className="muted" data-testid="sync-status" data-state="waiting">
        Chunks: waiting for a peer
      </p>
    );
  const share = progress.total === 0 ? 1 : progress.done / progress.total;
  return (
    <div
      data-testid="sync-status"
      data-state={progress.done >= progress.total ? "done" : "syncing"}
      data-done={progress.done}
      data-total={progress.total}
      data-from-cache={progress.fromCache}
      data-fetched={progress.fetched}
    >
      <div className="row">
        <span className="label">Chunks</span>
        <span>
          {progress.done}/{progress.total} · {progress.fromCache} cached · {progress.fetched} fetched
          {progress.failed > 0 && ` · ${progress.failed} failed`}
        </span>
      </div>
      <div className="progress" role="progressbar" aria-valuenow={Math.round(share * 100)}>
        <div className="progress-fill" style={{ width: `${share * 100}%` }} />
      </div>
    </div>
  );
}
