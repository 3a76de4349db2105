/**
 * The world's TURN server (cli/turn.ts) with Debian's real coturn on loopback, asked by cli/turn-check.ts as
 * ICE would ask it: TURN REST credentials get a relay in the bounded range; wrong, expired and other-secret
 * ones are refused typed; a second server on its port, a missing coturn and bad options fail before anything
 * starts; stop() ends it, frees the port and removes its files.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { TurnServer, turn, turnserverConfig } from "../../cli/turn.ts";
import { checkTurn, stunBinding, TurnCheckError } from "../../cli/turn-check.ts";
import { isUdpPortFree } from "../../cli/world.ts";
import { turnCredentials } from "../../core/turn-credentials.ts";

const PORT = 9_478;
const RELAY = { min: 9_500, max: 9_539 };
const SECRET = "loopback-turn-secret-0123456789";

const isTurnError = (code: string) => (error: unknown) => error instanceof TurnCheckError && error.code === code;

describe("cli/turn.ts: coturn on loopback", () => {
  let server: TurnServer;

  before(async () => {
    server = await TurnServer.start({ host: "127.0.0.1", port: PORT, secret: SECRET, relayPorts: RELAY });
  });
  after(async () => {
    await server?.stop();
  });

  it("answers STUN, and gives TURN REST credentials a relay port in the bounded range", async () => {
    assert.equal((await stunBinding("127.0.0.1", PORT)).address, "127.0.0.1");
    const credentials = turnCredentials({ secret: SECRET, key: "alice" });
    const check = await checkTurn({ host: "127.0.0.1", port: PORT, ...credentials });
    assert.equal(check.relayed.address, "127.0.0.1");
    assert.ok(check.relayed.port >= RELAY.min && check.relayed.port <= RELAY.max, `relay port ${check.relayed.port}`);
    assert.deepEqual(server.urls("turn.example.org"), {
      stun: `stun:turn.example.org:${PORT}`,
      turn: `turn:turn.example.org:${PORT}?transport=udp`,
    });
  });

  it("refuses a wrong password, another secret's credentials and expired ones: TURN_AUTH_FAILED at once", async () => {
    const good = turnCredentials({ secret: SECRET, key: "bob" });
    const other = turnCredentials({ secret: "some-other-shared-secret", key: "bob" });
    const expired = turnCredentials({ secret: SECRET, key: "bob", ttlSeconds: 60, now: () => Date.now() - 120_000 });
    for (const [username, credential] of [
      [good.username, `${good.credential}x`],
      [other.username, other.credential],
      [expired.username, expired.credential],
      ["bob", "a plain password"],
    ] as const) {
      const started = performance.now();
      await assert.rejects(checkTurn({ host: "127.0.0.1", port: PORT, username, credential }), (error: unknown) => {
        assert.ok(isTurnError("TURN_AUTH_FAILED")(error), String(error));
        assert.match((error as Error).message, new RegExp(`127\\.0\\.0\\.1:${PORT} refused the credentials`));
        return true;
      });
      assert.ok(performance.now() - started < 2000);
    }
  });

  it("a port nobody serves is TURN_UNREACHABLE in well under a second (the host says refused)", async () => {
    const started = performance.now();
    await assert.rejects(
      checkTurn({ host: "127.0.0.1", port: PORT + 1, username: "a", credential: "b" }),
      isTurnError("TURN_UNREACHABLE"),
    );
    assert.ok(performance.now() - started < 1000);
    // A name with no address is unreachable too, within the check's deadline whatever the resolver does.
    const lookup = performance.now();
    await assert.rejects(
      checkTurn({ host: "no-such-turn.invalid", port: PORT, username: "a", credential: "b", timeoutMs: 3000 }),
      isTurnError("TURN_UNREACHABLE"),
    );
    assert.ok(performance.now() - lookup < 3500);
  });

  it("a second server on its port fails PORT_TAKEN and leaves the first serving", async () => {
    await assert.rejects(
      TurnServer.start({ host: "127.0.0.1", port: PORT, secret: SECRET, relayPorts: { min: 9_540, max: 9_549 } }),
      (error: unknown) => (error as { code?: string }).code === "PORT_TAKEN",
    );
    assert.equal((await stunBinding("127.0.0.1", PORT)).address, "127.0.0.1");
  });

  it("keeps the secret in a config file only its user reads, never on the command line", () => {
    const config = path.join(path.dirname(server.logFile), "turnserver.conf");
    assert.equal(statSync(config).mode & 0o777, 0o600);
    assert.match(readFileSync(config, "utf8"), new RegExp(`^static-auth-secret=${SECRET}$`, "m"));
    const commandLine = readFileSync(`/proc/${server.pid}/cmdline`, "utf8");
    assert.ok(!commandLine.includes(SECRET), commandLine);
  });
});

describe("cli/turn.ts: options and stop", () => {
  it("denies relaying into private ranges, except the one the server sits in; loopback only for a loopback server", () => {
    const dir = "/tmp/x";
    const lines = (host: string, extra = {}) =>
      turnserverConfig({ host, port: 3478, secret: SECRET, ...extra }, dir).split("\n");
    const publicServer = lines("198.18.0.1", { externalIp: "203.0.113.7" });
    for (const range of ["10.0.0.0-10.255.255.255", "192.168.0.0-192.168.255.255", "172.16.0.0-172.31.255.255"])
      assert.ok(publicServer.includes(`denied-peer-ip=${range}`), range);
    assert.ok(publicServer.includes("external-ip=203.0.113.7/198.18.0.1"));
    assert.ok(!publicServer.includes("allow-loopback-peers"));
    assert.ok(publicServer.includes("no-tls") && publicServer.includes("use-auth-secret"));
    assert.ok(publicServer.includes(`pidfile=${dir}/turnserver.pid`));
    const lanServer = lines("192.168.1.5");
    assert.ok(!lanServer.includes("denied-peer-ip=192.168.0.0-192.168.255.255"));
    assert.ok(lanServer.includes("denied-peer-ip=10.0.0.0-10.255.255.255"));
    assert.ok(lines("127.0.0.1").includes("allow-loopback-peers"));
    assert.ok(!lines("0.0.0.0").some((line) => line.startsWith("listening-ip=")));
  });

  it("refuses bad options with a usage error before starting anything", async () => {
    for (const options of [
      { host: "localhost" },
      { host: "127.0.0.1", secret: "short" },
      { host: "127.0.0.1", secret: "a secret with spaces in it" },
      { host: "127.0.0.1", port: 70_000 },
      { host: "127.0.0.1", port: 9_560, relayPorts: { min: 9_550, max: 9_570 } },
      { host: "127.0.0.1", relayPorts: { min: 80, max: 90 } },
      { host: "127.0.0.1", realm: "bad realm" },
      { host: "127.0.0.1", externalIp: "turn.example.org" },
    ])
      await assert.rejects(
        TurnServer.start({ secret: SECRET, port: 51_560, ...options }),
        (error: unknown) => (error as { code?: string }).code === "USAGE",
        JSON.stringify(options),
      );
    const secret = process.env.SEEDCRAFT_TURN_SECRET;
    delete process.env.SEEDCRAFT_TURN_SECRET;
    await assert.rejects(turn(["--host", "127.0.0.1"]), (error: unknown) => {
      assert.equal((error as { code?: string }).code, "USAGE");
      assert.match((error as Error).message, /SEEDCRAFT_TURN_SECRET/);
      return true;
    });
    // seedcraft turn checks its --host as every part does: an address of another machine starts nothing.
    process.env.SEEDCRAFT_TURN_SECRET = SECRET;
    try {
      await assert.rejects(
        turn(["--host", "198.18.0.1", "--port", "9560"]),
        (error: unknown) => (error as { code?: string }).code === "HOST_NOT_LOCAL",
      );
    } finally {
      if (secret === undefined) delete process.env.SEEDCRAFT_TURN_SECRET;
      else process.env.SEEDCRAFT_TURN_SECRET = secret;
    }
  });

  it("says how to install coturn when it is missing", async () => {
    await assert.rejects(
      TurnServer.start({ host: "127.0.0.1", port: 51_560, secret: SECRET, turnserver: "/nonexistent/turnserver" }),
      (error: unknown) => {
        assert.equal((error as { code?: string }).code, "TURN_MISSING");
        assert.match((error as { details?: string }).details ?? "", /apt-get install -y coturn/);
        return true;
      },
    );
  });

  it("stop() ends coturn, frees its port and removes its files; twice is fine", async () => {
    const server = await TurnServer.start({ host: "127.0.0.1", port: 51_560, secret: SECRET, relayPorts: RELAY });
    const dir = path.dirname(server.logFile);
    const pid = server.pid as number;
    assert.ok(existsSync(dir));
    await Promise.all([server.stop(), server.stop()]);
    await server.stop();
    assert.ok(!existsSync(`/proc/${pid}`) || readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z"));
    assert.ok(!existsSync(dir));
    assert.ok(await isUdpPortFree(51_560, "127.0.0.1"));
    await assert.rejects(stunBinding("127.0.0.1", 51_560, 1000), isTurnError("TURN_UNREACHABLE"));
  });
});
