/**
 * A real, throwaway Postgres server for tests (Debian's `postgresql` package): its own data directory
 * and port on 127.0.0.1, started and stopped by the test. Node-only.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";

export const POSTGRES_INSTALL_COMMAND = "apt-get update && apt-get install -y --no-install-recommends postgresql";

/** The directory of Debian's Postgres binaries (initdb, postgres), newest version first; undefined if none. */
export function postgresBinDir(): string | undefined {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => /^\d+$/.test(v))
    .sort((a, b) => Number(b) - Number(a));
  for (const version of versions) {
    const dir = path.join(root, version, "bin");
    if (existsSync(path.join(dir, "initdb")) && existsSync(path.join(dir, "postgres"))) return dir;
  }
  return undefined;
}

export type TestPostgres = { url: string; stop: () => Promise<void> };

/** Postgres refuses to run as root: as root, run it as the `postgres` system user the package creates. */
function asServerUser(command: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0 ? ["runuser", ["-u", "postgres", "--", command, ...args]] : [command, args];
}

async function accepting(port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const socket = net.connect({ port, host: "127.0.0.1" }, () => {
      socket.end();
      resolve(true);
    });
    socket.on("error", () => resolve(false));
  });
}

/** Initializes a cluster in a temporary directory and starts it on `port`; trust auth, user `seedcraft`. */
export async function startPostgres(port: number): Promise<TestPostgres> {
  const bin = postgresBinDir();
  if (!bin) throw new Error(`Postgres is missing: ${POSTGRES_INSTALL_COMMAND}`);
  const dir = mkdtempSync(path.join(tmpdir(), "seedcraft-pg-"));
  chmodSync(dir, 0o777);
  const data = path.join(dir, "data");
  const [initCommand, initArgs] = asServerUser(path.join(bin, "initdb"), [
    "-D",
    data,
    "-A",
    "trust",
    "-U",
    "seedcraft",
    "--no-sync",
  ]);
  const init = spawnSync(initCommand, initArgs, { encoding: "utf8" });
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr || init.stdout}`);
  const [command, args] = asServerUser(path.join(bin, "postgres"), [
    "-D",
    data,
    "-p",
    String(port),
    "-k",
    dir,
    "-c",
    "listen_addresses=127.0.0.1",
    "-c",
    "fsync=off",
  ]);
  const server: ChildProcess = spawn(command, args, { stdio: "ignore", detached: true });
  const deadline = Date.now() + 30_000;
  while (!(await accepting(port))) {
    if (server.exitCode !== null) throw new Error(`postgres exited with ${server.exitCode}`);
    if (Date.now() > deadline) throw new Error("postgres did not accept connections within 30 s");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url: `postgres://seedcraft@127.0.0.1:${port}/postgres`,
    async stop() {
      if (server.pid !== undefined && server.exitCode === null) {
        const exited = new Promise((resolve) => server.once("exit", resolve));
        process.kill(-server.pid, "SIGINT"); // fast shutdown
        await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
