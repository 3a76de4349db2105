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

/** `ping` asks whether the seeder answers at all (`seedcraft claim` asks before it moves the chain's clock). */
export type ControlRequest = { t: "claim"; epoch?: number } | { t: "ping" };

type Done = {
  t: "done";
  /** Energy wei earned by this request's claims, as a decimal string. */
  earned: string;
  claimed: number[];
  nothing: number[];
  waiting: number[];
  error?: { code: string; message: string };
};

export type ControlReply = { t: "line"; text: string } | { t: "pong"; pid: number } | Done;

/** The longest request the seeder reads, newline included: a request is a short JSON line. */
export const MAX_REQUEST_BYTES = 4096;
/** How long a connection may take to send its request. */
const REQUEST_TIMEOUT_MS = 10_000;

export class SeederControlError extends SeedcraftError {
  constructor(message: string, details?: string, code = "SEEDER_CONTROL") {
    super(code, message, details);
    this.name = "SeederControlError";
  }
}

/** A request the seeder will not act on: it is answered with this error, and nothing is done. */
export class BadControlRequestError extends SeederControlError {
  constructor(message: string, details?: string) {
    super(message, details, "BAD_CONTROL_REQUEST");
    this.name = "BadControlRequestError";
  }
}

/** Decodes one request line; throws BadControlRequestError for anything but a well-formed request. */
export function parseControlRequest(line: string): ControlRequest {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    throw new BadControlRequestError("the request is not JSON", (error as Error).message);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new BadControlRequestError("the request is not a JSON object");
  const { t, epoch, ...rest } = value as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) throw new BadControlRequestError(`unknown fields in the request: ${unknown.join(", ")}`);
  if (t === "ping" && epoch === undefined) return { t: "ping" };
  if (t !== "claim") throw new BadControlRequestError(`unknown request ${JSON.stringify(t)}`);
  if (epoch === undefined) return { t: "claim" };
  if (typeof epoch !== "number" || !Number.isSafeInteger(epoch) || epoch < 0)
    throw new BadControlRequestError(`epoch must be a non-negative whole number, got ${JSON.stringify(epoch)}`);
  return { t: "claim", epoch };
}

function failed(error: { code: string; message: string }): Done {
  return { t: "done", earned: "0", claimed: [], nothing: [], waiting: [], error };
}

/** Where a seeder of `dir` listens: in the directory, or in the temp directory when that path is too long for a socket. */
export function controlSocketPath(dir: string): string {
  const inDir = path.join(dir, "seeder.sock");
  if (Buffer.byteLength(inDir) < 100) return inDir;
  return path.join(tmpdir(), `seedcraft-seeder-${createHash("sha256").update(dir).digest("hex").slice(0, 16)}.sock`);
}

/**
 * Serves requests on `socketPath` (a stale socket file is replaced: the caller holds the directory's lock).
 * One request per connection, one line of at most MAX_REQUEST_BYTES: a longer one, a bad one, or more than one
 * is answered with a BAD_CONTROL_REQUEST error and closed, nothing done; `ping` is answered here.
 */
