import type { SyncProgress } from "../../../p2p/chunk-sync.ts";
import { type Store, useStore } from "../store.ts";

/** The join sync: anchored chunks around the spawn, from the cache or fetched over torrents. */
export function SyncPanel({ sync }: { sync: Store<SyncProgress | undefined> }) {
  const progress = useStore(sync);
  if (!progress)
    return (
      <p className="muted" data-testid="sync-status" data-state="waiting">
        World: waiting for a peer
      </p>
    );
  const share = progress.total === 0 ? 1 : progress.done / progress.total;
  const done = progress.done >= progress.total;
  return (
    <div
      data-testid="sync-status"
      data-state={done ? "done" : "syncing"}
      data-done={progress.done}
      data-total={progress.total}
      data-from-cache={progress.fromCache}
      data-fetched={progress.fetched}
    >
      <div
        className="row"
        title={`${progress.done} of ${progress.total} chunks: ${progress.fromCache} from this browser's cache, ${progress.fetched} fetched from peers`}
      >
        <span className="label">World</span>
        <span>
          {done ? "up to date" : `loading ${progress.done} of ${progress.total} chunks`}
          {progress.failed > 0 && <span className="error"> · {progress.failed} could not be fetched</span>}
        </span>
      </div>
      {!done && (
        <div className="progress" role="progressbar" aria-valuenow={Math.round(share * 100)}>
          <div className="progress-fill" style={{ width: `${share * 100}%` }} />
        </div>
      )}
    </div>
  );
}
