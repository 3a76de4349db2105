/** Starting the real local world from tests, on ports of their own. Node-only. */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { isPortFree, ROOT } from "../../cli/world.ts";

export type TestWorldEnv = {
  env: NodeJS.ProcessEnv;
  stateDir: string;
  ports: { chain: number; indexer: number; dht: number; gateway: number; tracker: number; app: number };
};

/** A world's ports from `base` up: the usual ones (8545, 42069, 6881…) past a base of their own. */
export function worldPorts(base: number): TestWorldEnv["ports"] {
  return {
    chain: base + 545,
    indexer: base + 69,
    dht: base + 881,
    gateway: base + 880,
    tracker: base + 969,
    app: base + 173,
  };
}

/** Ports and a state directory apart from a developer's running `npm start`. */
export function testWorldEnv(name: string, base = 20000): TestWorldEnv {
  const stateDir = mkdtempSync(path.join(tmpdir(), `seedcraft-${name}-`));
  const ports = worldPorts(base);
  return {
    stateDir,
    ports,
    env: {
      ...process.env,
      SEEDCRAFT_CHAIN_PORT: String(ports.chain),
      SEEDCRAFT_INDEXER_PORT: String(ports.indexer),
      SEEDCRAFT_DHT_PORT: String(ports.dht),
      SEEDCRAFT_GATEWAY_PORT: String(ports.gateway),
      SEEDCRAFT_TRACKER_PORT: String(ports.tracker),
      SEEDCRAFT_APP_PORT: String(ports.app),
      SEEDCRAFT_NETWORK: `test-${name}`,
      SEEDCRAFT_STATE_DIR: stateDir,
    },
  };
}

export type RunningCli = {
  child: ChildProcessWithoutNullStreams;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
};

/** Runs `seedcraft <args>` as a child process, as `npm start` would. */
export function runCli(args: string[], env: NodeJS.ProcessEnv): RunningCli {
  const child = spawn(process.execPath, [path.join(ROOT, "cli", "seedcraft.ts"), ...args], { cwd: ROOT, env });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

/** Resolves once `predicate` holds, polling every 100 ms; rejects after `timeoutMs`. */
export async function waitFor(
  what: string,
  predicate: () => boolean | Promise<boolean>,
  timeoutMs = 120_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Starts `seedcraft up` and resolves once it says it is up (rejects with its output if it exits first). */
export async function startCliWorld(world: TestWorldEnv, extraArgs: string[] = []): Promise<RunningCli> {
  const cli = runCli(["up", ...extraArgs], world.env);
  let exitCode: number | null | undefined;
  void cli.exited.then((code) => {
    exitCode = code;
  });
  await waitFor("seedcraft up", () => {
    if (exitCode !== undefined)
      throw new Error(`seedcraft up exited with ${exitCode}:\n${cli.stdout()}\n${cli.stderr()}`);
    return cli.stdout().includes("Seedcraft is up");
  });
  return cli;
}

export function runFile(world: TestWorldEnv): {
  pid: number;
  parts: Record<string, { pid: number; kind: "task" | "service" }>;
} {
  return JSON.parse(readFileSync(path.join(world.stateDir, "run.json"), "utf8"));
}

export async function portsFree(ports: readonly number[]): Promise<boolean> {
  for (const port of ports) if (!(await isPortFree(port))) return false;
  return true;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Test clean-up: stops a CLI world gracefully, then kills whatever of it is left (process groups). */
export async function stopCliWorld(world: TestWorldEnv, cli: RunningCli): Promise<void> {
  if (cli.child.exitCode === null && cli.child.signalCode === null) {
    cli.child.kill("SIGTERM");
    await Promise.race([cli.exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
  }
  let parts: { pid: number }[] = [];
  try {
    parts = Object.values(runFile(world).parts);
  } catch {
    return; // it never started a part
  }
  for (const { pid } of parts) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

/** The pids of the long-running parts (services) of a CLI world. */
export function servicePids(world: TestWorldEnv): number[] {
  return Object.values(runFile(world).parts)
    .filter((part) => part.kind === "service")
    .map((part) => part.pid);
}
