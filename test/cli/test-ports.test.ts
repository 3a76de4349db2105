/**
 * npm test runs two lanes at once (scripts/test.ts): the worlds that tests start with worldPorts(base) or
 * testWorldEnv(name, base) in one lane must not share a port with those of the other lane. And no port a test
 * or benchmark fixes may lie in the kernel's ephemeral range (Linux: 32768-60999), where any socket bound to
 * port 0 or any outgoing connection may already hold it: a test on such a port fails now and then with
 * EADDRINUSE, as the indexer stall test and the look test did in CI.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, it } from "node:test";
import { ROOT } from "../../cli/world.ts";
import { laneFiles } from "../../scripts/test-lanes.ts";
import { worldPorts } from "../helpers/world.ts";

/** Every file under `dir` (from the project's root) whose name ends with `suffix`. */
function sourceFiles(dir: string, suffix: string): string[] {
  const files: string[] = [];
  const walk = (at: string) => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      const full = path.join(at, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith(suffix)) files.push(full);
    }
  };
  walk(path.join(ROOT, dir));
  return files;
}

/**
 * The ports a file fixes: its world bases' ports, a `const …PORT… = n` or `const BASE = n` (with the 1,000
 * ports above a base that its offsets reach), and the numbers inside a `const PORTS = {…}` or `RELAY = {…}`.
 */
function fixedPorts(source: string): number[] {
  const ports: number[] = [];
  const number = (text: string) => Number(text.replaceAll("_", ""));
  for (const [, name, value] of source.matchAll(/const (\w*(?:PORT|BASE)\w*) = ([\d_]{4,6});/g)) {
    const port = number(value as string);
    ports.push(port);
    if ((name as string).includes("BASE")) ports.push(port + 999);
  }
  for (const [, body] of source.matchAll(/const (?:\w*PORTS|RELAY\w*) = [{[]([^}\]]*)[}\]]/g))
    for (const [value] of (body as string).matchAll(/\b\d[\d_]{3,5}\b/g)) ports.push(number(value));
  for (const [, argument] of source.matchAll(/(?:worldPorts\(|testWorldEnv\("[^"]*", )(\d[\d_]*)\)/g))
    ports.push(...Object.values(worldPorts(number(argument as string))));
  return ports;
}

/** Every test file under test/, with the world bases it names (a literal, or a const it names). */
function worldBases(): { file: string; lane: "browser" | "checks"; bases: number[] }[] {
  const lanes = laneFiles(ROOT);
  return sourceFiles("test", ".test.ts").map((file) => {
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

  it("no test or benchmark fixes a port in the kernel's ephemeral range", () => {
    const rangeFile = "/proc/sys/net/ipv4/ip_local_port_range";
    const [low, high] = existsSync(rangeFile)
      ? readFileSync(rangeFile, "utf8").trim().split(/\s+/).map(Number)
      : [32768, 60999];
    const files = [...sourceFiles("test", ".ts"), ...sourceFiles("bench", ".ts")];
    let checked = 0;
    for (const file of files) {
      const ports = fixedPorts(readFileSync(file, "utf8"));
      checked += ports.length;
      for (const port of ports)
        assert.ok(
          port < (low as number) || port > (high as number),
          `${path.relative(ROOT, file)} fixes port ${port}, inside the ephemeral range ${low}-${high}: pick one below ${low}`,
        );
    }
    assert.ok(checked >= 40, `found the fixed ports (${checked})`);
  });
});
