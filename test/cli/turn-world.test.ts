/**
 * The world's STUN/TURN server as one of its parts, for real: `seedcraft up --only dht,turn,gateway,app` runs
 * Debian's coturn under its supervision with a secret of its own (made in its state folder, mode 0600), and
 * the gateway's hello hands a browser's client TURN REST credentials that coturn accepts for a relay, while
 * wrong, other-secret and expired ones are refused. The secret and the credentials appear in no file or
 * command line others read (seedcraft.json, run.json, argv); coturn killed comes back and takes the same
 * credentials; a client asks for fresh ones when half their life has gone. A local world (no --public-host,
 * or the operator's own --ice-servers) runs no turn part.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { ed25519 } from "@noble/curves/ed25519.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { type AppConfig, followGatewayIceServers } from "../../app/src/config.ts";
import { localAddresses } from "../../cli/host.ts";
import { TURN_SECRET_FILE, turnUrls, worldTurnSecret } from "../../cli/turn.ts";
import { checkTurn, stunBinding, TurnCheckError } from "../../cli/turn-check.ts";
import {
  ALL_PART_NAMES,
  externalAddressOf,
  PART_NAMES,
  publicIceServers,
  ROOT,
  startsTurn,
  World,
} from "../../cli/world.ts";
import type { IceServer } from "../../core/ice-servers.ts";
import { checkTurnCredentials, turnCredentials } from "../../core/turn-credentials.ts";
import { GatewayDht } from "../../p2p/gateway-client.ts";
import { DhtGateway, GATEWAY_TURN_TTL_S, gatewayTurnFromEnv } from "../../p2p/node/gateway.ts";
import { type RunningCli, runFile, startCliWorld, stopCliWorld, testWorldEnv, waitFor } from "../helpers/world.ts";

const BASE = 1000;
const TURN_PORT = BASE + 478;
const RELAY = { min: BASE + 500, max: BASE + 539 };
const NETWORK_FILE = path.join(ROOT, "deployments", "test-turn-world.json");

const refused = (error: unknown) => error instanceof TurnCheckError && error.code === "TURN_AUTH_FAILED";

/** The one entry the world's gateway gives, as a browser's client holds it. */
function turnEntry(servers: IceServer[]): Required<IceServer> & { urls: string[] } {
  assert.equal(servers.length, 1, JSON.stringify(servers));
  const entry = servers[0] as Required<IceServer> & { urls: string[] };
  assert.ok(Array.isArray(entry.urls) && entry.username && entry.credential, JSON.stringify(entry));
  return entry;
}

