/**
 * The README's seeder flow, run as written beside a running world (`seedcraft up`, whose own seeder holds
 * `<state>/seeder`): `seedcraft seed --at … --up 2M` takes a folder of its own and says so in one line; a player
 * who anchored before the epoch leeches from it and signs receipts; `seedcraft claim --cache <its folder>
 * --advance-time` asks the running seeder to claim (nothing is stopped), and the seeder's energy balance on the
 * chain rises; `/v1/seeders/<address>` shows the claim; `seedcraft claim` for the world's own seeder works
 * beside it too.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { Address, Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { advanceToNextEpoch, anchorSnapshots, localChainClients, seedingEpochClock } from "../../cli/local-chain.ts";
import { worldKeyOf } from "../../core/deployment.ts";
import { groundHeight, terrainSeedOf } from "../../core/terrain.ts";
import { IndexerHeads } from "../../p2p/heads.ts";
import { IndexerLedger } from "../../p2p/ledger.ts";
import { NodeChunkCache } from "../../p2p/node/chunk-cache.ts";
import { NodePeer } from "../../p2p/node/peer.ts";
import { ReceiptStore } from "../../p2p/node/receipt-store.ts";
import { releaseWebRtc } from "../../p2p/node/rtc.ts";
import { createTorrentClient } from "../../p2p/node/torrent-client.ts";
import { authorizeSessionKey, type LocalClients, localClients, waitForIndexedBlock } from "../helpers/chain-clients.ts";
import { editedSnapshot } from "../helpers/data-plane.ts";
import { prng } from "../helpers/prng.ts";
import {
  type RunningCli,
  runCli,
  startCliWorld,
  stopCliWorld,
  type TestWorldEnv,
  testWorldEnv,
  waitFor,
} from "../helpers/world.ts";

describe("cli: the README's seeder flow beside a running world", { timeout: 240_000 }, () => {
  let world: TestWorldEnv;
  let up: RunningCli | undefined;
  let seeder: RunningCli | undefined;
  let stopPeers: () => Promise<void> = async () => undefined;
  let env: NodeJS.ProcessEnv;
  let clients: LocalClients;

  before(async () => {
    // 16000: its ports (16069…16969) meet no other test's, in either lane of npm test (test/cli/test-ports.test.ts).
    world = testWorldEnv("seeder-flow", 16000);
    const { ports } = world;
    // What a developer's shell has by default (the usual ports), spelled out for this world's own ports.
    env = {
      ...world.env,
      SEEDCRAFT_RPC_URL: `http://127.0.0.1:${ports.chain}`,
      SEEDCRAFT_INDEXER_URL: `http://127.0.0.1:${ports.indexer}`,
      SEEDCRAFT_TRACKERS: `ws://127.0.0.1:${ports.tracker}`,
    };
    up = await startCliWorld({ ...world, env }, ["--only", "chain,deploy,indexer,dht,tracker,seeder"]);
    clients = await localClients(env.SEEDCRAFT_NETWORK as string, env.SEEDCRAFT_RPC_URL as string);
  });

  after(async () => {
    await stopPeers();
    if (seeder && seeder.child.exitCode === null) {
      seeder.child.kill("SIGTERM");
      await Promise.race([seeder.exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
      if (seeder.child.exitCode === null) seeder.child.kill("SIGKILL");
    }
    if (up) await stopCliWorld(world, up);
    releaseWebRtc();
  });

  it("a second seeder gets a folder of its own, serves, and its claim beside the running world pays it", async () => {
    const { deployment } = clients;
    const random = prng(43);
    const terrain = terrainSeedOf(deployment.chainId, deployment.contracts.ChunkLedger.address);

    // The README's command, while the world's own seeder runs in <state>/seeder.
    seeder = runCli(["seed", "--at", "320,320", "--up", "2M"], env);
    const ownDir = path.join(world.stateDir, "seeder-2");
    await waitFor("the second seeder to join", () => /seeder \S+ as 0x/.test(seeder?.stdout() ?? ""), 90_000).catch(
      (error: Error) => {
        throw new Error(`${error.message}\n${seeder?.stdout()}\n${seeder?.stderr()}`);
      },
    );
    assert.match(
      seeder.stdout(),
      new RegExp(`a seeder already runs in .*seeder: this one keeps its cache in ${ownDir}`),
    );
    const seederWallet = privateKeyToAccount(
      (JSON.parse(readFileSync(path.join(ownDir, "seeder.json"), "utf8")) as { walletKey: Hex }).walletKey,
    ).address;
    assert.deepEqual(JSON.parse(readFileSync(path.join(ownDir, "cache", "world.json"), "utf8")), {
      world: worldKeyOf(deployment),
    });

    // A player who builds something in this epoch, so its receipts count from the next one (the anti-sybil rule).
    const player = {
      wallet: privateKeyToAccount(generatePrivateKey()),
      session: privateKeyToAccount(generatePrivateKey()),
    };
    const authorized = await authorizeSessionKey(clients, player.session, player.wallet, 86_400);
    await waitForIndexedBlock(env.SEEDCRAFT_INDEXER_URL as string, authorized);
    const playerClients = localChainClients(deployment, env.SEEDCRAFT_RPC_URL as string, player.wallet);
    await anchorSnapshots(playerClients, [
      {
        ...editedSnapshot(terrain, { cx: 60, cy: 0, cz: 0 }, random),
        expectedVersion: 0,
        watermark: { wallMs: Date.now(), logical: 0 },
      },
    ]);
    await advanceToNextEpoch(clients);

    // A builder next to the second seeder (and away from the world's, at 0,0) anchors three chunks and seeds them;
    // the second seeder links with it and keeps them. Then the builder leaves.
    const epochs = await seedingEpochClock(clients);
    const started: { peer: NodePeer; cache: NodeChunkCache; receipts: ReceiptStore }[] = [];
    stopPeers = async () => {
      for (const one of started.splice(0)) {
        await one.peer.stop();
        await one.cache.close();
        await one.receipts.close();
      }
    };
    const startPeer = async (who: typeof player, name: string, x: number) => {
      const cache = await NodeChunkCache.open(path.join(world.stateDir, `${name}-cache`));
      const receipts = await ReceiptStore.open(path.join(world.stateDir, `${name}-receipts`));
      const peer = await NodePeer.start({
        bootstrap: [`127.0.0.1:${world.ports.dht}`],
        domain: { chainId: deployment.chainId, verifyingContract: deployment.contracts.ChunkLedger.address },
        ledger: new IndexerLedger(env.SEEDCRAFT_INDEXER_URL as string),
        wallet: who.wallet.address,
        sessionKey: who.session,
        name,
        position: [x + 0.5, groundHeight(terrain, x, 330) + 1, 330.5],
        data: {
          client: createTorrentClient(),
          store: cache,
          heads: new IndexerHeads(env.SEEDCRAFT_INDEXER_URL as string),
          receipts: {
            domain: { chainId: deployment.chainId, verifyingContract: deployment.contracts.SeedingRewards.address },
            epoch: () => epochs.epoch(),
            sink: receipts,
          },
        },
      });
      const one = { peer, cache, receipts };
      started.push(one);
      return one;
    };
    const linkedWith = (peer: NodePeer, wallet: Address) =>
      waitFor(
        `${peer.mesh.peers.length} links to include ${wallet}`,
        () => peer.mesh.peers.some((linked) => linked.wallet.toLowerCase() === wallet.toLowerCase()),
        60_000,
      );
    const builderPlayer = {
      wallet: privateKeyToAccount(generatePrivateKey()),
      session: privateKeyToAccount(generatePrivateKey()),
    };
    await waitForIndexedBlock(
      env.SEEDCRAFT_INDEXER_URL as string,
      await authorizeSessionKey(clients, builderPlayer.session, builderPlayer.wallet, 86_400),
    );
    const snapshots = [0, 1, 2].map((dz) => editedSnapshot(terrain, { cx: 10, cy: 0, cz: 10 + dz }, random));
    const built = await anchorSnapshots(
      localChainClients(deployment, env.SEEDCRAFT_RPC_URL as string, builderPlayer.wallet),
      snapshots.map((item) => ({ ...item, expectedVersion: 0, watermark: { wallMs: Date.now(), logical: 0 } })),
    );
    await waitForIndexedBlock(env.SEEDCRAFT_INDEXER_URL as string, built.blockNumber);
    const builder = await startPeer(builderPlayer, "builder", 326);
    for (const [i, head] of built.heads.entries())
      await builder.peer.torrents?.seed(head, snapshots[i]?.snapshot as Uint8Array);
    await linkedWith(builder.peer, seederWallet);
    const files = built.heads.map((head) =>
      path.join(ownDir, "cache", "chunks", `${head.chunkId.toString(16)}-${head.version}.chunk`),
    );
    await waitFor("the second seeder to cache the new chunks", () => files.every((file) => existsSync(file)), 45_000);
    await stopPeers();

    // The player joins next to the second seeder and fetches them: from it, the only one holding them now.
    const { peer } = await startPeer(player, "player", 330);
    await linkedWith(peer, seederWallet);
    for (const head of built.heads) assert.equal(await peer.sync?.load(head), "fetched");
    await waitFor("the seeder to acknowledge the receipts", () => (peer.receiptSigner?.acked ?? 0) >= 3, 20_000);
    epochs.stop();

    // The README's claim, beside the running seeder: it asks that seeder, which claims the finished epoch.
    const claim = runCli(["claim", "--cache", ownDir, "--advance-time"], env);
    const code = await claim.exited;
    assert.equal(code, 0, `seedcraft claim failed:\n${claim.stdout()}\n${claim.stderr()}`);
    assert.match(claim.stdout(), /asking it to claim/);
    assert.match(claim.stdout(), /earned \d+\.\d+ energy/);
    assert.equal(seeder.child.exitCode, null, "the seeder still runs");
    const energy = deployment.contracts.EnergyToken;
    const balance = (await clients.publicClient.readContract({
      address: energy.address,
      abi: energy.abi,
      functionName: "balanceOf",
      args: [seederWallet as Address],
    })) as bigint;
    assert.ok(balance > 0n, `the seeder's energy balance rose:\n${claim.stdout()}`);

    // The indexer shows the claim.
    await waitFor(
      "the indexer to show the claim",
      async () => {
        const response = await fetch(`${env.SEEDCRAFT_INDEXER_URL}/v1/seeders/${seederWallet}`);
        if (!response.ok) return false;
        const body = (await response.json()) as { claims: number; rewards: string };
        return body.claims >= 1 && BigInt(body.rewards) === balance;
      },
      20_000,
    );

    // The world's own seeder is asked too, with no need to stop it.
    const own = runCli(["claim"], env);
    assert.equal(
      await own.exited,
      0,
      `seedcraft claim for the world's seeder failed:\n${own.stdout()}\n${own.stderr()}`,
    );
    assert.match(own.stdout(), /asking it to claim/);
  });
});
