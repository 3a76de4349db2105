/**
 * Running a command again in a child Node process with V8 flags that only take effect at start-up (heap
 * sizes). The child shares the terminal; signals and, under a parent with an IPC channel, messages are
 * passed through both ways, and its exit code becomes ours.
 */
import { spawn } from "node:child_process";
import os from "node:os";

/** Whether this process was started with `flag` (by name, whatever its value). */
export function startedWith(flag: string): boolean {
  return process.execArgv.some((arg) => arg === flag || arg.startsWith(`${flag}=`));
}

export function relaunchWith(flags: string[]): Promise<number> {
  const ipc = typeof process.send === "function";
  const child = spawn(process.execPath, [...flags, ...process.execArgv, ...process.argv.slice(1)], {
    stdio: ipc ? ["inherit", "inherit", "inherit", "ipc"] : "inherit",
  });
  const onMessage = (message: unknown) => {
    if (child.connected) child.send(message as object);
  };
  if (ipc) {
    child.on("message", (message) => {
      if (process.connected) process.send?.(message);
    });
    process.on("message", onMessage);
  }
  // The child stops on the first signal and ignores repeats (a terminal sends Ctrl-C to both of us).
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  process.on("SIGINT", forward);
  process.on("SIGTERM", forward);
  return new Promise((resolve) => {
    child.once("exit", (code, signal) => {
      process.off("SIGINT", forward);
      process.off("SIGTERM", forward);
      process.off("message", onMessage);
      if (ipc) process.disconnect?.();
      resolve(code ?? 128 + (signal ? (os.constants.signals[signal] ?? 0) : 0));
    });
  });
}
