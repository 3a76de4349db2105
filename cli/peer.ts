/**
 * `seedcraft peer`: a headless player. On the local chain it makes a burner wallet (funded with
 * hardhat_setBalance), authorizes a fresh session key in SessionRegistry, waits until the indexer has
 * it, joins the world's DHT and mesh, walks a circle and edits blocks within reach. A player like any other,
 * it anchors its edits (p2p/anchor-player.ts: batches from its session key, funded for gas) and seeds the
 * snapshots it anchored through its data plane, unless --no-anchor (benchmarks of ops alone).
 *
 * Run under a parent with an IPC channel (child_process.fork), it reports what it does as messages
 * (arrays of `PeerReport`, sent every 50 ms) with wall-clock times in milliseconds (performance.timeOrigin + performance.now(),
 * comparable across processes on one machine), and takes `PeerCommand`s: bench:propagation drives it so.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { getAddress, type Hex, type LocalAccount } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { BLOCK_IDS } from "../core/blocks.ts";
import { chunkIdOf, locateBlock } from "../core/chunk.ts";
import { type IceServer, parseIceServersJson } from "../core/ice-servers.ts";
import type { Position } from "../core/proximity.ts";
import { groundHeight, terrainSeedOf } from "../core/terrain.ts";
import { readDeployment } from "../deploy/deployment-file.ts";
import { sessionAnchorChain } from "../p2p/anchor-chain.ts";
import type { EditState } from "../p2p/anchor-edits.ts";
import { AnchoringPlayer } from "../p2p/anchor-player.ts";
import { ledgerHeadsOf } from "../p2p/chain-heads.ts";
import { IndexerLedger } from "../p2p/ledger.ts";
import { NodeChunkCache } from "../p2p/node/chunk-cache.ts";
import { WorldDht } from "../p2p/node/dht.ts";
import { DhtGateway } from "../p2p/node/gateway.ts";
import { nativeSigningAccount } from "../p2p/node/native-secp256k1.ts";
import { NodePeer } from "../p2p/node/peer.ts";
import { releaseWebRtc } from "../p2p/node/rtc.ts";
import { createTorrentClient } from "../p2p/node/torrent-client.ts";
import { startTracker } from "../p2p/node/tracker.ts";
import { UsageError } from "./errors.ts";
import { checkBindHost } from "./host.ts";
import {
  authorizeSession,
  fundLocalAccount,
  type LocalChainClients,
  localChainClients,
  seedingEpochClock,
  worldEnv,
  worldHost,
} from "./local-chain.ts";

export type PeerReport =
  | { type: "ready"; id: Hex; wallet: Hex; atMs: number }
  /** `joinMs`: from the start of joining (before the DHT node) to this link. */
  | { type: "linked"; peers: number; joinMs: number; atMs: number }
  | { type: "edited"; op: Hex; chunk: string; atMs: number }
  | { type: "applied"; op: Hex; author: Hex; atMs: number }
  | { type: "stats"; messagesIn: number; messagesOut: number; rssBytes: number; cpuMs: number; atMs: number }
  /** One of our edits ended (anchored, bounced, overwritten, rolled-back, failed); `op` as in its "edited" report. */
  | { type: "final"; op: Hex; state: EditState; reason?: string; atMs: number };

export type PeerCommand =
  | { type: "edit"; dx: number; dy: number; dz: number; block: number }
  | { type: "stats" }
  /** Stop editing (edits on their way still end and are reported): what a bench sends before it settles. */
  | { type: "pause" }
  /** Stop editing, let edits on their way end (up to STOP_SETTLE_MS), and exit. */
  | { type: "stop" };

/** On stop, edits on their way have this long to end (an anchor, its confirmation) before the peer exits. */
const STOP_SETTLE_MS = 15_000;

/** --host for a part or a peer: the address its sockets bind (SEEDCRAFT_HOST, else 127.0.0.1), checked here. */
export function hostFlag(value: string | undefined): Promise<string> {
  return value === undefined && process.env.SEEDCRAFT_HOST
    ? checkBindHost(process.env.SEEDCRAFT_HOST, "SEEDCRAFT_HOST")
    : checkBindHost(value, "--host");
}

