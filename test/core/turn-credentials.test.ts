import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  checkTurnCredentials,
  DEFAULT_TURN_TTL_S,
  MAX_TURN_TTL_S,
  TurnCredentialsError,
  turnCredentials,
  turnIceServer,
  turnPassword,
} from "../../core/turn-credentials.ts";

const SECRET = "a-very-long-shared-secret";

describe("TURN REST credentials", () => {
  it("username is <expiry>:<key> and password base64(HMAC-SHA1(secret, username)) (known answer)", () => {
    // Computed apart with Python's hmac: base64(hmac.new(secret, username, sha1).digest()).
    const credentials = turnCredentials({
      secret: SECRET,
      key: "alice",
      ttlSeconds: 21_600,
      now: () => 1_700_000_000_000,
    });
    assert.deepEqual(credentials, {
      username: "1700021600:alice",
      credential: "5zCsIckW8YoSGvRoB1rpMVb66+M=",
      expiresAt: 1_700_021_600,
    });
    assert.equal(turnPassword("north-wind-secret-0123", "86400:0xabc"), "SvMEPGJhsp7q2u4jyILri5gcXqQ=");
  });

  it("matches node:crypto's HMAC-SHA1 for any secret, key and clock (property)", () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 16, maxLength: 80 }),
        fc.stringMatching(/^[A-Za-z0-9._@+-]{1,40}$/),
        fc.integer({ min: 0, max: 4_000_000_000_000 }),
        fc.integer({ min: 1, max: MAX_TURN_TTL_S }),
        (secret, key, nowMs, ttlSeconds) => {
          const { username, credential, expiresAt } = turnCredentials({ secret, key, ttlSeconds, now: () => nowMs });
          assert.equal(expiresAt, Math.floor(nowMs / 1000) + ttlSeconds);
          assert.equal(username, `${expiresAt}:${key}`);
          assert.equal(credential, createHmac("sha1", secret).update(username).digest("base64"));
        },
      ),
    );
  });

  it("lasts DEFAULT_TURN_TTL_S by default, and the check takes them until then and not after", () => {
    let now = 1_000_000_000_000;
    const clock = () => now;
    const credentials = turnCredentials({ secret: SECRET, key: "0xPlayer", now: clock });
    assert.equal(credentials.expiresAt, 1_000_000_000 + DEFAULT_TURN_TTL_S);
    assert.deepEqual(checkTurnCredentials(SECRET, credentials.username, credentials.credential, clock), {
      ok: true,
      expiresAt: credentials.expiresAt,
      key: "0xPlayer",
    });
    now = credentials.expiresAt * 1000 - 1;
    assert.equal(checkTurnCredentials(SECRET, credentials.username, credentials.credential, clock).ok, true);
    now = credentials.expiresAt * 1000;
    assert.deepEqual(checkTurnCredentials(SECRET, credentials.username, credentials.credential, clock), {
      ok: false,
      reason: "expired",
    });
  });

  it("the check refuses another secret's password, a changed username and a malformed one", () => {
    const clock = () => 0;
    const credentials = turnCredentials({ secret: SECRET, key: "bob", now: clock });
    const other = turnCredentials({ secret: "another-long-shared-secret", key: "bob", now: clock });
    assert.deepEqual(checkTurnCredentials(SECRET, other.username, other.credential, clock), {
      ok: false,
      reason: "wrong-password",
    });
    const longer = `${credentials.expiresAt + 3600}:bob`;
    assert.deepEqual(checkTurnCredentials(SECRET, longer, credentials.credential, clock), {
      ok: false,
      reason: "wrong-password",
    });
    assert.deepEqual(checkTurnCredentials(SECRET, "bob", credentials.credential, clock), {
      ok: false,
      reason: "malformed",
    });
  });

  it("refuses a short or missing secret, a bad key and a bad lifetime with typed errors", () => {
    const expect = (code: string, make: () => unknown) =>
      assert.throws(make, (error: unknown) => error instanceof TurnCredentialsError && error.code === code);
    expect("BAD_TURN_SECRET", () => turnCredentials({ secret: "short", key: "a" }));
    expect("BAD_TURN_SECRET", () => turnCredentials({ secret: undefined as unknown as string, key: "a" }));
    expect("BAD_TURN_SECRET", () => turnPassword("", "1:a"));
    for (const key of ["", "a:b", "a b", "é", "x".repeat(129)])
      expect("BAD_TURN_KEY", () => turnCredentials({ secret: SECRET, key }));
    for (const ttlSeconds of [0, -1, 1.5, MAX_TURN_TTL_S + 1, Number.NaN])
      expect("BAD_TURN_TTL", () => turnCredentials({ secret: SECRET, key: "a", ttlSeconds }));
  });

  it("makes an RTCIceServer entry", () => {
    const credentials = turnCredentials({ secret: SECRET, key: "a", now: () => 0 });
    assert.deepEqual(turnIceServer(["turn:198.18.0.1:3478"], credentials), {
      urls: ["turn:198.18.0.1:3478"],
      username: credentials.username,
      credential: credentials.credential,
    });
  });
});