describe("seedcraft up: the turn part and the gateway's TURN credentials", { timeout: 120_000 }, () => {
  const world = testWorldEnv("turn-world", BASE);
  let cli: RunningCli;
  const clients: GatewayDht[] = [];
  const gatewayUrl = `ws://127.0.0.1:${world.ports.gateway}`;

  before(async () => {
    // The app serves seedcraft.json from a deployment file: any JSON does for what is checked here.
    writeFileSync(NETWORK_FILE, `${JSON.stringify({ note: "test/cli/turn-world.test.ts" })}\n`);
    cli = await startCliWorld(
      {
        ...world,
        env: {
          ...world.env,
          SEEDCRAFT_TURN_PORT: String(TURN_PORT),
          SEEDCRAFT_TURN_RELAY_PORTS: `${RELAY.min}-${RELAY.max}`,
          SEEDCRAFT_NETWORK: "test-turn-world",
          // Whatever the shell had: the world's own secret is the one used.
          SEEDCRAFT_TURN_SECRET: "",
        },
      },
      ["--only", "dht,turn,gateway,app", "--host", "127.0.0.1", "--public-host", "127.0.0.1"],
    );
  });

  after(async () => {
    await Promise.all(clients.map((client) => client.destroy()));
    if (cli) await stopCliWorld(world, cli);
    rmSync(NETWORK_FILE, { force: true });
    rmSync(world.stateDir, { recursive: true, force: true });
  });

  it("hands a browser credentials in the hello that coturn takes for a relay, and refuses bad ones", async () => {
    assert.match(cli.stdout(), new RegExp(`turn .*ready in .* turn:127\\.0\\.0\\.1:${TURN_PORT}\\?transport=udp`));
    const client = await GatewayDht.connect(gatewayUrl);
    clients.push(client);
    const entry = turnEntry(client.iceServers);
    assert.deepEqual(entry.urls, turnUrls("127.0.0.1", TURN_PORT));
    // TURN REST: <expiry>:<key>, good for the gateway's hour.
    const [expiry, key] = entry.username.split(":");
    const ttl = Number(expiry) - Date.now() / 1000;
    assert.ok(ttl > GATEWAY_TURN_TTL_S - 60 && ttl <= GATEWAY_TURN_TTL_S + 1, `ttl ${ttl}`);
    assert.equal(key, bytesToHex(client.publicKey).slice(0, 16));

    const check = await checkTurn({ host: "127.0.0.1", port: TURN_PORT, ...entry });
    assert.equal(check.relayed.address, "127.0.0.1");
    assert.ok(check.relayed.port >= RELAY.min && check.relayed.port <= RELAY.max, `relay port ${check.relayed.port}`);

    // The secret is the world's, kept in its state folder: what coturn checks the credentials against.
    const secret = readFileSync(path.join(world.stateDir, TURN_SECRET_FILE), "utf8").trim();
    assert.equal(checkTurnCredentials(secret, entry.username, entry.credential).ok, true);
    const expired = turnCredentials({ secret, key: "late", ttlSeconds: 60, now: () => Date.now() - 7200_000 });
    const other = turnCredentials({ secret: "not-the-worlds-secret-0123", key: "mallory" });
    for (const bad of [
      {
        username: entry.username,
        credential: `${entry.credential.startsWith("A") ? "B" : "A"}${entry.credential.slice(1)}`,
      },
      { username: `${Number(expiry) + 3600}:${key}`, credential: entry.credential },
      expired,
      other,
    ])
      await assert.rejects(
        checkTurn({ host: "127.0.0.1", port: TURN_PORT, ...bad, timeoutMs: 3000 }),
        refused,
        JSON.stringify(bad),
      );
  });

  it("keeps the secret out of seedcraft.json, run.json and every command line; the file is the user's alone", async () => {
    const file = path.join(world.stateDir, TURN_SECRET_FILE);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const secret = readFileSync(file, "utf8").trim();
    assert.ok(secret.length >= 32);
    const client = await GatewayDht.connect(gatewayUrl);
    clients.push(client);
    const { username, credential } = turnEntry(client.iceServers);

    const response = await fetch(`http://127.0.0.1:${world.ports.app}/seedcraft.json`);
    assert.equal(response.status, 200);
    const served = await response.text();
    const runJson = readFileSync(path.join(world.stateDir, "run.json"), "utf8");
    for (const [name, text] of [
      ["seedcraft.json", served],
      ["run.json", runJson],
    ] as const) {
      assert.ok(!text.includes(secret), `${name} holds the secret`);
      assert.ok(!text.includes(credential) && !text.includes(username), `${name} holds a credential`);
    }
    assert.deepEqual(JSON.parse(served).iceServers, [], "seedcraft.json lists only the operator's servers");
    assert.deepEqual(JSON.parse(runJson).turn, turnUrls("127.0.0.1", TURN_PORT));
    const pids = Object.values(runFile(world).parts).map((part) => part.pid);
    assert.ok(pids.length === 4);
    for (const pid of pids) {
      const commandLine = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      assert.ok(!commandLine.includes(secret), `pid ${pid}: ${commandLine}`);
    }
  });

  it("restarts coturn killed with the same secret: credentials handed out before still get a relay", async () => {
    const client = await GatewayDht.connect(gatewayUrl);
    clients.push(client);
    const before = turnEntry(client.iceServers);
    const pid = runFile(world).parts.turn?.pid as number;
    // The part's whole process group: `seedcraft turn` and its turnserver.
    process.kill(-pid, "SIGKILL");
    await waitFor("turn to be restarted", () => cli.stdout().includes("turn: back up"), 30_000);
    assert.notEqual(runFile(world).parts.turn?.pid, pid);
    await stunBinding("127.0.0.1", TURN_PORT, 2000);
    const check = await checkTurn({ host: "127.0.0.1", port: TURN_PORT, ...before });
    assert.ok(check.relayed.port >= RELAY.min && check.relayed.port <= RELAY.max);
  });

  it("a client asks its gateway for fresh credentials when half their life has gone, and coturn takes those", async () => {
    // A gateway of this world's (its secret and URLs) whose credentials live 4 s.
    const secret = readFileSync(path.join(world.stateDir, TURN_SECRET_FILE), "utf8").trim();
    const gateway = await DhtGateway.start({
      bootstrap: [`127.0.0.1:${world.ports.dht}`],
      turn: { secret, urls: turnUrls("127.0.0.1", TURN_PORT), ttlSeconds: 4 },
    });
    try {
      const client = await GatewayDht.connect(gateway.url);
      clients.push(client);
      const first = turnEntry(client.iceServers);
      let changes = 0;
      client.onIceServers(() => changes++);
      // The app's config list follows it in place, its own servers kept first.
      const own = { urls: "stun:stun.example.org:3478" };
      const config = { iceServers: [own] } as unknown as AppConfig;
      const list = config.iceServers;
      followGatewayIceServers(config, client);
      assert.equal(list.length, 2);
      assert.equal(list[0], own);
      await waitFor("a refresh", () => changes > 0, 6000);
      const second = turnEntry(client.iceServers);
      assert.notEqual(second.username, first.username);
      assert.ok(Number(second.username.split(":")[0]) > Number(first.username.split(":")[0]));
      assert.equal(config.iceServers, list, "the same list, changed in place");
      assert.deepEqual(
        list.map((server) => server.username),
        [undefined, second.username],
      );
      await checkTurn({ host: "127.0.0.1", port: TURN_PORT, ...second });
    } finally {
      await gateway.close();
    }
  });
});

