import type { AssetPacks } from "../assets/packs.ts";
import { useStore } from "../store.ts";
import { bytes as size } from "./format.ts";

/** Which textures and sounds the world uses: the built-in ones, or the deployment's pack and how it came. */
export function AssetsPanel({ packs }: { packs: AssetPacks }) {
  const state = useStore(packs.state);
  // A few words in the panel; the whole story (which pack, how big, where from) on hover.
  let text: string;
  let short: string;
  switch (state.step) {
    case "built-in":
      text = `built-in${state.note ? ` (${state.note})` : ""}`;
      short = "built in";
      break;
    case "checking":
      text = `checking ${state.name} (${size(state.bytes)})…`;
      short = `loading ${size(state.bytes)}…`;
      break;
    case "fetching": {
      const last = state.failures.at(-1);
      text = `fetching ${state.name} (${size(state.bytes)})…${last ? ` try ${state.failures.length + 1}, the last gave up: ${last}` : ""}`;
      short = last
        ? `loading ${size(state.bytes)}, try ${state.failures.length + 1}…`
        : `loading ${size(state.bytes)}…`;
      break;
    }
    case "ready":
      text = `${state.name}, ${size(state.bytes)} from ${state.from === "cache" ? "the cache" : "peers"}${state.rejectedCache ? " (a bad cached copy was dropped)" : ""}`;
      short = "the world's own";
      break;
    case "failed":
      text = `built-in: ${state.reason}`;
      short = "built in (the world's could not load)";
      break;
  }
  return (
    <div
      className="row"
      data-testid="asset-status"
      data-state={state.step}
      data-from={state.step === "ready" ? state.from : undefined}
      title={text}
    >
      <span className="label">Textures</span>
      <span className={`ellipsis ${state.step === "failed" ? "error" : "muted"}`}>{short}</span>
    </div>
  );
}
