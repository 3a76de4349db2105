import type { AssetPacks } from "../assets/packs.ts";
import { useStore } from "../store.ts";
import { bytes as size } from "./format.ts";

/** Which textures and sounds the world uses: the built-in ones, or the deployment's pack and how it came. */
export function AssetsPanel({ packs }: { packs: AssetPacks }) {
  const state = useStore(packs.state);
  let text: string;
  switch (state.step) {
    case "built-in":
      text = `built-in${state.note ? ` (${state.note})` : ""}`;
      break;
    case "checking":
    case "fetching":
      text = `${state.step} ${state.name} (${size(state.bytes)})…`;
      break;
    case "ready":
      text = `${state.name}, ${size(state.bytes)} from ${state.from === "cache" ? "the cache" : "peers"}${state.rejectedCache ? " (a bad cached copy was dropped)" : ""}`;
      break;
    case "failed":
      text = `built-in: ${state.reason}`;
      break;
  }
  return (
    <div
      className="row"
      data-testid="asset-status"
      data-state={state.step}
      data-from={state.step === "ready" ? state.from : undefined}
    >
      <span className="label">Assets</span>
      <span className={state.step === "failed" ? "error" : "muted"}>{text}</span>
    </div>
  );
}
