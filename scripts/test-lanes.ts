/**
 * Which node:test files run in which lane of `npm test` (scripts/test.ts runs the two lanes side by side);
 * test/cli/test-ports.test.ts reads it to check that no world of one lane shares a port with the other's.
 */
import { readdirSync } from "node:fs";
import path from "node:path";

/** Tests that start a whole world without a browser, run after the Chromium tests to even the lanes out. */
export const WORLD_TESTS_IN_BROWSER_LANE = [
  "test/cli/up.test.ts",
  "test/cli/seeder-flow.test.ts",
  "test/indexer/stall.test.ts",
];

/** Tests outside test/e2e that drive Chromium: they run in the browser lane. */
export const CHROMIUM_TESTS_OUTSIDE_E2E = ["test/p2p/sdp-chromium.test.ts"];

function testFiles(root: string, folder: string): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(path.join(root, dir), { withFileTypes: true }).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      const relative = `${dir}/${entry.name}`;
      if (entry.isDirectory()) walk(relative);
      else if (entry.name.endsWith(".test.ts")) found.push(relative);
    }
  };
  walk(folder);
  return found;
}

/** The node:test files of each lane, relative to the project's root, in the order they run. */
export function laneFiles(root: string): { checks: string[]; browser: string[] } {
  const checks = ["test/core", "test/app", "test/cli", "test/indexer", "test/p2p"]
    .flatMap((folder) => testFiles(root, folder))
    .filter((file) => !WORLD_TESTS_IN_BROWSER_LANE.includes(file) && !CHROMIUM_TESTS_OUTSIDE_E2E.includes(file));
  // test/net builds hosts in network namespaces (root; skipped otherwise) and runs coturn and WebRTC between them.
  return {
    checks,
    browser: [
      ...CHROMIUM_TESTS_OUTSIDE_E2E,
      ...testFiles(root, "test/e2e"),
      ...testFiles(root, "test/net"),
      ...WORLD_TESTS_IN_BROWSER_LANE,
    ],
  };
}
