/**
 * Asset packs on the data plane, with real parts on 127.0.0.1: the chain with the contracts (AssetManifest
 * pins the deployment's manifest), the indexer (peers check hellos against it), a DHT bootstrap node, and two
 * Node peers whose link carries the pack's torrent wire over WebRTC.
 */
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { World } from "../../cli/world.ts";
import {
  AssetPackError,
  assetManifestHash,
  assetPackTorrent,
  DEFAULT_PACK_NAME,
  decodeAssetPack,
  generateAssetPack,
} from "../../core/assets.ts";
import type { Deployment } from "../../core/deployment.ts";
import { readAssetPacks } from "../../deploy/deployment-file.ts";
import { pinnedAssets } from "../../p2p/asset-manifest.ts";
import { FileFetchError } from "../../p2p/chunk-torrents.ts";
import { IndexerHeads } from "../../p2p/heads.ts";
import { IndexerLedger } from "../../p2p/ledger.ts";
import { NodeChunkCache } from "../../p2p/node/chunk-cache.ts";
import { WorldDht } from "../../p2p/node/dht.ts";
import { NodePeer } from "../../p2p/node/peer.ts";
import { releaseWebRtc } from "../../p2p/node/rtc.ts";
import { createTorrentClient } from "../../p2p/node/torrent-client.ts";
import { type LocalClients, localClients, newPlayers, type TestPlayer } from "../helpers/chain-clients.ts";
import { waitFor } from "../helpers/world.ts";

const NETWORK = "p2p-assets";
const PORTS = { chain: 12545, indexer: 12069, app: 12173 };

describe("p2p: asset packs over the data plane", { timeout: 300_000 }, () => {
  let world: World;
  let clients: LocalClients;
  let bootstrap: WorldDht;
  const peers: { peer: NodePeer; cache: NodeChunkCache }[] = [];

  before(async () => {
    world = new World({
      stateDir: mkdtempSync(path.join(os.tmpdir(), "seedcraft-p2p-assets-")),
      network: NETWORK,
      parts: ["chain", "deploy", "indexer"],
      ports: PORTS,
    });
    await world.start();
    clients = await localClients(NETWORK, world.urls.chain);
    bootstrap = await WorldDht.start({ bootstrap: false });
  });

  after(async () => {
    for (const { peer, cache } of peers) {
      await peer.stop();
      await cache.close();
    }
    await bootstrap?.destroy();
    await world?.stop();
    releaseWebRtc();
  });

  async function startPeer(player: TestPlayer, x: number): Promise<NodePeer> {
    const cache = await NodeChunkCache.open(mkdtempSync(path.join(os.tmpdir(), "seedcraft-c-")));
    const peer = await NodePeer.start({
      bootstrap: [`${bootstrap.address.host}:${bootstrap.address.port}`],
      domain: {
        chainId: clients.deployment.chainId,
        verifyingContract: clients.deployment.contracts.ChunkLedger.address,
      },
      ledger: new IndexerLedger(world.urls.indexer),
      wallet: player.wallet.address,
      sessionKey: player.session,
      name: `peer-${player.wallet.address.slice(2, 8).toLowerCase()}`,
      position: [x, 40, 0.5],
      discoverEveryMs: 300,
      data: { client: createTorrentClient(), store: cache, heads: new IndexerHeads(world.urls.indexer) },
    });
    peers.push({ peer, cache });
    return peer;
  }

  it("pins the deployment's pack on chain; a seeder serves it and a leecher fetches and verifies it; a tampered pack is refused", async () => {
    // The deployment lists the project's own pack, written next to it, and the chain pins its manifest.
    const assets = await pinnedAssets(clients.publicClient, clients.deployment);
    const generated = generateAssetPack();
    const [pin] = assets.packs;
    assert.ok(pin);
    assert.equal(pin.name, DEFAULT_PACK_NAME);
    assert.equal(pin.infoHash, assetPackTorrent(generated).infoHash);
    const [onDisk] = await readAssetPacks(clients.deployment);
    assert.deepEqual(onDisk?.bytes, generated);

    const [seederPlayer, leecherPlayer] = (await newPlayers(clients, world.urls.indexer, 2)) as [
      TestPlayer,
      TestPlayer,
    ];
    const seeder = await startPeer(seederPlayer, 4.5);
    const leecher = await startPeer(leecherPlayer, 6.5);
    await waitFor(
      "the two peers to link",
      () => seeder.mesh.peer(leecher.id) !== undefined && leecher.mesh.peer(seeder.id) !== undefined,
      30_000,
    );
    await seeder.torrents?.seedFile(assetPackTorrent(generated), generated);

    const fetched = await leecher.torrents?.fetchFile(pin.infoHash, pin.hash, { timeoutMs: 20_000 });
    assert.ok(fetched);
    assert.deepEqual(fetched.bytes, generated);
    assert.deepEqual(
      fetched.sources,
      [{ peerId: seeder.id, bytes: generated.length }],
      "every byte came from the seeder",
    );
    assert.equal(decodeAssetPack(fetched.bytes).textures.length, 12);

    // A deployment whose listed pack is not the one the chain pins is refused before anything is fetched.
    const forged = { ...pin, hash: `0x${"11".repeat(32)}` as const };
    const forgedDeployment: Deployment = {
      ...clients.deployment,
      assets: { manifestHash: assetManifestHash([forged]), packs: [forged] },
    };
    await assert.rejects(
      pinnedAssets(clients.publicClient, forgedDeployment),
      (error: unknown) => error instanceof AssetPackError && error.code === "ASSET_MANIFEST_NOT_PINNED",
    );

    // A seeder serving other bytes: whatever torrent they come in, they do not hash to the pin, and its sender is banned.
    const tampered = generated.slice();
    tampered[tampered.length - 1000] = (tampered[tampered.length - 1000] as number) ^ 0xff;
    const tamperedTorrent = assetPackTorrent(tampered);
    await seeder.torrents?.seedFile(tamperedTorrent, tampered);
    await assert.rejects(
      leecher.torrents?.fetchFile(tamperedTorrent.infoHash, pin.hash, { timeoutMs: 20_000 }) ?? Promise.reject(),
      (error: unknown) => error instanceof FileFetchError && error.code === "FILE_MISMATCH",
    );
    assert.ok(leecher.torrents?.isBanned(seeder.id), "the leecher bans the seeder that sent it");
    assert.equal(leecher.torrents?.stats().rejected, 1);

    // seedFile refuses bytes that are not the file its torrent names.
    await assert.rejects(
      seeder.torrents?.seedFile(assetPackTorrent(generated), tampered) ?? Promise.reject(),
      (error: unknown) => error instanceof FileFetchError && error.code === "FILE_MISMATCH",
    );
  });
});
