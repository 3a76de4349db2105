/** The seeder directory lock with real processes: concurrent starters get one winner; stale locks are taken over. */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { lockFreeSeederDir, lockSeederDir, SeederBusyError, seederIn } from "../../cli/seeder-lock.ts";

const root = mkdtempSync(path.join(tmpdir(), "seedcraft-lock-"));
const children: ChildProcess[] = [];
after(() => {
  for (const child of children) child.kill();
  rmSync(root, { recursive: true, force: true });
});
const lockModule = path.resolve(import.meta.dirname, "../../cli/seeder-lock.ts");

/** A process that, on a line on stdin, tries `lockFreeSeederDir` (or `lockSeederDir` with a dir) and prints the outcome, then holds. */
function starter(how: "dir" | "free", where: string) {
  const script = `
    import { lockFreeSeederDir, lockSeederDir } from ${JSON.stringify(lockModule)};
    process.stdin.once("data", async () => {
      try {
        const lock = await (${JSON.stringify(how)} === "dir" ? lockSeederDir : lockFreeSeederDir)(${JSON.stringify(where)}, { pid: process.pid });
        console.log("won " + lock.dir);
      } catch (error) { console.log("lost " + error.code); }
    });`;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["pipe", "pipe", "inherit"] });
  children.push(child);
  const outcome = new Promise<string>((resolve) => child.stdout.once("data", (data) => resolve(String(data).trim())));
  return { child, outcome };
}

/** A pid that no process has any more. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", ""]);
  await new Promise((resolve) => child.once("exit", resolve));
  return child.pid as number;
}

test("four starters locking one folder at the same moment: exactly one wins, the rest are refused", async () => {
  for (let round = 0; round < 3; round++) {
    const dir = path.join(root, `race-${round}`);
    // A stale lock in the folder too: every starter tries to take it over at once.
    if (round > 0) {
      rmSync(dir, { recursive: true, force: true });
      await lockSeederDir(dir, { pid: await deadPid() });
    }
    const starters = Array.from({ length: 4 }, () => starter("dir", dir));
    // Node takes a while to start: every child is given the go only once all have started.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    for (const s of starters) s.child.stdin?.write("go\n");
    const outcomes = await Promise.all(starters.map((s) => s.outcome));
    assert.equal(outcomes.filter((o) => o.startsWith("won")).length, 1, outcomes.join(", "));
    assert.equal(outcomes.filter((o) => o === "lost SEEDER_BUSY").length, 3, outcomes.join(", "));
    const winner = starters[outcomes.findIndex((o) => o.startsWith("won"))];
    assert.equal((await seederIn(dir))?.pid, winner?.child.pid);
    for (const s of starters) s.child.kill();
  }
});

test("two default starters at the same moment take different folders", async () => {
  const stateDir = path.join(root, "state");
  const starters = [starter("free", stateDir), starter("free", stateDir)];
  await new Promise((resolve) => setTimeout(resolve, 1500));
  for (const s of starters) s.child.stdin?.write("go\n");
  const outcomes = (await Promise.all(starters.map((s) => s.outcome))).sort();
  assert.deepEqual(outcomes, [`won ${path.join(stateDir, "seeder")}`, `won ${path.join(stateDir, "seeder-2")}`]);
  for (const s of starters) s.child.kill();
});

test("a lock of a dead pid is taken over; a live one refuses; release removes only its own", async () => {
  const dir = path.join(root, "stale");
  await lockSeederDir(dir, { pid: await deadPid() });
  assert.equal(await seederIn(dir), undefined);
  const lock = await lockSeederDir(dir, { pid: process.pid, autoClaim: true });
  assert.equal((await seederIn(dir))?.pid, process.pid);
  // The control socket is named by an update once it listens, read whole.
  await lock.update({ pid: process.pid, autoClaim: true, control: "/tmp/x.sock" });
  assert.equal((await seederIn(dir))?.control, "/tmp/x.sock");
  const live = process.ppid;
  await assert.rejects(lockSeederDir(dir, { pid: live }), SeederBusyError);
  // Someone else's lock now in the file: this seeder's release leaves it.
  writeFileSync(path.join(dir, "seeder.lock"), `${JSON.stringify({ pid: live })}\n`);
  await lock.release();
  assert.equal(JSON.parse(readFileSync(path.join(dir, "seeder.lock"), "utf8")).pid, live);
});

test("lockFreeSeederDir passes over a folder a live seeder holds", async () => {
  const stateDir = path.join(root, "busy-state");
  await lockSeederDir(path.join(stateDir, "seeder"), { pid: process.ppid });
  const lock = await lockFreeSeederDir(stateDir, { pid: process.pid });
  assert.equal(lock.dir, path.join(stateDir, "seeder-2"));
  await lock.release();
  assert.equal(await seederIn(lock.dir), undefined);
});
