import { useEffect, useState } from "react";
import type { World } from "../world/World.ts";

/** While the first view is being built: how many of its chunks are drawn. Gone once the world is ready. */
export function LoadingBar({ world }: { world: World }) {
  const [progress, setProgress] = useState<{ done: number; total: number } | undefined>({ done: 0, total: 1 });
  useEffect(() => {
    let stopped = false;
    const timer = setInterval(() => {
      const stats = world.stats();
      setProgress({ done: stats.chunksVisible, total: Math.max(1, stats.chunksWanted) });
    }, 100);
    void world.ready.then(() => {
      if (stopped) return;
      clearInterval(timer);
      setProgress(undefined);
    });
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [world]);
  if (!progress) return null;
  const share = Math.min(1, progress.done / progress.total);
  return (
    <div className="loading" data-testid="loading" role="progressbar" aria-valuenow={Math.round(share * 100)}>
      <p>
        Building the world… {progress.done}/{progress.total} chunks
      </p>
      <div className="progress">
        <div className="progress-fill" style={{ width: `${share * 100}%` }} />
      </div>
    </div>
  );
}
