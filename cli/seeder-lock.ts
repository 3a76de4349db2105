/**
 * Node-only: a seeder directory's lock, `<dir>/seeder.lock` (one seeder per directory: its cache and receipt
 * log have one writer). The lock names the seeder's pid and, once it listens, its control socket. It is
 * created whole and exclusively (a written file hard-linked into place, which fails when a lock exists), so
 * two seeders started together never both win; a lock whose pid is dead is removed under a takeover file and
 * the exclusive create tried again.
 */
import { randomBytes } from "node:crypto";
import { link, mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { SeedcraftError } from "../core/errors.ts";
import { UsageError } from "./errors.ts";

/** What a running seeder's lock file says: its pid, and where it answers `seedcraft claim`. */
export type RunningSeeder = { pid: number; control?: string; autoClaim?: boolean };

/** Another process runs as the seeder of a directory: a refusal in one line, not a usage error. */
export class SeederBusyError extends SeedcraftError {
  constructor(dir: string, pid: number) {
    super(
      "SEEDER_BUSY",
      `a seeder (pid ${pid}) already runs in ${dir}: give this one another --cache, or leave --cache out to get a free one`,
    );
    this.name = "SeederBusyError";
  }
}

const LOCK = "seeder.lock";
/** A takeover file older than this was left by a starter that died while taking a stale lock over. */
const TAKEOVER_STALE_MS = 5000;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The lock file's contents: "missing" when there is none, undefined when it does not name a pid. */
async function readLock(file: string): Promise<RunningSeeder | "missing" | undefined> {
  let text: string;
  try {
    text = (await readFile(file, "utf8")).trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return "missing";
    throw error;
  }
  try {
    // Older seeders wrote the pid alone.
    const saved = (text.startsWith("{") ? JSON.parse(text) : { pid: Number(text) }) as RunningSeeder;
    return Number.isInteger(saved.pid) && saved.pid > 0 ? saved : undefined;
  } catch {
    return undefined;
  }
}

/** The seeder running in `dir`, if one does (its lock file names a live pid). */
export async function seederIn(dir: string): Promise<RunningSeeder | undefined> {
  const saved = await readLock(path.join(dir, LOCK)).catch(() => undefined);
  return typeof saved === "object" && alive(saved.pid) ? saved : undefined;
}

/** `lock` written whole to a file of its own beside the lock, to be linked or renamed into place. */
async function writtenAside(dir: string, lock: RunningSeeder): Promise<string> {
  const file = path.join(dir, `${LOCK}.${lock.pid}.${randomBytes(4).toString("hex")}`);
  await writeFile(file, `${JSON.stringify(lock)}\n`, { flag: "wx" });
  return file;
}

/**
 * Removes the lock at `file` if it is stale (its pid dead or its own), under `<file>.takeover`: without that,
 * two starters could both see the stale lock and the slower one remove the faster one's fresh lock.
 */
async function removeStale(file: string, pid: number): Promise<void> {
  const takeover = `${file}.takeover`;
  try {
    await writeFile(takeover, `${pid}\n`, { flag: "wx" });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    const since = await stat(takeover).then(
      (info) => Date.now() - info.mtimeMs,
      () => 0,
    );
    if (since > TAKEOVER_STALE_MS) await rm(takeover, { force: true });
    else await sleep(10);
    return;
  }
  try {
    // A missing lock is left alone: a starter may be linking a fresh one in right now.
    const holder = await readLock(file);
    if (holder === undefined || (holder !== "missing" && (holder.pid === pid || !alive(holder.pid))))
      await rm(file, { force: true });
  } finally {
    await rm(takeover, { force: true });
  }
}

export type SeederLock = {
  dir: string;
  /** Rewrites the lock (atomically: a reader sees the old one or the new one), e.g. to name the control socket. */
  update: (lock: RunningSeeder) => Promise<void>;
  /** Removes the lock, if it is still this seeder's. */
  release: () => Promise<void>;
};

/** Takes `dir` for the seeder `lock` names; throws SeederBusyError when a live seeder holds it. */
export async function lockSeederDir(dir: string, lock: RunningSeeder): Promise<SeederLock> {
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, LOCK);
  const aside = await writtenAside(dir, lock);
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        await link(aside, file);
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      }
      const holder = await readLock(file);
      if (typeof holder === "object" && holder.pid !== lock.pid && alive(holder.pid))
        throw new SeederBusyError(dir, holder.pid);
      if (attempt >= 500) throw new SeedcraftError("SEEDER_LOCK", `could not take the seeder lock ${file}`);
      if (holder !== "missing") await removeStale(file, lock.pid);
    }
  } finally {
    await rm(aside, { force: true });
  }
  return {
    dir,
    update: async (next) => {
      const written = await writtenAside(dir, next);
      await rename(written, file);
    },
    release: async () => {
      const holder = await readLock(file).catch(() => undefined);
      if (typeof holder === "object" && holder.pid === lock.pid) await rm(file, { force: true });
    },
  };
}

/** Locks `<state>/seeder`, or when a live seeder holds it, the first free `<state>/seeder-<n>`. */
export async function lockFreeSeederDir(stateDir: string, lock: RunningSeeder): Promise<SeederLock> {
  const first = path.resolve(stateDir, "seeder");
  for (let n = 1; n < 100; n++) {
    try {
      return await lockSeederDir(n === 1 ? first : `${first}-${n}`, lock);
    } catch (error) {
      if (!(error instanceof SeederBusyError)) throw error;
    }
  }
  throw new UsageError(`99 seeders already run in ${stateDir}: give --cache`);
}
