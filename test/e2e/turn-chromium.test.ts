/**
 * Chromium takes the TURN servers a world's gateway hands out, as the app passes them on: the entry the
 * hello carries (stun:, turn: over UDP and over TCP, one short-lived TURN REST username and credential) gets
 * relay candidates from the world's coturn through both transports, with only relay candidates allowed, and
 * the same entry with a wrong credential gets none (a 401, within seconds, never a hang).
 * The gateway and coturn are the real ones, on loopback; the gateway client is the browser's own code, run
 * under Node to fetch the entry the page then uses.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { type Browser, chromium, type Page } from "playwright-core";
import { TurnServer, turnUrls } from "../../cli/turn.ts";
import type { IceServer } from "../../core/ice-servers.ts";
import { GatewayDht } from "../../p2p/gateway-client.ts";
import { WorldDht } from "../../p2p/node/dht.ts";
import { DhtGateway } from "../../p2p/node/gateway.ts";
import { CHROMIUM_ARGS, chromiumPath, INSTALL_COMMAND } from "../helpers/chromium.ts";

// Apart from test/cli/turn-world.test.ts's (57xxx) and test/cli/turn.test.ts's (51xxx) coturn.
const TURN_PORT = 5_478;
const RELAY = { min: 5_500, max: 5_539 };
const SECRET = "chromium-turn-test-secret-0123456789";

type Gathered = {
  candidates: { candidate: string; relayProtocol: string | undefined }[];
  errors: { code: number; url: string; text: string }[];
  ms: number;
};

/** In the page: a connection allowed only relay candidates, gathered to the end (10 s at most). */
async function gatherRelays(page: Page, iceServers: IceServer[]): Promise<Gathered> {
  return await page.evaluate(async (servers) => {
    const started = performance.now();
    const pc = new RTCPeerConnection({ iceServers: servers, iceTransportPolicy: "relay" });
    const gathered: Gathered = { candidates: [], errors: [], ms: 0 };
    pc.onicecandidate = (event) => {
      if (event.candidate)
        gathered.candidates.push({
          candidate: event.candidate.candidate,
          relayProtocol: (event.candidate as RTCIceCandidate & { relayProtocol?: string }).relayProtocol,
        });
    };
    pc.onicecandidateerror = (event) => {
      const error = event as RTCPeerConnectionIceErrorEvent;
      gathered.errors.push({ code: error.errorCode, url: error.url, text: error.errorText });
    };
    pc.createDataChannel("seedcraft");
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 10_000);
      const done = () => {
        if (pc.iceGatheringState !== "complete") return;
        clearTimeout(timer);
        resolve();
      };
      pc.onicegatheringstatechange = done;
      done();
    });
    pc.close();
    gathered.ms = performance.now() - started;
    return gathered;
  }, iceServers);
}

describe("Chromium with the gateway's TURN credentials", { timeout: 90_000 }, () => {
  let browser: Browser;
  let page: Page;
  let turn: TurnServer;
  let bootstrap: WorldDht;
  let gateway: DhtGateway;
  let client: GatewayDht;

  before(async () => {
    const executablePath = chromiumPath();
    if (!executablePath) throw new Error(`Chromium is missing: ${INSTALL_COMMAND}`);
    turn = await TurnServer.start({ host: "127.0.0.1", port: TURN_PORT, secret: SECRET, relayPorts: RELAY });
    bootstrap = await WorldDht.start({ bootstrap: false });
    gateway = await DhtGateway.start({
      bootstrap: [`${bootstrap.address.host}:${bootstrap.address.port}`],
      turn: { secret: SECRET, urls: turnUrls("127.0.0.1", TURN_PORT) },
    });
    client = await GatewayDht.connect(gateway.url);
    browser = await chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS });
    page = await (await browser.newContext()).newPage();
  });

  after(async () => {
    await browser?.close();
    await client?.destroy();
    await gateway?.close();
    await bootstrap?.destroy();
    await turn?.stop();
  });

  it("gets relay candidates from coturn over UDP and TCP with the hello's entry", async () => {
    const servers = client.iceServers;
    assert.equal(servers.length, 1);
    const gathered = await gatherRelays(page, servers);
    const relays = gathered.candidates.filter(({ candidate }) => / typ relay /.test(candidate));
    assert.ok(relays.length >= 1, JSON.stringify(gathered));
    for (const { candidate } of relays) {
      const [, address, port] = / udp \d+ (\S+) (\d+) typ relay/.exec(candidate) ?? [];
      assert.equal(address, "127.0.0.1", candidate);
      assert.ok(Number(port) >= RELAY.min && Number(port) <= RELAY.max, candidate);
    }
    assert.equal(gathered.candidates.length, relays.length, "nothing but relays");
    // One allocation through TURN over UDP and one over TCP (Chromium names the latter's relayProtocol).
    assert.ok(relays.length >= 2, JSON.stringify(relays));
    if (relays.some((relay) => relay.relayProtocol))
      assert.ok(
        relays.some((relay) => relay.relayProtocol === "tcp"),
        JSON.stringify(relays),
      );
    assert.deepEqual(gathered.errors, []);
  });

  it("gets none with a wrong credential: a 401 from coturn, within seconds", async () => {
    const [entry] = client.iceServers as [IceServer];
    const credential = `${entry.credential?.startsWith("A") ? "B" : "A"}${entry.credential?.slice(1)}`;
    const gathered = await gatherRelays(page, [{ ...entry, credential }]);
    assert.deepEqual(
      gathered.candidates.filter(({ candidate }) => / typ relay /.test(candidate)),
      [],
      JSON.stringify(gathered),
    );
    assert.ok(
      gathered.errors.some((error) => error.code === 401),
      JSON.stringify(gathered.errors),
    );
    assert.ok(gathered.ms < 10_000, `${gathered.ms} ms`);
  });
});
