import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { IceServersError, parseIceServers, parseIceServersJson } from "../../core/ice-servers.ts";

const bad = (details: RegExp) => (error: unknown) =>
  error instanceof IceServersError && error.code === "BAD_ICE_SERVERS" && details.test(error.message);

describe("ICE servers", () => {
  it("takes STUN and TURN servers in RTCIceServer form, keeping only their fields", () => {
    const servers = parseIceServersJson(
      JSON.stringify([
        { urls: "stun:198.18.0.1:3478" },
        {
          urls: ["turn:turn.example.org?transport=tcp", "turns:[2001:db8::1]:5349"],
          username: "1700000000:k",
          credential: "pw",
        },
        { urls: "stun:stun.example.org" },
      ]),
    );
    assert.deepEqual(servers, [
      { urls: "stun:198.18.0.1:3478" },
      {
        urls: ["turn:turn.example.org?transport=tcp", "turns:[2001:db8::1]:5349"],
        username: "1700000000:k",
        credential: "pw",
      },
      { urls: "stun:stun.example.org" },
    ]);
    // The result is usable as the DOM's RTCIceServer list.
    const config: RTCConfiguration = { iceServers: servers };
    assert.equal(config.iceServers?.length, 3);
  });

  it("reads nothing as none", () => {
    assert.deepEqual(parseIceServersJson(undefined), []);
    assert.deepEqual(parseIceServersJson("  "), []);
    assert.deepEqual(parseIceServersJson("[]"), []);
  });

  it("refuses what is not a list of ICE servers, naming the source and the entry", () => {
    const cases: [string, RegExp][] = [
      ["stun:x", /SEEDCRAFT_ICE_SERVERS is not a list of ICE servers[\s\S]*not JSON/],
      ['{"urls":"stun:x"}', /not a JSON list/],
      ['["stun:x"]', /entry 0 is not an object/],
      ['[{"urls":"http://x"}]', /entry 0: "http:\/\/x" has the scheme http:, not stun:, turn: or turns:/],
      ['[{"url":"stun:x"}]', /entry 0 has unknown fields url/],
      ['[{"urls":[]}]', /entry 0: urls must be a URL or a list of 1 to 8/],
      ['[{"urls":""}]', /a URL is a non-empty string/],
      ['[{"urls":"stun:"}]', /"stun:" is not stun:host/],
      ['[{"urls":"stun:a b"}]', /is not stun:host/],
      ['[{"urls":"stun:x:70000"}]', /no valid port/],
      ['[{"urls":"stun:x?transport=tcp"}]', /a stun: URL takes no \?transport/],
      [
        '[{"urls":"stun:x"},{"urls":"turn:x:3478"}]',
        /entry 1: a turn: or turns: server needs a username and a credential/,
      ],
      ['[{"urls":"turns:x","username":"u"}]', /needs a username and a credential/],
      ['[{"urls":"turn:x","username":"u","credential":7}]', /credential must be a string/],
      [JSON.stringify(Array.from({ length: 17 }, () => ({ urls: "stun:x" }))), /17 servers, at most 16/],
    ];
    for (const [text, details] of cases) assert.throws(() => parseIceServersJson(text), bad(details), text);
  });

  it("names seedcraft.json's field when the app's list is bad", () => {
    assert.throws(
      () => parseIceServers([{ urls: "ftp:x" }], "seedcraft.json's iceServers"),
      (error: unknown) =>
        error instanceof IceServersError &&
        error.source === "seedcraft.json's iceServers" &&
        /seedcraft\.json's iceServers is not a list of ICE servers/.test(error.message),
    );
  });
});
