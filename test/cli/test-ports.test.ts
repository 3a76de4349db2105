/**
 * npm test runs two lanes at once (scripts/test.ts): the worlds that tests start with worldPorts(base) or
 * testWorldEnv(name, base) in one lane must not share a port with those of the other lane.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { ROOT } from "../../cli/world.ts";
import { laneFiles } from "../../scripts/test-lanes.ts";
import { worldPorts } from "../helpers/world.ts";

/** Every test file under test/, with the world bases it names (a literal, or a const it names). */
function worldBases(): { file: string; lane: "browser" | "checks"; bases: number[] }[] {
  const lanes = laneFiles(ROOT);
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith(".test.ts")) files.push(full);
    }
  };
  walk(path.join(ROOT, "test"));
  return files.map((file) => {
    const source = readFileSync(file, "utf8");
    const constants = new Map<string, number>();
    for (const [, name, value] of source.matchAll(/const (\w+) = (\d{4,5});/g))
      constants.set(name as string, Number(value));
    const bases: number[] = [];
    for (const [, argument] of source.matchAll(/(?:worldPorts\(|testWorldEnv\("[^"]*", )(\w+)\)/g)) {
      const base = /^\d+$/.test(argument as string) ? Number(argument) : constants.get(argument as string);
      if (base !== undefined) bases.push(base);
    }
    const relative = path.relative(ROOT, file).split(path.sep).join("/");
    return { file: relative, lane: lanes.browser.includes(relative) ? "browser" : "checks", bases };
  });
}

describe("test worlds' ports", () => {
  it("a world in the browser lane shares no port with a world in the checks lane", () => {
    const owners = new Map<number, { file: string; lane: string }>();
    const worlds = worldBases();
    assert.ok(worlds.filter((w) => w.bases.length > 0).length >= 8, "found the test worlds");
    for (const { file, lane, bases } of worlds)
      for (const base of bases)
        for (const port of Object.values(worldPorts(base))) {
          const owner = owners.get(port);
          assert.ok(
            owner === undefined || owner.lane === lane,
            `port ${port} is used by ${file} (${lane} lane) and ${owner?.file} (${owner?.lane} lane), which run at once`,
          );
          owners.set(port, { file, lane });
        }
  });
});
