import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BrowserProvider, getAddress } from "ethers";
import hre from "hardhat";
import { encodeChunk } from "../../core/chunk.ts";
import { CONTRACT_NAMES, type Deployment } from "../../core/deployment.ts";
import { deploymentPath, writeDeployment } from "../../deploy/deployment-file.ts";
import { anchorChunks, commitClaim, loadSeedcraft, proveClaim, signReceipts } from "../../examples/ethers.ts";
import { cube, deploySeedcraft, editChunk, prng, testWallets, travelToEpoch } from "../helpers/seeding.ts";

const NETWORK = "test-ethers";

describe("ethers v6 integration (examples/ethers.ts)", () => {
  it("anchors and claims with ethers alone, from the deployment file", async () => {
    // A real Ignition deploy, written to deployments/test-ethers.json as `npm run deploy` writes it.
    const world = await deploySeedcraft();
    const contracts = {
      ChunkLedger: world.chunkLedger.address,
      SessionRegistry: world.sessionRegistry.address,
      EnergyToken: world.energyToken.address,
      SeedingRewards: world.seedingRewards.address,
    };
    const deployment: Deployment = {
      network: NETWORK,
      chainId: world.receiptDomain.chainId,
      startBlock: 0,
      contracts: Object.fromEntries(
        await Promise.all(
          CONTRACT_NAMES.map(async (name) => [
            name,
            { address: contracts[name], abi: (await hre.artifacts.readArtifact(name)).abi },
          ]),
        ),
      ) as Deployment["contracts"],
    };
    await writeDeployment(deployment);

    // From here on, only ethers and the file.
    const provider = new BrowserProvider(world.connection.provider);
    const [builderW, seederW, leecherW] = await testWallets(world.viem, 3);
    if (!builderW || !seederW || !leecherW) throw new Error("unreachable");
    const builder = await provider.getSigner(builderW.account.address);
    const seeder = await provider.getSigner(seederW.account.address);
    const leecher = await provider.getSigner(leecherW.account.address);
    const file = deploymentPath(NETWORK);
    const asBuilder = loadSeedcraft(file, builder);
    const asLeecher = loadSeedcraft(file, leecher);
    const asSeeder = loadSeedcraft(file, seeder);

    const random = prng(3);
    const chunks = cube(2, [0, 0, 0]).map((coords) => editChunk(coords, 5, random));
    const { leaves, tree } = await anchorChunks(
      asBuilder.ledger,
      chunks.map((c) => ({
        chunkId: c.chunkId,
        expectedVersion: 0,
        newHash: c.hash,
        infoHash: c.hash.slice(0, 42),
        watermark: c.watermark,
      })),
    );
    assert.equal(leaves.length, 8);
    assert.ok((await asBuilder.ledger.getFunction("rootAnchoredAt")(tree.root)) > 0n, "the batch root is on chain");
    assert.equal(await asBuilder.ledger.getFunction("versionOf")(chunks[0]?.chunkId), 1n);

    // The leecher plays in epoch 0, downloads in epoch 1 and signs; the seeder claims in epoch 2.
    const own = editChunk([40, 0, 0], 1, random);
    await anchorChunks(asLeecher.ledger, [
      { chunkId: own.chunkId, expectedVersion: 0, newHash: own.hash, infoHash: own.hash.slice(0, 42), watermark: 1n },
    ]);
    await travelToEpoch(world, 1);
    const signed = await signReceipts(leecher, asLeecher.rewards, asLeecher.chainId, {
      seeder: seeder.address,
      leecher: leecher.address,
      epoch: 1,
      receipts: chunks.slice(0, 3).map((c, i) => ({ contentHash: c.hash, bytes: 65_536n, nonce: BigInt(i) })),
    });
    await travelToEpoch(world, 2);
    const commitBlock = await commitClaim(asSeeder.rewards, asSeeder.chainId, 1, [signed]);
    await world.networkHelpers.mine(1);
    const receipt = await proveClaim(asSeeder.rewards, {
      seeder: seeder.address,
      epoch: 1,
      commitBlock,
      batches: [signed],
      tree,
      snapshots: new Map(chunks.map((c) => [c.hash, encodeChunk(c.blocks)])),
    });
    const claimed = receipt.logs
      .map((log: Parameters<typeof asSeeder.rewards.interface.parseLog>[0]) => asSeeder.rewards.interface.parseLog(log))
      .find((event: { name: string } | null) => event?.name === "RewardClaimed");
    assert.equal(getAddress(claimed.args.seeder), getAddress(seeder.address));
    const balance: bigint = await asSeeder.energy.getFunction("balanceOf")(seeder.address);
    assert.equal(balance, await asSeeder.rewards.getFunction("rewardFor")(3n * 65_536n));
    assert.ok(balance > 0n);
  });
});
