/**
 * The indexer process's one head watch and heads relay, shared by ponder.config.ts (Ponder's newHeads
 * socket goes through the relay) and the API (status and the INDEX_BEHIND gate). Kept on globalThis:
 * Ponder loads the config and the API through its own module runner, which may evaluate a file twice.
 * Environment (read once):
 *   SEEDCRAFT_HEADS_STALL_MS  how long newHeads may lag the HTTP head before the relay steps in (default 1000)
 */
import { HeadsRelay } from "./relay.ts";
import { HeadWatch } from "./watch.ts";

export type IndexerHeads = {
  /** The chain head over HTTP, independent of Ponder's subscription. */
  watch: HeadWatch;
  /** The relay Ponder's `ws` points at (undefined when Ponder polls over HTTP). */
  relay: HeadsRelay | undefined;
  relayUrl: string | undefined;
};

const KEY = Symbol.for("seedcraft.indexer.heads");
type Global = typeof globalThis & { [KEY]?: Promise<IndexerHeads> };

function stallMs(): number {
  const text = process.env.SEEDCRAFT_HEADS_STALL_MS;
  const value = text === undefined || text === "" ? 1_000 : Number(text);
  if (!Number.isInteger(value) || value < 100 || value > 60_000)
    throw new Error(`SEEDCRAFT_HEADS_STALL_MS must be an integer 100..60000 (ms), got ${JSON.stringify(text)}`);
  return value;
}

/** Starts the watch on `httpUrl` and, when the chain has a WebSocket (`wsUrl`), the relay in front of it. */
export function startIndexerHeads(httpUrl: string, wsUrl: string | undefined): Promise<IndexerHeads> {
  const global = globalThis as Global;
  global[KEY] ??= (async () => {
    const watch = new HeadWatch({ url: httpUrl }).start();
    if (!wsUrl) return { watch, relay: undefined, relayUrl: undefined };
    const relay = new HeadsRelay({ upstreamUrl: wsUrl, watch, stallMs: stallMs() });
    return { watch, relay, relayUrl: await relay.listen() };
  })();
  return global[KEY];
}

/** The process's heads, once the config started them (undefined in a process that did not). */
export function indexerHeads(): Promise<IndexerHeads> | undefined {
  return (globalThis as Global)[KEY];
}
