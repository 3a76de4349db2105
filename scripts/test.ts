/**
 * `npm test`: the whole suite, in order — Chromium and Postgres checks, typecheck, lint, contract tests, then every
 * node:test suite (core, cli, indexer, e2e in real Chromium). Every step runs even if an earlier one
 * failed; the last line sums the counts.
 */
import { spawn, spawnSync } from "node:child_process";
import { realpathSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromiumPath, INSTALL_COMMAND } from "../test/helpers/chromium.ts";
import { POSTGRES_INSTALL_COMMAND, postgresBinDir } from "../test/helpers/postgres.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const bin = (name: string) => realpathSync(path.join(ROOT, "node_modules", ".bin", name));

type Counts = { passed: number; failed: number; skipped: number };
type Step = { name: string; args: string[]; counts?: (output: string) => Counts };

/** node:test's spec reporter closing lines: "ℹ pass N", "ℹ fail N", "ℹ skipped N". */
function nodeTestCounts(output: string): Counts {
  const read = (label: string) => Number(output.match(new RegExp(`^ℹ ${label} (\\d+)$`, "m"))?.[1] ?? 0);
  return { passed: read("pass"), failed: read("fail") + read("cancelled"), skipped: read("skipped") + read("todo") };
}

/** Hardhat's node:test reporter closing lines: "N passing", "N failing", "N skipped". */
function hardhatTestCounts(output: string): Counts {
  const read = (label: string) => Number(output.match(new RegExp(`^\\s*(\\d+) ${label}`, "m"))?.[1] ?? 0);
  return {
    passed: read("passing"),
    failed: read("failing") + read("cancelled"),
    skipped: read("skipped") + read("todo"),
  };
}

/** Installs a Debian package with apt-get when `present()` says it is missing and we are root; says how otherwise. */
function ensureDebianPackage(name: string, present: () => boolean, command: string, alternative = ""): boolean {
  if (present()) return true;
  const isRoot = process.getuid?.() === 0;
  const hasApt = spawnSync("sh", ["-c", "command -v apt-get"]).status === 0;
  if (isRoot && hasApt) {
    console.log(`${name} is missing: installing Debian's package (${command})…`);
    const result = spawnSync("sh", ["-c", command], {
      stdio: "inherit",
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    });
    if (result.status === 0 && present()) return true;
  }
  console.error(
    `${name} is missing and could not be installed here. Install it with:\n  sudo ${command}${alternative}`,
  );
  return false;
}

const ensureChromium = () =>
  ensureDebianPackage(
    "Chromium",
    () => chromiumPath() !== undefined,
    INSTALL_COMMAND,
    "\nor point SEEDCRAFT_CHROMIUM at a Chromium binary.",
  );
const ensurePostgres = () =>
  ensureDebianPackage("Postgres", () => postgresBinDir() !== undefined, POSTGRES_INSTALL_COMMAND);

function run(step: Step): Promise<{ ok: boolean; output: string; seconds: number }> {
  const started = performance.now();
  console.log(`\n━━ ${step.name}`);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, step.args, {
      cwd: ROOT,
      env: {
        ...process.env,
        PATH: `${path.join(ROOT, "node_modules", ".bin")}${path.delimiter}${process.env.PATH ?? ""}`,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      process.stdout.write(chunk);
    });
    child.stderr.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      process.stderr.write(chunk);
    });
    child.on("close", (code) => resolve({ ok: code === 0, output, seconds: (performance.now() - started) / 1000 }));
  });
}

const nodeTestArgs = ["--test", "--test-concurrency=1", "--test-reporter=spec"];
const steps: Step[] = [
  // Contract typings (artifacts/*.d.ts) must exist before the typecheck.
  { name: "compile contracts (hardhat build)", args: [bin("hardhat"), "build"] },
  { name: "typecheck (tsc --noEmit)", args: [bin("tsc"), "--noEmit", "-p", "tsconfig.json"] },
  { name: "lint and format (biome check)", args: [bin("biome"), "check", "."] },
  { name: "contracts (hardhat test nodejs)", args: [bin("hardhat"), "test", "nodejs"], counts: hardhatTestCounts },
  {
    name: "contract fuzz and invariants (hardhat test solidity)",
    args: [bin("hardhat"), "test", "solidity"],
    counts: hardhatTestCounts,
  },
  {
    name: "core, app, cli, indexer, p2p, e2e (node --test)",
    args: [
      ...nodeTestArgs,
      "test/core/**/*.test.ts",
      "test/app/**/*.test.ts",
      "test/cli/**/*.test.ts",
      "test/indexer/**/*.test.ts",
      "test/p2p/**/*.test.ts",
      "test/e2e/**/*.test.ts",
    ],
    counts: nodeTestCounts,
  },
];

const started = performance.now();
const total: Counts = { passed: 0, failed: 0, skipped: 0 };
const summary: string[] = [];
let ok = ensureChromium();
if (!ok) summary.push("✖ chromium: missing");
if (!ensurePostgres()) {
  ok = false;
  summary.push("✖ postgres: missing");
}
for (const step of steps) {
  const result = await run(step);
  if (step.counts) {
    const counts = step.counts(result.output);
    total.passed += counts.passed;
    total.failed += counts.failed;
    total.skipped += counts.skipped;
    // A runner that died before counting still failed.
    if (!result.ok && counts.failed === 0) total.failed += 1;
  }
  ok &&= result.ok;
  summary.push(`${result.ok ? "✔" : "✖"} ${step.name} (${result.seconds.toFixed(1)} s)`);
}
console.log(`\n━━ summary (${((performance.now() - started) / 1000).toFixed(0)} s)\n${summary.join("\n")}`);
console.log(`tests: ${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`);
process.exitCode = ok ? 0 : 1;