describe("the turn part's wiring", () => {
  it("runs with a public host and none of the operator's servers, or when asked; a local world runs none", () => {
    const stun: IceServer[] = [{ urls: "stun:stun.example.org" }];
    assert.equal(startsTurn({ publicHostGiven: false, iceServers: [] }), false);
    assert.equal(startsTurn({ publicHostGiven: true, iceServers: [] }), true);
    assert.equal(startsTurn({ publicHostGiven: true, iceServers: stun }), false);
    assert.equal(startsTurn({ publicHostGiven: false, iceServers: stun, turn: true }), true);
    assert.ok(!PART_NAMES.includes("turn"));
    assert.deepEqual(new World({ stateDir: "/nonexistent" }).parts, PART_NAMES);
    assert.deepEqual(new World({ stateDir: "/nonexistent" }).turnUrls, []);
    const publicWorld = new World({ stateDir: "/nonexistent", turn: true, publicHost: "play.example.org" });
    assert.deepEqual(publicWorld.parts, ALL_PART_NAMES);
    assert.deepEqual(publicWorld.turnUrls, [
      "stun:play.example.org:3478",
      "turn:play.example.org:3478?transport=udp",
      "turn:play.example.org:3478?transport=tcp",
    ]);
  });

  it("hands players only the operator's ICE servers that carry no credential: seedcraft.json is public", () => {
    const servers: IceServer[] = [
      { urls: "stun:stun.example.org" },
      { urls: "turn:turn.example.org:3478", username: "u", credential: "long-lived" },
      { urls: ["stun:a.example.org", "stun:b.example.org"] },
    ];
    assert.deepEqual(publicIceServers(servers), [servers[0], servers[2]]);
    assert.ok(!JSON.stringify(publicIceServers(servers)).includes("long-lived"));
  });

  it("tells coturn the public address only when it is not this machine's (a 1:1 NAT)", async () => {
    assert.equal(await externalAddressOf("203.0.113.7"), "203.0.113.7");
    assert.equal(await externalAddressOf("127.0.0.1"), undefined);
    assert.equal(await externalAddressOf("localhost"), undefined);
    for (const own of localAddresses()) assert.equal(await externalAddressOf(own), undefined, own);
  });

  it("without coturn, a world with a turn part says how to install it before starting anything", async () => {
    const stateDir = mkdtempSync(path.join(tmpdir(), "seedcraft-turn-missing-"));
    const saved = process.env.SEEDCRAFT_TURNSERVER;
    process.env.SEEDCRAFT_TURNSERVER = "/nonexistent/turnserver";
    try {
      const world = new World({ parts: ["dht", "turn"], stateDir, ports: { dht: BASE + 882, turn: BASE + 479 } });
      await assert.rejects(world.start(), (error: unknown) => {
        assert.equal((error as { code?: string }).code, "TURN_MISSING");
        assert.match((error as Error).message, /apt-get install -y coturn/);
        return true;
      });
      assert.equal(world.pidOf("dht"), undefined, "nothing was started");
    } finally {
      if (saved === undefined) delete process.env.SEEDCRAFT_TURNSERVER;
      else process.env.SEEDCRAFT_TURNSERVER = saved;
      rmSync(stateDir, { recursive: true, force: true });
    }
  });

  it("makes a world's secret once (mode 0600), keeps it, and replaces one that is cut short", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "seedcraft-turn-secret-"));
    const secret = worldTurnSecret(dir);
    assert.equal(worldTurnSecret(dir), secret);
    const file = path.join(dir, TURN_SECRET_FILE);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    writeFileSync(file, "short\n", { mode: 0o644 });
    const fresh = worldTurnSecret(dir);
    assert.ok(fresh.length >= 32 && fresh !== secret);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    rmSync(dir, { recursive: true, force: true });
  });

  it("a gateway refuses TURN settings it cannot use, typed, before it listens", async () => {
    assert.equal(gatewayTurnFromEnv({}), undefined);
    assert.equal(gatewayTurnFromEnv({ SEEDCRAFT_TURN_SECRET: "", SEEDCRAFT_TURN_URLS: "" }), undefined);
    const urls = "turn:127.0.0.1:3478?transport=udp";
    const secret = "a-long-enough-secret-0123";
    assert.deepEqual(gatewayTurnFromEnv({ SEEDCRAFT_TURN_SECRET: secret, SEEDCRAFT_TURN_URLS: urls }), {
      secret,
      urls: [urls],
    });
    const code = (expected: string) => (error: unknown) => (error as { code?: string }).code === expected;
    assert.throws(() => gatewayTurnFromEnv({ SEEDCRAFT_TURN_SECRET: secret }), code("BAD_TURN_SECRET"));
    assert.throws(
      () => gatewayTurnFromEnv({ SEEDCRAFT_TURN_SECRET: "short", SEEDCRAFT_TURN_URLS: urls }),
      code("BAD_TURN_SECRET"),
    );
    assert.throws(
      () => gatewayTurnFromEnv({ SEEDCRAFT_TURN_SECRET: secret, SEEDCRAFT_TURN_URLS: "http://turn.example.org" }),
      code("BAD_ICE_SERVERS"),
    );
    await assert.rejects(
      DhtGateway.start({ bootstrap: [], turn: { secret, urls: ["turn:127.0.0.1:3478"], ttlSeconds: 0 } }),
      code("BAD_TURN_TTL"),
    );
    // Without a TURN server, the hello carries none, and a client has none.
    const gateway = await DhtGateway.start({ bootstrap: [], turn: null });
    try {
      const client = await GatewayDht.connect(gateway.url, ed25519.utils.randomSecretKey());
      assert.deepEqual(client.iceServers, []);
      await client.destroy();
    } finally {
      await gateway.close();
    }
  });
});
