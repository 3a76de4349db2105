/**
 * `seedcraft peer` anchors its edits: two peer processes on the real chain, indexer and DHT; the one told to
 * edit reports each edit's final state over IPC (anchored), and the other, asked with --no-anchor, sends no
 * anchor and reports no final state. Both exit cleanly when told to stop.
 */
import assert from "node:assert/strict";
import { type ChildProcess, fork } from "node:child_process";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { PeerCommand, PeerReport } from "../../cli/peer.ts";
import { ROOT, World } from "../../cli/world.ts";
import { BLOCK_IDS } from "../../core/blocks.ts";
import { waitFor, worldPorts } from "../helpers/world.ts";

const NETWORK = "peer-anchor";
const PORTS = worldPorts(4000);

type Child = { process: ChildProcess; reports: PeerReport[]; exited: Promise<number | null> };

describe("cli: seedcraft peer anchors its edits", { timeout: 240_000 }, () => {
  let world: World;
  const children: Child[] = [];

  const start = (name: string, at: string, extra: string[] = []): Child => {
    const child = fork(
      path.join(ROOT, "cli", "seedcraft.ts"),
      [
        "peer",
        "--name",
        name,
        "--at",
        at,
        "--walk",
        "0",
        "--edits-per-s",
        "0",
        "--bootstrap",
        world.urls.dht,
        ...extra,
      ],
      {
        env: {
          ...process.env,
          SEEDCRAFT_NETWORK: NETWORK,
          SEEDCRAFT_RPC_URL: world.urls.chain,
          SEEDCRAFT_INDEXER_URL: world.urls.indexer,
        },
        stdio: ["ignore", "ignore", "inherit", "ipc"],
      },
    );
    const made: Child = {
      process: child,
      reports: [],
      exited: new Promise((resolve) => child.once("exit", (code) => resolve(code))),
    };
    child.on("message", (reports: PeerReport[]) => made.reports.push(...reports));
    children.push(made);
    return made;
  };
  const send = (child: Child, command: PeerCommand) => child.process.send(command);
  const of = <T extends PeerReport["type"]>(child: Child, type: T) =>
    child.reports.filter((r): r is Extract<PeerReport, { type: T }> => r.type === type);

  before(async () => {
    world = new World({
      stateDir: mkdtempSync(path.join(os.tmpdir(), "seedcraft-peer-anchor-")),
      network: NETWORK,
      parts: ["chain", "deploy", "indexer", "dht"],
      ports: PORTS,
    });
    await world.start();
  });

  after(async () => {
    for (const child of children) if (child.process.exitCode === null) child.process.kill("SIGKILL");
    await world?.stop();
  });

  it("reports its edits anchored, and --no-anchor anchors nothing", async () => {
    const builder = start("builder", "0,0");
    const watcher = start("watcher", "2,0", ["--no-anchor"]);
    await waitFor(
      "both peers linked",
      async () => of(builder, "linked").length > 0 && of(watcher, "linked").length > 0,
      60_000,
    );
    send(builder, { type: "edit", dx: 1, dy: 1, dz: 0, block: BLOCK_IDS.stone });
    send(builder, { type: "edit", dx: -1, dy: 1, dz: 0, block: BLOCK_IDS.dirt });
    send(watcher, { type: "edit", dx: 0, dy: 1, dz: 1, block: BLOCK_IDS.wood });
    await waitFor("the builder's edits to end", async () => of(builder, "final").length >= 2, 30_000);
    const edited = of(builder, "edited").map((r) => r.op);
    const finals = of(builder, "final");
    assert.deepEqual(
      finals.map((r) => r.op).sort(),
      [...edited].sort(),
      "one final report for each edit, naming its op",
    );
    for (const final of finals) assert.equal(final.state, "anchored", `${final.state}: ${final.reason}`);
    // The watcher heard the builder's ops, and its own edit is never anchored or reported final.
    assert.ok(of(watcher, "applied").length >= 2, "the watcher applied the builder's ops");
    assert.equal(of(watcher, "edited").length, 1);
    send(builder, { type: "stop" });
    send(watcher, { type: "stop" });
    assert.equal(await builder.exited, 0);
    assert.equal(await watcher.exited, 0);
    assert.equal(of(watcher, "final").length, 0, "--no-anchor reports no final states");
  });
});
