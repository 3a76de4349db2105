/**
 * Node-only: a store's directory belongs to one world (core/deployment.ts `worldKeyOf`). `<dir>/world.json`
 * names it; opening the directory for another world empties it first, so another world's snapshots or
 * receipts are never read. A directory with data and no name (written before stores knew their world, or by
 * a store opened without one, as tests do) is taken as this world's and named.
 */
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import createDebug from "debug";

const debug = createDebug("seedcraft:world-dir");

const WORLD_FILE = "world.json";

/** The world a store belongs to, and where a line saying that another world's data was removed goes. */
export type WorldOptions = { world?: string; log?: (line: string) => void };

/** The world `dir` holds data of, or undefined (no name, or none readable). */
export async function worldOfDir(dir: string): Promise<string | undefined> {
  try {
    const saved = JSON.parse(await readFile(join(dir, WORLD_FILE), "utf8")) as { world?: unknown };
    return typeof saved.world === "string" ? saved.world : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Makes `dir` the store of `world`: creates it, or empties it when it holds another world's data (saying so
 * through `log`, by default under DEBUG=seedcraft:world-dir), then names the world in it. Resolves with the world
 * whose data was removed, if any.
 */
export async function claimDirForWorld(
  dir: string,
  world: string,
  log: (line: string) => void = debug,
): Promise<{ removed: string | undefined }> {
  await mkdir(dir, { recursive: true });
  const held = await worldOfDir(dir);
  let removed: string | undefined;
  if (held !== world) {
    const names = (await readdir(dir)).filter((name) => name !== WORLD_FILE);
    if (held !== undefined && names.length > 0) {
      removed = held;
      log(`${dir} held data of world ${held}, not of this world ${world}: removed it`);
      for (const name of names) await rm(join(dir, name), { recursive: true, force: true });
    }
    const temp = join(dir, `${WORLD_FILE}.${process.pid}.tmp`);
    await writeFile(temp, `${JSON.stringify({ world })}\n`);
    await rename(temp, join(dir, WORLD_FILE));
  }
  return { removed };
}
