import { useEffect, useState } from "react";
import { fetchIndexerStatus, type IndexerStatus as Status } from "../edits/indexer.ts";

const POLL_MS = 2_000;

/**
 * GET /v1/ready: 200 ready, 503 syncing (or the chain was reset under it), 503 INDEX_BEHIND behind (said in
 * words: "indexer behind by N blocks, recovering"), no answer unreachable.
 */
export function IndexerStatus({ indexerUrl }: { indexerUrl: string }) {
  const [state, setState] = useState<{ status: Status | "checking"; details: string }>({
    status: "checking",
    details: "",
  });
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = async () => {
      const next = await fetchIndexerStatus(indexerUrl);
      if (stopped) return;
      setState(next);
      timer = setTimeout(poll, POLL_MS);
    };
    void poll();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [indexerUrl]);

  return (
    <div className="row" title={`${indexerUrl}${state.details ? ` — ${state.details}` : ""}`}>
      <span className="label">Indexer</span>
      <span
        data-testid="indexer-status"
        data-state={state.status}
        // Behind is a wait, not a failure: it looks like syncing.
        className={`pill pill-${state.status === "behind" ? "syncing" : state.status}`}
      >
        {state.status === "behind" ? state.details : state.status}
      </span>
    </div>
  );
}
