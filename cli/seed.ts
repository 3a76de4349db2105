/**
 * `seedcraft seed`: the headless seeder. It joins the world where it is told to stand, keeps the anchored
 * chunks around it in its cache (the join sync, then chunk metadata as anchors land), serves them over
 * torrent wires to the peers it links with, within its limits, and shows a status line.
 *
 * Its wallet lives in `<cache>/seeder.json` (made on the first run; the local chain funds it), so its
 * receipts and claims survive restarts. The wallet is the seeder's identity, not world data: it stays when the
 * world changes (it may hold energy or ETH on that chain), while the cache and the receipts belong to one world
 * (core/deployment.ts `worldKeyOf`) and are emptied when the directory meets another one.
 *
 * Without `--cache` it takes `<state>/seeder`, or, when a live seeder holds that (the one `npm start` runs),
 * the first free `<state>/seeder-<n>`. It claims each finished epoch itself (cli/seeder-claims.ts) and answers
 * `seedcraft claim` on its control socket (cli/seeder-control.ts). Run under a parent with an IPC channel, it
 * reports `SeederReport`s and takes `SeederCommand`s (bench:torrent drives it so).
 */
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import type { Address, Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { assetPackTorrent } from "../core/assets.ts";
import { worldKeyOf } from "../core/deployment.ts";
import type { Position } from "../core/proximity.ts";
import { groundHeight, terrainSeedOf } from "../core/terrain.ts";
import { CAPABILITIES } from "../core/wire.ts";
import { readAssetPacks, readDeployment } from "../deploy/deployment-file.ts";
import { pinnedAssets } from "../p2p/asset-manifest.ts";
import { ledgerHeadsOf } from "../p2p/chain-heads.ts";
import type { TorrentStats } from "../p2p/chunk-torrents.ts";
import { rewardFor, unpayableNote } from "../p2p/claim.ts";
import { indexerNotServing } from "../p2p/index-behind.ts";
import { IndexerLedger } from "../p2p/ledger.ts";
import { NodeChunkCache } from "../p2p/node/chunk-cache.ts";
import { nativeSigningAccount } from "../p2p/node/native-secp256k1.ts";
import { NodePeer } from "../p2p/node/peer.ts";
import { ReceiptStore } from "../p2p/node/receipt-store.ts";
import { releaseWebRtc } from "../p2p/node/rtc.ts";
import { createTorrentClient } from "../p2p/node/torrent-client.ts";
import { UsageError } from "./errors.ts";
import { localChainClients, seedingEpochClock, worldEnv } from "./local-chain.ts";
import { bootstrapList, hostFlag, iceServersFlag, joinWithSession, nameFlag, numberFlag, placeFlag } from "./peer.ts";
import { relaunchWith, startedWith } from "./relaunch.ts";
import { earnedIn, SeederClaims } from "./seeder-claims.ts";
import { controlSocketPath, serveSeederControl } from "./seeder-control.ts";
import { lockFreeSeederDir, lockSeederDir, seederIn } from "./seeder-lock.ts";

export type SeederReport =
  | { type: "ready"; id: Hex; wallet: Hex; atMs: number }
  | { type: "synced"; chunks: number; fetched: number; fromCache: number; ms: number; atMs: number }
  | {
      type: "stats";
      torrents: TorrentStats;
      cached: number;
      receipts: number;
      rssBytes: number;
      heapBytes: number;
      externalBytes: number;
      cpuMs: number;
      atMs: number;
    };

export type SeederCommand =
  | { type: "stats" }
  | { type: "limits"; upload: number | undefined; download: number | undefined }
  | { type: "stop" };

export const SEED_HELP = `  seed     Run a headless seeder: cache and serve the anchored chunks around a place.
           --at <x,z>             where it stands (0,0); it keeps the chunks around it
           --radius <chunks>      chunk columns around it to keep (4: a 9×9 area)
           --cache <dir>          its cache, receipts and wallet (SEEDCRAFT_STATE_DIR/seeder, or
                                  seeder-2, -3… when a running seeder holds that one)
           --no-auto-claim        do not claim finished epochs by itself (\`seedcraft claim\` then)
           --up <rate>            upload limit, e.g. 512k or 2M bytes/s (SEEDCRAFT_UPLOAD_LIMIT; none)
           --down <rate>          download limit (SEEDCRAFT_DOWNLOAD_LIMIT; none)
           --max-wires <n>        torrent wires open at once (1024)
           --hash-ms <ms>         CPU for checking snapshots, ms a second (250)
           --max-peers <n>        links at most (24)
           --cache-entries <n>    chunk versions the cache keeps (20000)
           --resync <s>           read the area's anchored versions again this often, in
                                  case an announcement never reached it (15; 0: never)
           --trackers <url,...>   WebSocket trackers to announce on (SEEDCRAFT_TRACKERS)
           --bootstrap <h:p,...>  DHT bootstrap nodes (SEEDCRAFT_DHT_BOOTSTRAP; 127.0.0.1:6881)
           --host <address>       the address its DHT and WebRTC sockets bind (SEEDCRAFT_HOST; 127.0.0.1)
           --ice-servers <json>   STUN/TURN servers, [{"urls":"stun:…"},…] (SEEDCRAFT_ICE_SERVERS; none)
           --duration <s>         stop after this many seconds (run until Ctrl-C)`;

const now = () => performance.timeOrigin + performance.now();

/** "512k", "2M", "1500000", "none": bytes a second (k = 1024); undefined for no limit. */
export function parseRate(name: string, value: string | undefined): number | undefined {
  if (value === undefined || value === "" || value === "none" || value === "0") return undefined;
  const match = /^(\d+(?:\.\d+)?)\s*([kKmMgG]?)(?:i?B)?(?:\/s)?$/.exec(value);
  if (!match) throw new UsageError(`--${name} must be a rate such as 512k or 2M (bytes a second), got ${value}`);
  const unit = (match[2] ?? "").toLowerCase() as "" | "k" | "m" | "g";
  const scale = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[unit];
  const rate = Math.round(Number(match[1]) * scale);
  if (rate < 1024 || rate > 10 * 1024 ** 3) throw new UsageError(`--${name} must be from 1k to 10G a second`);
  return rate;
}

/** An amount of energy (18 decimals), with `decimals` of them shown (rounded down). */
export function formatEnergy(wei: bigint, decimals = 2): string {
  const unit = 10n ** 18n;
  return `${wei / unit}.${((wei % unit) / 10n ** BigInt(18 - decimals)).toString().padStart(decimals, "0")}`;
}

function formatRate(bytesPerSecond: number): string {
  if (bytesPerSecond >= 1024 * 1024) return `${(bytesPerSecond / 1024 / 1024).toFixed(1)} MiB/s`;
  if (bytesPerSecond >= 1024) return `${(bytesPerSecond / 1024).toFixed(0)} KiB/s`;
  return `${bytesPerSecond} B/s`;
}

export { type RunningSeeder, SeederBusyError, seederIn } from "./seeder-lock.ts";

/** The process running as the seeder of `dir`, if one does. */
export async function seederRunningIn(dir: string): Promise<number | undefined> {
  return (await seederIn(dir))?.pid;
}

/** The wallet key kept in a seeder's directory; throws UsageError when there is none. */
export async function readSeederWallet(dir: string): Promise<Hex> {
  const file = path.join(dir, "seeder.json");
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT")
      throw new UsageError(`${dir} has no seeder.json: run \`seedcraft seed\` there first, or give --cache`);
    throw error;
  }
  let saved: { walletKey?: unknown } | undefined;
  try {
    saved = JSON.parse(text) as { walletKey?: unknown };
  } catch {
    saved = undefined;
  }
  if (typeof saved?.walletKey === "string" && /^0x[0-9a-f]{64}$/i.test(saved.walletKey)) return saved.walletKey as Hex;
  throw new UsageError(`${file} holds no wallet key: move it away to make a new wallet`);
}

