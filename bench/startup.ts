/**
 * bench:startup — how long `seedcraft up` takes until the app page, the chain and the indexer's
 * readiness all answer; then stops everything and checks that nothing is left listening.
 * Usage: npm run bench:startup [-- --runs N]   Last line: one JSON object.
 */
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { isPortFree, PART_NAMES, type PartName, rpcChainId, World } from "../cli/world.ts";

const { values } = parseArgs({ options: { runs: { type: "string", default: "3" } }, strict: true });
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1 || runs > 20) throw new Error(`--runs must be 1..20, got ${values.runs}`);

type Run = { total: number; parts: Record<PartName, number> };
const results: Run[] = [];

for (let run = 1; run <= runs; run++) {
  const world = new World({ stateDir: mkdtempSync(path.join(os.tmpdir(), "seedcraft-bench-")), network: "bench" });
  const started = performance.now();
  let total = 0;
  try {
    await world.start();
    // Independent checks that each part answers, beyond the orchestrator's own health checks.
    const [page, chainId, ready] = await Promise.all([
      fetch(world.urls.app).then((response) => response.status),
      rpcChainId(world.urls.chain),
      fetch(`${world.urls.indexer}/v1/ready`).then((response) => response.status),
    ]);
    if (page !== 200 || chainId === undefined || ready !== 200)
      throw new Error(`a part does not answer: app ${page}, chain id ${chainId}, indexer ready ${ready}`);
    total = (performance.now() - started) / 1000;
  } finally {
    await world.stop();
  }
  const listening = [];
  for (const [part, port] of Object.entries(world.ports))
    if (!(await isPortFree(port))) listening.push(`${part}:${port}`);
  if (listening.length > 0) throw new Error(`still listening after stop: ${listening.join(", ")}`);
  const parts = Object.fromEntries(PART_NAMES.map((part) => [part, round(world.timings[part] ?? 0)])) as Record<
    PartName,
    number
  >;
  results.push({ total: round(total), parts });
  console.log(`run ${run}/${runs}: up in ${total.toFixed(1)} s`, parts);
}

function round(seconds: number): number {
  return Math.round(seconds * 100) / 100;
}

const sorted = [...results].sort((a, b) => a.total - b.total);
const median = sorted[Math.floor(sorted.length / 2)] as Run;
console.log(
  JSON.stringify({
    startup_s: median.total,
    parts: median.parts,
    runs,
    all_startup_s: results.map((result) => result.total),
    statistic: "median run",
    measured:
      "World.start() until chain RPC, Ponder /v1/ready and the Vite page answer; stop() then checked every port is free",
    machine: { cores: os.cpus().length, node: process.version },
  }),
);
