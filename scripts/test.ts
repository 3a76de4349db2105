/**
 * `npm test`: the whole suite — Chromium, Postgres, coturn and iptables checks (each installed from Debian when
 * missing and root), the contracts' compile, then two lanes side by side: typecheck, lint, contract tests and the
 * node:test suites that start no browser (core, app, cli, indexer, p2p); and the end-to-end tests in real
 * Chromium and network namespaces. Every step runs even if an earlier one failed; the last line sums the counts.
 */
import { spawn, spawnSync } from "node:child_process";
import { realpathSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { COTURN_INSTALL_COMMAND, turnserverPath } from "../cli/turn.ts";
import { chromiumPath, INSTALL_COMMAND } from "../test/helpers/chromium.ts";
import { commandExists, IPTABLES_INSTALL_COMMAND } from "../test/helpers/netns.ts";
import { POSTGRES_INSTALL_COMMAND, postgresBinDir } from "../test/helpers/postgres.ts";
import { laneFiles } from "./test-lanes.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const bin = (name: string) => realpathSync(path.join(ROOT, "node_modules", ".bin", name));

type Counts = { passed: number; failed: number; skipped: number };
type Step = {
  name: string;
  args: string[];
  counts?: (output: string) => Counts;
  /** Past this, the step and every process under it are killed and the step fails (a hung file must not hang CI). */
  deadlineSeconds?: number;
  /** One node:test file: the summary lists it only when it failed, and sums the rest per lane. */
  perFile?: boolean;
};

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
// The world's STUN/TURN server: cli/turn.ts's tests run it on loopback, test/net's on a namespace's address.
const ensureCoturn = () =>
  ensureDebianPackage(
    "coturn",
    () => turnserverPath() !== undefined,
    COTURN_INSTALL_COMMAND,
    "\nor point SEEDCRAFT_TURNSERVER at a turnserver binary.",
  );
// test/net's NAT routers. Only root builds network namespaces (test/net skips without): a user needs none.
const ensureIptables = () =>
  process.getuid?.() !== 0 ||
  ensureDebianPackage("iptables", () => commandExists("iptables"), IPTABLES_INSTALL_COMMAND);

/** Every process under `pid` (children first found by /proc's parent links), deepest last. */
function descendants(pid: number): number[] {
  const listing = spawnSync("ps", ["-eo", "pid=,ppid="], { encoding: "utf8" }).stdout ?? "";
  const children = new Map<number, number[]>();
  for (const line of listing.split("\n")) {
    const [child, parent] = line.trim().split(/\s+/).map(Number);
    if (!child || parent === undefined) continue;
    children.set(parent, [...(children.get(parent) ?? []), child]);
  }
  const found: number[] = [];
  const walk = (at: number) => {
    for (const child of children.get(at) ?? []) {
      found.push(child);
      walk(child);
    }
  };
  walk(pid);
  return found;
}

/**
 * Kills a hung step: SIGTERM to it and everything it started (worlds' parts run in process groups of their
 * own, so a group signal would miss them), SIGKILL to whatever is left 10 s later.
 */
function killTree(pid: number): void {
  const signal = (targets: number[], name: NodeJS.Signals) => {
    for (const target of targets) {
      try {
        process.kill(target, name);
      } catch {
        // gone already
      }
    }
  };
  const targets = [pid, ...descendants(pid)];
  signal(targets, "SIGTERM");
  setTimeout(() => signal([...targets, ...descendants(pid)], "SIGKILL"), 10_000).unref();
}

/**
 * Runs one step. Its output is streamed line by line (behind `tag` when two lanes run at once) and kept
 * whole, untagged, for its counts.
 */
function run(step: Step, tag = ""): Promise<{ ok: boolean; output: string; seconds: number; hung: boolean }> {
  const started = performance.now();
  console.log(`\n━━ ${tag}${step.name}`);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, step.args, {
      cwd: ROOT,
      env: {
        ...process.env,
        PATH: `${path.join(ROOT, "node_modules", ".bin")}${path.delimiter}${process.env.PATH ?? ""}`,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let hung = false;
    const deadline =
      step.deadlineSeconds === undefined
        ? undefined
        : setTimeout(() => {
            hung = true;
            console.error(`${tag}✖ ${step.name}: still running after ${step.deadlineSeconds} s; killing it`);
            if (child.pid !== undefined) killTree(child.pid);
          }, step.deadlineSeconds * 1000);
    let output = "";
    const pending = { stdout: "", stderr: "" };
    const forward = (stream: "stdout" | "stderr") => (chunk: Buffer) => {
      const text = chunk.toString();
      output += text;
      if (!tag) {
        process[stream].write(text);
        return;
      }
      const lines = (pending[stream] + text).split("\n");
      pending[stream] = lines.pop() ?? "";
      for (const line of lines) process[stream].write(`${tag}${line}\n`);
    };
    child.stdout.on("data", forward("stdout"));
    child.stderr.on("data", forward("stderr"));
    child.on("close", (code) => {
      clearTimeout(deadline);
      for (const stream of ["stdout", "stderr"] as const)
        if (pending[stream]) process[stream].write(`${tag}${pending[stream]}\n`);
      resolve({ ok: code === 0 && !hung, output, seconds: (performance.now() - started) / 1000, hung });
    });
  });
}

const files = laneFiles(ROOT);
/**
 * Each node:test file runs alone, in the runner's own process (no isolation: one file is all it holds), with
 * --test-force-exit: a file whose tests are done but whose handles stay open (a WebRTC link a failed test never
 * closed) ends anyway instead of holding up its lane. A file still running past the deadline is killed, with
 * everything it started, and counts as failed; the longest file seen takes about 150 s under CI's load.
 */
const FILE_DEADLINE_SECONDS = 480;
const nodeTestFile = (file: string): Step => ({
  name: file,
  args: ["--test", "--test-isolation=none", "--test-force-exit", "--test-reporter=spec", file],
  counts: nodeTestCounts,
  deadlineSeconds: FILE_DEADLINE_SECONDS,
  perFile: true,
});
// Contract typings (artifacts/*.d.ts) must exist before the typecheck, and the contracts before any test.
const compile: Step = { name: "compile contracts (hardhat build)", args: [bin("hardhat"), "build"] };
/**
 * Then two lanes run side by side, each its steps in order: the checks and the tests that start no browser,
 * and the contracts' fuzz with the browser tests (each starts a world of its own, on ports no other test uses). Much of a world test
 * is waiting (for a chain, an indexer, an epoch, a peer), which the other lane fills.
 */
const lanes: { tag: string; steps: Step[] }[] = [
  {
    tag: "[checks] ",
    steps: [
      { name: "typecheck (tsc --noEmit)", args: [bin("tsc"), "--noEmit", "-p", "tsconfig.json"] },
      { name: "lint and format (biome check)", args: [bin("biome"), "check", "."] },
      { name: "contracts (hardhat test nodejs)", args: [bin("hardhat"), "test", "nodejs"], counts: hardhatTestCounts },
      // core, app, cli, indexer, p2p
      ...files.checks.map(nodeTestFile),
    ],
  },
  {
    tag: "[browser] ",
    // The fuzz runs here, before the Chromium tests: it evens the lanes out (each about 13 minutes under load).
    steps: [
      {
        name: "contract fuzz and invariants (hardhat test solidity)",
        args: [bin("hardhat"), "test", "solidity"],
        counts: hardhatTestCounts,
      },
      // e2e in Chromium, network namespaces, whole worlds
      ...files.browser.map(nodeTestFile),
    ],
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
if (!ensureCoturn()) {
  ok = false;
  summary.push("✖ coturn: missing");
}
if (!ensureIptables()) {
  ok = false;
  summary.push("✖ iptables: missing");
}
/** Per lane, its node:test files: how many ran, how many failed, their time. */
const fileTotals = new Map<string, { files: number; failed: number; seconds: number }>();
function record(step: Step, result: Awaited<ReturnType<typeof run>>, tag = ""): void {
  if (step.counts) {
    const counts = step.counts(result.output);
    total.passed += counts.passed;
    total.failed += counts.failed;
    total.skipped += counts.skipped;
    // A runner that died (or was killed) before counting still failed.
    if (!result.ok && counts.failed === 0) total.failed += 1;
  }
  ok &&= result.ok;
  const line = `${result.ok ? "✔" : "✖"} ${tag}${step.name} (${result.seconds.toFixed(1)} s${result.hung ? ", killed at its deadline" : ""})`;
  if (!step.perFile) {
    summary.push(line);
    return;
  }
  const lane = fileTotals.get(tag) ?? { files: 0, failed: 0, seconds: 0 };
  fileTotals.set(tag, {
    files: lane.files + 1,
    failed: lane.failed + (result.ok ? 0 : 1),
    seconds: lane.seconds + result.seconds,
  });
  if (!result.ok) summary.push(line);
}

record(compile, await run(compile));
await Promise.all(
  lanes.map(async (lane) => {
    for (const step of lane.steps) record(step, await run(step, lane.tag), lane.tag);
  }),
);
for (const [tag, lane] of fileTotals)
  summary.push(
    `${lane.failed === 0 ? "✔" : "✖"} ${tag}${lane.files} node:test files, ${lane.failed} failed (${lane.seconds.toFixed(1)} s)`,
  );
console.log(`\n━━ summary (${((performance.now() - started) / 1000).toFixed(0)} s)\n${summary.join("\n")}`);
console.log(`tests: ${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`);
process.exitCode = ok ? 0 : 1;