/** --ice-servers, else SEEDCRAFT_ICE_SERVERS: a JSON list of RTCIceServer (core/ice-servers.ts); none by default. */
export function iceServersFlag(value: string | undefined): IceServer[] {
  return value === undefined
    ? parseIceServersJson(process.env.SEEDCRAFT_ICE_SERVERS, "SEEDCRAFT_ICE_SERVERS")
    : parseIceServersJson(value, "--ice-servers");
}

const HOST_HELP = `           --host <address>       the address its sockets bind (SEEDCRAFT_HOST; 127.0.0.1)`;

export const DHT_HELP = `  dht      Run a DHT bootstrap node for local peers (until Ctrl-C).
           --port <port>          UDP port (6881)
${HOST_HELP}`;

/** `seedcraft dht`: the bootstrap node local peers start from. */
export async function dht(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { port: { type: "string" }, host: { type: "string" } },
    strict: true,
    allowPositionals: false,
  });
  const port = numberFlag("port", values.port, 6881, 1, 65535);
  if (!Number.isInteger(port)) throw new UsageError(`--port must be an integer, got ${values.port}`);
  const host = await hostFlag(values.host);
  const node = await WorldDht.start({ bootstrap: false, host, port });
  console.log(`DHT bootstrap node on udp://${node.address.host}:${node.address.port} (Ctrl-C stops it)`);
  await new Promise<void>((resolve) => {
    process.once("SIGINT", () => resolve());
    process.once("SIGTERM", () => resolve());
  });
  await node.destroy();
  return 0;
}

export const GATEWAY_HELP = `  gateway  Run the browser gateway: a DHT node for each browser, over WebSocket (until Ctrl-C).
           --port <port>          TCP port (6880)
           --bootstrap <h:p,...>  DHT bootstrap nodes (SEEDCRAFT_DHT_BOOTSTRAP; the local world's)
           --max-clients <n>      browsers served at once (64)
${HOST_HELP}`;

/** `seedcraft gateway`: the WebSocket service browsers reach the DHT through. */
export async function gateway(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: "string" },
      host: { type: "string" },
      bootstrap: { type: "string" },
      "max-clients": { type: "string" },
    },
    strict: true,
    allowPositionals: false,
  });
  const port = numberFlag("port", values.port, 6880, 1, 65535);
  const maxClients = numberFlag("max-clients", values["max-clients"], 64, 1, 10_000);
  if (!Number.isInteger(port) || !Number.isInteger(maxClients))
    throw new UsageError("--port and --max-clients must be integers");
  const bootstrap = bootstrapList(values.bootstrap);
  const host = await hostFlag(values.host);
  // The DHT it bootstraps from is the world's, on this host: no browser's node takes its port while
  // `seedcraft up` restarts it.
  const reservedPorts = bootstrap.map((entry) => Number(entry.slice(entry.lastIndexOf(":") + 1)));
  const server = await DhtGateway.start({ bootstrap, host, port, maxClients, reservedPorts });
  console.log(`DHT gateway for browsers on ${server.url}, bootstrapping from ${bootstrap.join(",")} (Ctrl-C stops it)`);
  await new Promise<void>((resolve) => {
    process.once("SIGINT", () => resolve());
    process.once("SIGTERM", () => resolve());
  });
  await server.close();
  return 0;
}

export const TRACKER_HELP = `  tracker  Run the WebSocket tracker: browsers and unlinked peers find seeders through it (until Ctrl-C).
           --port <port>          TCP port (6969)
${HOST_HELP}`;

/** \`seedcraft tracker\`: the data plane's fallback for finding a torrent's peers. */
export async function tracker(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { port: { type: "string" }, host: { type: "string" } },
    strict: true,
    allowPositionals: false,
  });
  const port = numberFlag("port", values.port, 6969, 1, 65535);
  if (!Number.isInteger(port)) throw new UsageError(`--port must be an integer, got ${values.port}`);
  const host = await hostFlag(values.host);
  const running = await startTracker({ host, port });
  console.log(`WebSocket tracker on ${running.url} (Ctrl-C stops it)`);
  await new Promise<void>((resolve) => {
    process.once("SIGINT", () => resolve());
    process.once("SIGTERM", () => resolve());
  });
  await running.close();
  return 0;
}

