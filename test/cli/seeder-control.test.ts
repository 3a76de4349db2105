/** The seeder's control socket against real Unix sockets: one bounded, checked request per connection, and ping. */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import {
  type ControlReply,
  type ControlRequest,
  MAX_REQUEST_BYTES,
  pingSeeder,
  SeederControlError,
  serveSeederControl,
} from "../../cli/seeder-control.ts";

const dir = mkdtempSync(path.join(tmpdir(), "seedcraft-control-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

/** A control server whose claims are recorded and answered after `holdMs`. */
async function server(holdMs = 0) {
  const socketPath = path.join(dir, `s${n++}.sock`);
  const handled: ControlRequest[] = [];
  const control = await serveSeederControl(socketPath, async (request, reply) => {
    handled.push(request);
    await new Promise((resolve) => setTimeout(resolve, holdMs));
    reply({ t: "done", earned: "0", claimed: [], nothing: [], waiting: [] });
  });
  return { socketPath, handled, close: control.close };
}

/** Sends `chunks` (each written on its own, `gapMs` apart) and collects every reply until the server closes. */
async function exchange(socketPath: string, chunks: (string | Buffer)[], gapMs = 0): Promise<ControlReply[]> {
  return await new Promise((resolve, reject) => {
    const socket = createConnection(socketPath);
    let text = "";
    socket.on("connect", async () => {
      for (const chunk of chunks) {
        if (socket.destroyed) return;
        socket.write(chunk);
        if (gapMs) await new Promise((wait) => setTimeout(wait, gapMs));
      }
    });
    socket.on("data", (data) => {
      text += data.toString("utf8");
    });
    socket.on("error", (error: NodeJS.ErrnoException) => {
      // The server may close on an oversized request while the client still writes.
      if (error.code !== "EPIPE" && error.code !== "ECONNRESET") reject(error);
    });
    socket.on("close", () =>
      resolve(
        text
          .split("\n")
          .filter(Boolean)
          .map((line) => JSON.parse(line) as ControlReply),
      ),
    );
  });
}

const lastError = (replies: ControlReply[]) => {
  const done = replies.at(-1);
  assert.equal(done?.t, "done");
  return done.t === "done" ? done.error : undefined;
};

test("a request longer than the cap without a newline is refused and closed, nothing handled", async () => {
  const s = await server();
  const replies = await exchange(s.socketPath, ["x".repeat(MAX_REQUEST_BYTES), "y".repeat(MAX_REQUEST_BYTES)]);
  assert.equal(lastError(replies)?.code, "BAD_CONTROL_REQUEST");
  assert.match(lastError(replies)?.message ?? "", /at most 4096 bytes/);
  assert.deepEqual(s.handled, []);
  await s.close();
});

test("an over-long request line is refused even with its newline", async () => {
  const s = await server();
  const line = `${JSON.stringify({ t: "claim", pad: "p".repeat(MAX_REQUEST_BYTES) })}\n`;
  const replies = await exchange(s.socketPath, [line]);
  assert.equal(lastError(replies)?.code, "BAD_CONTROL_REQUEST");
  assert.deepEqual(s.handled, []);
  await s.close();
});

test("two requests in one write are refused, neither handled", async () => {
  const s = await server();
  const replies = await exchange(s.socketPath, ['{"t":"claim"}\n{"t":"claim"}\n']);
  assert.equal(lastError(replies)?.code, "BAD_CONTROL_REQUEST");
  assert.match(lastError(replies)?.message ?? "", /one request per connection/);
  assert.deepEqual(s.handled, []);
  await s.close();
});

test("a later line on the same connection queues no second claim and is said to be ignored", async () => {
  const s = await server(150);
  const replies = await exchange(s.socketPath, ['{"t":"claim"}\n', '{"t":"claim"}\n', '{"t":"claim"}\n'], 30);
  assert.deepEqual(s.handled, [{ t: "claim" }]);
  assert.ok(replies.some((reply) => reply.t === "line" && /one request per connection/.test(reply.text)));
  assert.equal(lastError(replies), undefined);
  await s.close();
});

test("a request split over several writes is read whole", async () => {
  const s = await server();
  const replies = await exchange(s.socketPath, ['{"t":"cl', 'aim","epo', 'ch":7}\n'], 20);
  assert.deepEqual(s.handled, [{ t: "claim", epoch: 7 }]);
  assert.equal(lastError(replies), undefined);
  await s.close();
});

for (const epoch of [-1, 1.5, "3", 2 ** 53, null, true])
  test(`epoch ${JSON.stringify(epoch)} is refused with a clear error, nothing handled`, async () => {
    const s = await server();
    const replies = await exchange(s.socketPath, [`${JSON.stringify({ t: "claim", epoch })}\n`]);
    assert.equal(lastError(replies)?.code, "BAD_CONTROL_REQUEST");
    assert.match(lastError(replies)?.message ?? "", /epoch must be a non-negative whole number/);
    assert.deepEqual(s.handled, []);
    await s.close();
  });

test("unknown requests, unknown fields and non-JSON are refused", async () => {
  const s = await server();
  for (const line of ['{"t":"stop"}', '{"t":"claim","all":true}', "claim", "[1]"]) {
    const replies = await exchange(s.socketPath, [`${line}\n`]);
    assert.equal(lastError(replies)?.code, "BAD_CONTROL_REQUEST", line);
  }
  assert.deepEqual(s.handled, []);
  await s.close();
});

test("ping is answered with the seeder's pid, without a claim", async () => {
  const s = await server();
  assert.equal(await pingSeeder(s.socketPath), process.pid);
  assert.deepEqual(s.handled, []);
  await s.close();
});

test("ping of a socket nobody listens on fails with SeederControlError", async () => {
  const s = await server();
  await s.close();
  await assert.rejects(pingSeeder(s.socketPath, 1000), SeederControlError);
  await assert.rejects(pingSeeder(path.join(dir, "never.sock"), 1000), SeederControlError);
});