export async function serveSeederControl(
  socketPath: string,
  handle: (request: Extract<ControlRequest, { t: "claim" }>, reply: (message: ControlReply) => void) => Promise<void>,
): Promise<{ close: () => Promise<void> }> {
  await unlink(socketPath).catch(() => undefined);
  const sockets = new Set<Socket>();
  // Half-open: a client may end its side after the request and still read the answer.
  const server: Server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => undefined);
    const reply = (message: ControlReply) => {
      if (socket.writable) socket.write(`${JSON.stringify(message)}\n`);
    };
    const refuse = (error: SeederControlError) => {
      reply(failed({ code: error.code, message: error.message }));
      socket.end();
    };
    let chunks: Buffer[] = [];
    let size = 0;
    let taken = false;
    let toldIgnored = false;
    socket.setTimeout(REQUEST_TIMEOUT_MS, () => {
      if (!taken) refuse(new BadControlRequestError(`no request within ${REQUEST_TIMEOUT_MS / 1000} s`));
    });
    socket.on("data", (data: Buffer) => {
      if (taken) {
        // The request is being answered: more is not another request, and the client hears so (once).
        if (!toldIgnored && data.toString("utf8").trim() !== "") {
          toldIgnored = true;
          reply({ t: "line", text: "ignored what followed the request: one request per connection" });
        }
        return;
      }
      chunks.push(data);
      size += data.length;
      const buffered = Buffer.concat(chunks);
      chunks = [buffered];
      const newline = buffered.indexOf(0x0a);
      if (newline < 0 ? size >= MAX_REQUEST_BYTES : newline + 1 > MAX_REQUEST_BYTES) {
        taken = true;
        refuse(new BadControlRequestError(`a request is one line of at most ${MAX_REQUEST_BYTES} bytes`));
        return;
      }
      if (newline < 0) return;
      taken = true;
      chunks = [];
      socket.setTimeout(0);
      let request: ControlRequest;
      try {
        if (
          buffered
            .subarray(newline + 1)
            .toString("utf8")
            .trim() !== ""
        )
          throw new BadControlRequestError("one request per connection: open another connection for the next one");
        request = parseControlRequest(buffered.subarray(0, newline).toString("utf8"));
      } catch (error) {
        refuse(error as SeederControlError);
        return;
      }
      if (request.t === "ping") {
        reply({ t: "pong", pid: process.pid });
        socket.end();
        return;
      }
      void handle(request, reply)
        .catch((error: Error & { code?: string }) =>
          reply(failed({ code: error.code ?? "CLAIM_FAILED", message: error.message })),
        )
        .finally(() => socket.end());
    });
  });
  // Each claim request queues a claim round: a few clients at once is all a seeder needs.
  server.maxConnections = 16;
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

/** Whether the seeder at `socketPath` answers; resolves with its pid, or throws SeederControlError. */
export async function pingSeeder(socketPath: string, timeoutMs = 3000): Promise<number> {
  return await new Promise((resolve, reject) => {
    const socket = createConnection(socketPath);
    let buffered = "";
    socket.setTimeout(timeoutMs, () => {
      socket.destroy();
      reject(new SeederControlError(`The seeder at ${socketPath} did not answer within ${timeoutMs / 1000} s.`));
    });
    socket.on("connect", () => socket.write(`${JSON.stringify({ t: "ping" })}\n`));
    socket.on("data", (data) => {
      buffered += data.toString("utf8");
      const newline = buffered.indexOf("\n");
      if (newline < 0) return;
      socket.destroy();
      let message: ControlReply | undefined;
      try {
        message = JSON.parse(buffered.slice(0, newline)) as ControlReply;
      } catch {
        message = undefined;
      }
      if (message?.t === "pong") resolve(message.pid);
      else
        reject(
          new SeederControlError(`The seeder at ${socketPath} did not answer a ping.`, buffered.slice(0, newline)),
        );
    });
    socket.on("error", (error) =>
      reject(new SeederControlError(`Could not reach the seeder at ${socketPath}.`, error.message)),
    );
    socket.on("close", () => reject(new SeederControlError(`The seeder at ${socketPath} closed without answering.`)));
  });
}

/** Sends `request` to the seeder at `socketPath`; each progress line goes to `onLine`; resolves with its `done`. */
export async function askSeeder(
  socketPath: string,
  request: ControlRequest,
  onLine: (text: string) => void,
): Promise<Done> {
  return await new Promise((resolve, reject) => {
    const socket = createConnection(socketPath);
    let buffered = "";
    let done: Done | undefined;
    socket.on("connect", () => socket.write(`${JSON.stringify(request)}\n`));
    socket.on("data", (data) => {
      buffered += data.toString("utf8");
      for (let newline = buffered.indexOf("\n"); newline >= 0; newline = buffered.indexOf("\n")) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        let message: ControlReply;
        try {
          message = JSON.parse(line) as ControlReply;
        } catch {
          socket.destroy(new Error(`not a reply: ${line.slice(0, 200)}`));
          return;
        }
        if (message.t === "line") onLine(message.text);
        else if (message.t === "done") done = message;
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