/** The seeder's wallet, kept beside its cache (made on the first run). */
async function seederWallet(dir: string): Promise<Hex> {
  try {
    return await readSeederWallet(dir);
  } catch (error) {
    if (!(error instanceof UsageError) || !/no seeder\.json/.test(error.message)) throw error;
  }
  const walletKey = process.env.SEEDCRAFT_SEEDER_KEY ?? generatePrivateKey();
  if (!/^0x[0-9a-fA-F]{64}$/.test(walletKey))
    throw new UsageError("SEEDCRAFT_SEEDER_KEY must be a 0x-prefixed 32-byte hex private key");
  await writeFile(path.join(dir, "seeder.json"), `${JSON.stringify({ walletKey }, null, 2)}\n`, { mode: 0o600 });
  return walletKey as Hex;
}

/**
 * A seeder is a long-running process that should stay small: 1 MiB semi-spaces (V8's young generation,
 * 16 MiB by default) and V8's memory-over-speed heuristics keep it 70-110 MB smaller, for more frequent
 * garbage collection. V8 reads these only at start.
 */
const SEEDER_V8_FLAGS = ["--max-semi-space-size=1", "--optimize-for-size"];

export async function seed(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      name: { type: "string" },
      at: { type: "string" },
      radius: { type: "string" },
      cache: { type: "string" },
      up: { type: "string" },
      down: { type: "string" },
      "max-wires": { type: "string" },
      "hash-ms": { type: "string" },
      "max-peers": { type: "string" },
      "cache-entries": { type: "string" },
      resync: { type: "string" },
      trackers: { type: "string" },
      bootstrap: { type: "string" },
      host: { type: "string" },
      "ice-servers": { type: "string" },
      duration: { type: "string" },
      "auto-claim": { type: "boolean", default: true },
    },
    strict: true,
    allowPositionals: false,
    allowNegative: true,
  });
  // Checked now (a bad --name is refused before anything starts); the default needs the wallet, below.
  const givenName = values.name === undefined ? undefined : nameFlag(values.name, "");
  const [x, z] = placeFlag(values.at);
  const radius = numberFlag("radius", values.radius, 4, 0, 32);
  const upload = parseRate("up", values.up ?? process.env.SEEDCRAFT_UPLOAD_LIMIT);
  const download = parseRate("down", values.down ?? process.env.SEEDCRAFT_DOWNLOAD_LIMIT);
  const maxWires = numberFlag("max-wires", values["max-wires"], 1024, 1, 65_536);
  const hashMs = numberFlag("hash-ms", values["hash-ms"], 250, 1, 1000);
  const maxPeers = numberFlag("max-peers", values["max-peers"], 24, 1, 256);
  const cacheEntries = numberFlag("cache-entries", values["cache-entries"], 20_000, 16, 10_000_000);
  const resyncS = numberFlag("resync", values.resync, 15, 0, 3600);
  const durationS = numberFlag("duration", values.duration, 0, 0, 86_400);
  const trackers = (values.trackers ?? process.env.SEEDCRAFT_TRACKERS ?? "").split(",").filter(Boolean);
  for (const url of trackers)
    if (!/^wss?:\/\//.test(url)) throw new UsageError(`--trackers wants ws:// URLs, got ${JSON.stringify(url)}`);
  const bootstrap = bootstrapList(values.bootstrap);
  const iceServers = iceServersFlag(values["ice-servers"]);
  const host = await hostFlag(values.host);
  const stateDir = process.env.SEEDCRAFT_STATE_DIR || ".seedcraft";
  const autoClaim = values["auto-claim"] !== false;
  // The flags are good: now run as the seeder process proper (bad flags are refused without a second start).
  if (!startedWith("--max-semi-space-size")) return await relaunchWith(SEEDER_V8_FLAGS);
  const isChild = typeof process.send === "function";

  const { network, rpc, indexer } = worldEnv();
  const deployment = await readDeployment(network);
  const domain = { chainId: deployment.chainId, verifyingContract: deployment.contracts.ChunkLedger.address };
  const terrain = terrainSeedOf(domain.chainId, domain.verifyingContract);

  // Choosing the directory and taking it are one step: two seeders started together never share one.
  // The lock names the control socket only once it listens (below): `seedcraft claim` relies on it answering.
  const lockedAs = { pid: process.pid, autoClaim };
  const lock =
    values.cache === undefined
      ? await lockFreeSeederDir(stateDir, lockedAs)
      : await lockSeederDir(path.resolve(values.cache), lockedAs);
  const dir = lock.dir;
  if (values.cache === undefined && path.basename(dir) !== "seeder" && !isChild)
    console.log(`a seeder already runs in ${path.resolve(stateDir, "seeder")}: this one keeps its cache in ${dir}`);
  const control = controlSocketPath(dir);
  const wallet = privateKeyToAccount(await seederWallet(dir));
  // Several seeders in one world: a default name from the wallet tells them apart in logs and HUDs.
  const name = givenName ?? `seeder-${wallet.address.slice(2, 6).toLowerCase()}`;
  const sessionKey = nativeSigningAccount(generatePrivateKey());
  const clients = localChainClients(deployment, rpc, wallet);
  await joinWithSession(clients, sessionKey, indexer);

  // The cache and the receipts are this world's alone: another world's are removed before anything reads them.
  const world = worldKeyOf(deployment);
  const say = (line: string) => (isChild ? undefined : console.log(line));
  const cache = await NodeChunkCache.open(path.join(dir, "cache"), { maxEntries: cacheEntries, world, log: say });
  const receipts = await ReceiptStore.open(path.join(dir, "receipts"), { world, log: say });
  const epochs = await seedingEpochClock(clients);
  const rewards = deployment.contracts.SeedingRewards;
  const readRewards = (functionName: "rewardRate" | "epochLength") =>
    clients.publicClient.readContract({ address: rewards.address, abi: rewards.abi, functionName }) as Promise<bigint>;
  const [rewardRate, epochLength] = await Promise.all([readRewards("rewardRate"), readRewards("epochLength")]);
  const claims = new SeederClaims({
    chain: {
      deployment,
      publicClient: clients.publicClient,
      seeder: wallet.address as Address,
      write: (request) => clients.walletClient.writeContract(request),
    },
    receipts,
    chunks: cache,
    epochLengthS: Number(epochLength),
    log: say,
    formatEnergy: (wei) => formatEnergy(wei, 4),
  });
  claims.start({ auto: autoClaim, epochLengthS: Number(epochLength) });
  // `seedcraft claim` asks this process to claim rather than open the files it writes.
  const controlServer = await serveSeederControl(control, async (request, reply) => {
    const line = (text: string) => reply({ t: "line", text });
    try {
      const round = await claims.claimNow(line, request.epoch);
      reply({
        t: "done",
        // This round's own rewards: an auto-claim round that ran while this one waited its turn is not counted.
        earned: String(earnedIn(round)),
        claimed: round.claimed.map((result) => result.epoch),
        nothing: round.nothing.map((item) => item.epoch),
        waiting: round.waiting,
      });
    } catch (error) {
      const failure = error as Error & { code?: string };
      reply({
        t: "done",
        earned: "0",
        claimed: [],
        nothing: [],
        waiting: [],
        error: { code: failure.code ?? "CLAIM_FAILED", message: failure.message },
      });
    }
  })
    .then(async (server) => {
      await lock.update({ ...lockedAs, control }).catch(async (error: Error) => {
        await server.close();
        throw error;
      });
      return server;
    })
    .catch((error: Error) => {
      say(
        `the control socket ${control} could not open (${error.message}): \`seedcraft claim\` cannot reach this seeder`,
      );
      return undefined;
    });
  const position: Position = [x + 0.5, groundHeight(terrain, x, z) + 1, z + 0.5];
  const send = (report: SeederReport) => {
    if (process.connected) process.send?.(report);
  };
  const node = await NodePeer.start({
    bootstrap,
    host,
    iceServers,
    domain,
    ledger: new IndexerLedger(indexer),
    wallet: wallet.address,
    sessionKey,
    name,
    position,
    maxPeers,
    // Players' fetches ask a seeder before other peers: it serves as its job, and is paid in receipts.
    capabilities: CAPABILITIES.seeds,
    data: {
      client: createTorrentClient({ host, iceServers }),
      store: cache,
      heads: ledgerHeadsOf(indexer, clients.publicClient, deployment),
      trackers,
      limits: { uploadBytesPerSecond: upload, downloadBytesPerSecond: download, maxWires, hashMsPerSecond: hashMs },
      syncRadius: radius,
      resyncMs: resyncS > 0 ? resyncS * 1000 : undefined,
      receipts: {
        domain: { chainId: deployment.chainId, verifyingContract: rewards.address },
        epoch: epochs.epoch,
        sink: receipts,
      },
      onSync: (result) =>
        send({
          type: "synced",
          chunks: result.total,
          fetched: result.fetched,
          fromCache: result.fromCache,
          ms: result.ms,
          atMs: now(),
        }),
    },
  });
  const torrents = node.torrents;
  if (!torrents) throw new Error("the seeder started without its data plane");
  // The deployment's asset packs, seeded for every joining player once the chain pins their manifest.
  if (deployment.assets) await pinnedAssets(clients.publicClient, deployment);
  const packs = await readAssetPacks(deployment);
  for (const pack of packs) await torrents.seedFile(assetPackTorrent(pack.bytes), pack.bytes);
  send({ type: "ready", id: node.id, wallet: wallet.address, atMs: now() });
  if (!isChild)
    console.log(
      `seeder ${name} as ${wallet.address}, standing at ${x},${z}, cache ${dir} (${cache.stats.entries} chunk versions, ${packs.length} asset packs)`,
    );

  // Only what the chain will pay counts as pending; the rest says why (a leecher too new, a session gone…).
  const pendingText = () => {
    const pending = claims.pending;
    if (!pending) return "energy pending …";
    const note = unpayableNote(pending, rewardRate, (wei) => formatEnergy(wei));
    const claimed = claims.earned > 0n ? ` · claimed ${formatEnergy(claims.earned)}` : "";
    return `energy pending ${formatEnergy(rewardFor(pending.payableBytes, rewardRate))}${note ? ` (${note})` : ""}${claimed}`;
  };
  // The status line says so while the indexer does not serve (down, restarting, or behind the chain).
  let indexerNote: string | undefined;
  const indexerWatch = setInterval(() => {
    void indexerNotServing(indexer).then((note) => {
      indexerNote = note;
    });
  }, 5000);
  indexerWatch.unref();
  const status = () => {
    const stats = torrents.stats();
    return [
      ...(indexerNote ? [indexerNote] : []),
      `peers ${node.mesh.peers.length}`,
      `up ${formatRate(stats.uploadBytesPerSecond)}`,
      `down ${formatRate(stats.downloadBytesPerSecond)}`,
      `chunks ${cache.stats.entries} cached, ${stats.seeded} seeded, ${stats.served} served`,
      `receipts ${receipts.stats.receipts}`,
      pendingText(),
    ].join(" · ");
  };
  const tty = process.stdout.isTTY === true;
  // Live on a terminal (one line, redrawn every second); a line every half minute into a log.
  const ticker = isChild
    ? undefined
    : setInterval(
        () => {
          if (tty) process.stdout.write(`\r\x1b[2K${status()}`);
          else console.log(status());
        },
        tty ? 1000 : 30_000,
      );

  await new Promise<void>((resolve) => {
    const done = () => resolve();
    process.on("SIGINT", done);
    process.on("SIGTERM", done);
    if (durationS > 0) setTimeout(done, durationS * 1000).unref();
    process.on("message", (command: SeederCommand) => {
      if (command?.type === "stop") done();
      else if (command?.type === "limits") torrents.setRateLimits(command.upload, command.download);
      else if (command?.type === "stats")
        send({
          type: "stats",
          torrents: torrents.stats(),
          cached: cache.stats.entries,
          receipts: receipts.stats.receipts,
          rssBytes: process.memoryUsage().rss,
          heapBytes: process.memoryUsage().heapUsed,
          externalBytes: process.memoryUsage().external,
          cpuMs: (process.cpuUsage().user + process.cpuUsage().system) / 1000,
          atMs: now(),
        });
    });
  });
  clearInterval(ticker);
  clearInterval(indexerWatch);
  if (tty) process.stdout.write("\n");
  await controlServer?.close();
  await claims.stop();
  epochs.stop();
  await node.stop();
  await cache.close();
  await receipts.close();
  await lock.release();
  releaseWebRtc();
  process.disconnect?.();
  return 0;
}