/**
 * --bootstrap, else SEEDCRAFT_DHT_BOOTSTRAP, else the world's node (SEEDCRAFT_PUBLIC_HOST or 127.0.0.1,
 * SEEDCRAFT_DHT_PORT or 6881).
 */
export function bootstrapList(flag: string | undefined): string[] {
  const bootstrap = (
    flag ??
    process.env.SEEDCRAFT_DHT_BOOTSTRAP ??
    `${worldHost()}:${process.env.SEEDCRAFT_DHT_PORT || 6881}`
  ).split(",");
  for (const entry of bootstrap)
    if (!/^[\w.-]+:\d{1,5}$/.test(entry))
      throw new UsageError(`--bootstrap wants host:port, got ${JSON.stringify(entry)}`);
  return bootstrap;
}

export const PEER_HELP = `  peer     Join the local world as a headless player that walks and edits blocks.
           --name <name>          shown to other players (peer)
           --at <x,z>             where to stand (0,0)
           --walk <blocks>        radius of the circle it walks, 0 to stand still (4)
           --edits-per-s <n>      blocks it edits a second, 0 for none (1)
           --bootstrap <h:p,...>  DHT bootstrap nodes (SEEDCRAFT_DHT_BOOTSTRAP; the local world's, 127.0.0.1:6881)
${HOST_HELP.replace("sockets bind", "DHT and WebRTC sockets bind")}
           --ice-servers <json>   STUN/TURN servers, [{"urls":"stun:…"},…] (SEEDCRAFT_ICE_SERVERS; none)
           --duration <s>         stop after this many seconds (run until Ctrl-C)
           --no-anchor            do not anchor its edits (they roll back on other players after a minute)`;

const now = () => performance.timeOrigin + performance.now();

export function numberFlag(
  name: string,
  value: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed < min || parsed > max)
    throw new UsageError(`--${name} must be a number from ${min} to ${max}, got ${JSON.stringify(value)}`);
  return parsed;
}

/** --name: what other players see, at most 32 bytes. */
export function nameFlag(value: string | undefined, fallback: string): string {
  const name = value ?? fallback;
  if (new TextEncoder().encode(name).length > 32) throw new UsageError("--name must fit in 32 bytes");
  return name;
}

/** --at x,z: two integers (a block column), 0,0 by default. */
export function placeFlag(value: string | undefined): [number, number] {
  const at = (value ?? "0,0").split(",").map((part) => (/^-?\d+$/.test(part.trim()) ? Number(part) : Number.NaN));
  if (at.length !== 2 || !at.every((v) => Number.isInteger(v) && Math.abs(v) < 2 ** 30))
    throw new UsageError(`--at must be two integers x,z, got ${JSON.stringify(value)}`);
  return at as [number, number];
}

/**
 * The clients' wallet (funded first on the local chain) authorizes `sessionKey` for a day, and this waits
 * until the indexer shows it: peers judge our hello against the indexer.
 */
export async function joinWithSession(clients: LocalChainClients, sessionKey: LocalAccount, indexer: string) {
  if (clients.deployment.chainId === 31337) await fundLocalAccount(clients, clients.walletClient.account);
  await authorizeSession(clients, sessionKey, 86_400);
  await waitForSession(indexer, clients.walletClient.account.address, sessionKey.address);
}

