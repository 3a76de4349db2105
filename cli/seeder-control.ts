/**
 * Node-only: how `seedcraft claim` asks a running seeder to claim, instead of opening the receipt log and
 * cache the seeder writes (one writer per directory). The seeder listens on a Unix socket named in its lock
 * file; a request is one JSON line, and the seeder answers with lines of progress and a last `done` line.
 */
import { createHash } from "node:crypto";
import { unlink } from "node:fs/promises";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { SeedcraftError } from "../core/errors.ts";

export type ControlRequest = { t: "claim"; epoch?: number };

export type ControlReply =
  | { t: "line"; text: string }
  | {
      t: "done";
      /** Energy wei earned by this request's claims, as a decimal string. */
      earned: string;
      claimed: number[];
      nothing: number[];
      waiting: number[];
      error?: { code: string; message: string };
    };

export class SeederControlError extends SeedcraftError {
  constructor(message: string, details?: string) {
    super("SEEDER_CONTROL", message, details);
    this.name = "SeederControlError";
  }
}

/** Where a seeder of `dir` listens: in the directory, or in the temp directory when that path is too long for a socket. */
export function controlSocketPath(dir: string): string {
  const inDir = path.join(dir, "seeder.sock");
  if (Buffer.byteLength(inDir) < 100) return inDir;
  return path.join(tmpdir(), `seedcraft-seeder-${createHash("sha256").update(dir).digest("hex").slice(0, 16)}.sock`);
}

/** Serves requests on `socketPath` (a stale socket file is replaced: the caller holds the directory's lock). */
export async function serveSeederControl(
  socketPath: string,
  handle: (request: ControlRequest, reply: (message: ControlReply) => void) => Promise<void>,
): Promise<{ close: () => Promise<void> }> {
  await unlink(socketPath).catch(() => undefined);
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => undefined);
    let buffered = "";
    socket.on("data", (data) => {
      buffered += data.toString("utf8");
      const newline = buffered.indexOf("\n");
      if (newline < 0) return;
      const line = buffered.slice(0, newline);
      buffered = "";
      const reply = (message: ControlReply) => {
        if (!socket.destroyed) socket.write(`${JSON.stringify(message)}\n`);
      };
      let request: ControlRequest;
      try {
        request = JSON.parse(line) as ControlRequest;
        if (request?.t !== "claim") throw new Error("unknown request");
      } catch {
        reply({
          t: "done",
          earned: "0",
          claimed: [],
          nothing: [],
          waiting: [],
          error: { code: "BAD", message: "bad request" },
        });
        socket.end();
        return;
      }
      void handle(request, reply).finally(() => socket.end());
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(socketPath, () => resolve());
  });
  return {
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await unlink(socketPath).catch(() => undefined);
    },
  };
}

/** Sends `request` to the seeder at `socketPath`; each progress line goes to `onLine`; resolves with its `done`. */
export async function askSeeder(
  socketPath: string,
  request: ControlRequest,
  onLine: (text: string) => void,
): Promise<Extract<ControlReply, { t: "done" }>> {
  return await new Promise((resolve, reject) => {
    const socket = createConnection(socketPath);
    let buffered = "";
    let done: Extract<ControlReply, { t: "done" }> | undefined;
    socket.on("connect", () => socket.write(`${JSON.stringify(request)}\n`));
    socket.on("data", (data) => {
      buffered += data.toString("utf8");
      for (let newline = buffered.indexOf("\n"); newline >= 0; newline = buffered.indexOf("\n")) {
        const message = JSON.parse(buffered.slice(0, newline)) as ControlReply;
        buffered = buffered.slice(newline + 1);
        if (message.t === "line") onLine(message.text);
        else done = message;
      }
    });
    socket.on("error", (error) =>
      reject(new SeederControlError(`Could not reach the seeder at ${socketPath}.`, error.message)),
    );
    socket.on("close", () =>
      done ? resolve(done) : reject(new SeederControlError("The seeder closed the connection before it was done.")),
    );
  });
}
