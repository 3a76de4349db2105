/** The composition root: wires the deployment, the wallet, the world, the edit list and the anchor queue. */
import { QueryClient } from "@tanstack/react-query";
import type { Config } from "wagmi";
import { BLOCK_IDS } from "../../core/blocks.ts";
import { terrainSeedOf } from "../../core/terrain.ts";
import type { AppConfig } from "./config.ts";
import { AnchorQueue } from "./edits/anchorQueue.ts";
import { BlockEditor } from "./edits/blockEditor.ts";
import { EditList } from "./edits/editList.ts";
import { createLedger } from "./edits/ledger.ts";
import { createStore, type Store } from "./store.ts";
import { createWalletConfig } from "./wallet/config.ts";
import { chunksAround, World } from "./world/World.ts";

export type Session = {
  config: AppConfig;
  wagmi: Config;
  queryClient: QueryClient;
  world: World;
  edits: EditList;
  queue: AnchorQueue;
  editor: BlockEditor;
  /** The block id the palette has selected. */
  selected: Store<number>;
};

/** The chunks loaded around the origin: 3×3 columns of 3 chunks (y −32..63), light enough for software GL. */
const CHUNKS = chunksAround(1, -1, 1);

export function createSession(config: AppConfig): Session {
  const { deployment } = config;
  const seed = terrainSeedOf(deployment.chainId, deployment.contracts.ChunkLedger.address);
  const world = new World({ seed, chunks: CHUNKS });
  const wagmi = createWalletConfig(config);
  const edits = new EditList();
  const queue = new AnchorQueue({
    ledger: createLedger(wagmi, deployment, config.indexerUrl),
    edits,
    chunkBlocks: ({ cx, cy, cz }) => world.chunkBlocks(cx, cy, cz),
  });
  const selected = createStore<number>(BLOCK_IDS.grass);
  const editor = new BlockEditor({ world, queue, edits, selected });
  return { config, wagmi, queryClient: new QueryClient(), world, edits, queue, editor, selected };
}
