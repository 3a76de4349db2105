import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { describe, it } from "node:test";
import { ROOT } from "../../cli/world.ts";

const seedcraft = (...args: string[]) =>
  spawnSync(process.execPath, [path.join(ROOT, "cli", "seedcraft.ts"), ...args], { encoding: "utf8", timeout: 30_000 });

describe("cli: seedcraft peer, seed, claim, dht, gateway and tracker", () => {
  it("refuse bad flags with a usage error (exit 2) before touching the network", () => {
    for (const args of [
      ["peer", "--walk", "999"],
      ["peer", "--at", "1"],
      ["peer", "--edits-per-s", "-1"],
      ["peer", "--bootstrap", "no port"],
      ["peer", "--name", "x".repeat(40)],
      ["peer", "--unknown"],
      ["dht", "--port", "70000"],
      ["gateway", "--port", "0.5"],
      ["gateway", "--max-clients", "0"],
      ["gateway", "--bootstrap", "nowhere"],
      ["tracker", "--port", "0.5"],
      ["seed", "--up", "fast"],
      ["seed", "--down", "10T"],
      ["seed", "--at", "1,"],
      ["seed", "--radius", "99"],
      ["seed", "--trackers", "http://127.0.0.1:1"],
      ["seed", "--max-wires", "0"],
      ["seed", "--resync", "-5"],
      ["claim", "--epoch", "-1"],
      ["claim", "--unknown"],
    ]) {
      const run = seedcraft(...args);
      assert.equal(run.status, 2, `${args.join(" ")}: ${run.stderr}`);
      assert.match(run.stderr, /Bad command line/);
    }
  });

  it("are listed in the help", () => {
    const run = seedcraft("help");
    assert.equal(run.status, 0);
    assert.match(run.stdout, /peer {5}Join the local world as a headless player/);
    assert.match(run.stdout, /dht {6}Run a DHT bootstrap node/);
    assert.match(run.stdout, /gateway {2}Run the browser gateway/);
    assert.match(run.stdout, /tracker {2}Run the WebSocket tracker/);
    assert.match(run.stdout, /seed {5}Run a headless seeder/);
    assert.match(run.stdout, /claim {4}Claim energy for the seeder's receipts/);
  });
});