export async function peer(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      name: { type: "string" },
      at: { type: "string" },
      walk: { type: "string" },
      "edits-per-s": { type: "string" },
      bootstrap: { type: "string" },
      host: { type: "string" },
      "ice-servers": { type: "string" },
      duration: { type: "string" },
      anchor: { type: "boolean", default: true },
    },
    strict: true,
    allowPositionals: false,
    allowNegative: true,
  });
  const name = nameFlag(values.name, "peer");
  const at = placeFlag(values.at);
  const radius = numberFlag("walk", values.walk, 4, 0, 64);
  const editsPerS = numberFlag("edits-per-s", values["edits-per-s"], 1, 0, 50);
  const durationS = numberFlag("duration", values.duration, 0, 0, 86_400);
  const bootstrap = bootstrapList(values.bootstrap);
  const iceServers = iceServersFlag(values["ice-servers"]);
  const host = await hostFlag(values.host);
  const anchoring = values.anchor !== false;
  const trackers = (process.env.SEEDCRAFT_TRACKERS ?? "").split(",").filter(Boolean);

  const { network, rpc, indexer } = worldEnv();
  const deployment = await readDeployment(network);
  if (deployment.chainId !== 31337)
    throw new UsageError("seedcraft peer makes a burner wallet, which only the local chain (31337) can fund");
  const domain = { chainId: deployment.chainId, verifyingContract: deployment.contracts.ChunkLedger.address };
  const seed = terrainSeedOf(domain.chainId, domain.verifyingContract);

  const wallet = privateKeyToAccount(generatePrivateKey());
  // Its ops are signed by libsecp256k1 (the same signatures as viem's, without JavaScript's warm-up).
  const sessionKey = nativeSigningAccount(generatePrivateKey());
  const clients = localChainClients(deployment, rpc, wallet);
  await joinWithSession(clients, sessionKey, indexer);
  // The session key sends the anchors: it pays their gas.
  if (anchoring) await fundLocalAccount(clients, sessionKey);

  const [x0, z0] = at;
  const positionAt = (angle: number): Position => {
    const x = x0 + radius * Math.cos(angle);
    const z = z0 + radius * Math.sin(angle);
    return [x, groundHeight(seed, Math.floor(x), Math.floor(z)) + 1, z];
  };
  const heads = ledgerHeadsOf(indexer, clients.publicClient, deployment);
  // Its snapshots live as long as it does: a fresh folder, removed on exit.
  const cacheDir = anchoring ? await mkdtemp(path.join(tmpdir(), "seedcraft-peer-")) : undefined;
  const data = cacheDir
    ? {
        client: createTorrentClient({ host, iceServers }),
        store: await NodeChunkCache.open(cacheDir),
        heads,
        trackers,
        syncRadius: 2,
        receipts: {
          domain: { chainId: deployment.chainId, verifyingContract: deployment.contracts.SeedingRewards.address },
          epoch: (await seedingEpochClock(clients)).epoch,
        },
      }
    : undefined;
  const joinStartedAt = now();
  const node = await NodePeer.start({
    bootstrap,
    host,
    iceServers,
    domain,
    ledger: new IndexerLedger(indexer),
    wallet: wallet.address,
    sessionKey,
    name,
    position: positionAt(0),
    data,
  });
  // Reports go to the parent in batches (one IPC message per 50 ms, not one per op; each carries its own times).
  let batch: PeerReport[] = [];
  const report = (message: PeerReport) => {
    if (!process.send) return;
    if (batch.push(message) === 1)
      setTimeout(() => {
        if (process.connected) process.send?.(batch);
        batch = [];
      }, 50);
  };
  report({ type: "ready", id: node.id, wallet: wallet.address, atMs: now() });
  node.mesh.on("peer", () =>
    report({ type: "linked", peers: node.mesh.peers.length, joinMs: now() - joinStartedAt, atMs: now() }),
  );
  node.mesh.on("op", (verdict, from) => {
    if (from && verdict.status === "applied")
      report({
        type: "applied",
        op: (verdict.op as { signature?: Hex }).signature ?? "0x",
        author: verdict.op.author,
        atMs: now(),
      });
  });
  const player = anchoring
    ? new AnchoringPlayer({
        peer: node,
        chain: sessionAnchorChain(deployment, clients.publicClient.chain, sessionKey),
        heads,
        author: wallet.address,
        onEnded: ({ op, state, reason }) =>
          report({ type: "final", op, state, ...(reason ? { reason } : {}), atMs: now() }),
      })
    : undefined;
  if (!process.send)
    console.log(
      `peer ${name} joined as ${wallet.address} (DHT key ${node.id.slice(0, 18)}…)${anchoring ? "" : ", not anchoring"}`,
    );

  const edit = async (dx: number, dy: number, dz: number, block: number) => {
    const [x, y, z] = node.mesh.position ?? positionAt(0);
    const { cx, cy, cz, index } = locateBlock(Math.floor(x + dx), Math.floor(y + dy), Math.floor(z + dz));
    const chunk = chunkIdOf(cx, cy, cz);
    const atMs = now();
    const { op } = player ? await player.edit(chunk, index, block) : await node.mesh.edit(chunk, index, block);
    report({ type: "edited", op: op.signature, chunk: chunk.toString(), atMs });
  };

  let angle = 0;
  const walker = setInterval(() => {
    if (radius === 0) return;
    angle += 0.05;
    node.move(positionAt(angle));
  }, 100);
  const blocks = [BLOCK_IDS.stone, BLOCK_IDS.dirt, BLOCK_IDS.wood, BLOCK_IDS.glass, BLOCK_IDS.air];
  let editor =
    editsPerS > 0
      ? setInterval(
          () =>
            void edit(
              Math.round(Math.random() * 4 - 2),
              Math.round(Math.random() * 2),
              Math.round(Math.random() * 4 - 2),
              blocks[Math.floor(Math.random() * blocks.length)] as number,
            ).catch(() => undefined),
          1000 / editsPerS,
        )
      : undefined;

  await new Promise<void>((resolve) => {
    const done = () => resolve();
    process.once("SIGINT", done);
    process.once("SIGTERM", done);
    if (durationS > 0) setTimeout(done, durationS * 1000).unref();
    process.on("message", (command: PeerCommand) => {
      if (command?.type === "stop") done();
      else if (command?.type === "pause") {
        clearInterval(editor);
        editor = undefined;
      } else if (command?.type === "edit")
        void edit(command.dx, command.dy, command.dz, command.block).catch(() => undefined);
      else if (command?.type === "stats")
        report({
          type: "stats",
          messagesIn: node.mesh.received,
          messagesOut: node.mesh.sent,
          rssBytes: process.memoryUsage().rss,
          cpuMs: (process.cpuUsage().user + process.cpuUsage().system) / 1000,
          atMs: now(),
        });
    });
  });
  clearInterval(walker);
  clearInterval(editor);
  if (player) {
    await player.settle(STOP_SETTLE_MS);
    player.destroy();
    if (!process.send) console.log(`peer ${name}: ${describeEnded(player.edits.ended, player.edits.open)}`);
  }
  await node.stop();
  await data?.store.close();
  if (cacheDir) await rm(cacheDir, { recursive: true, force: true });
  releaseWebRtc();
  process.disconnect?.();
  return 0;
}

/** "12 edits: 10 anchored, 1 overwritten, 1 bounced" (and how many were still on their way). */
export function describeEnded(ended: ReadonlyMap<EditState, number>, open: number): string {
  const parts = [...ended].filter(([, count]) => count > 0).map(([state, count]) => `${count} ${state}`);
  if (open > 0) parts.push(`${open} still on their way`);
  const total = [...ended.values()].reduce((sum, count) => sum + count, 0) + open;
  return `${total} edit${total === 1 ? "" : "s"}${parts.length > 0 ? `: ${parts.join(", ")}` : ""}`;
}

export async function waitForSession(indexer: string, wallet: Hex, sessionKey: Hex): Promise<void> {
  const ledger = new IndexerLedger(indexer, { ttlMs: 0 });
  const deadline = Date.now() + 30_000;
  for (;;) {
    const facts = await ledger.player(wallet).catch(() => undefined);
    if (facts?.sessions.some((s) => s.sessionKey === getAddress(sessionKey))) return;
    if (Date.now() > deadline) throw new UsageError(`the indexer at ${indexer} did not show the new session in 30 s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
