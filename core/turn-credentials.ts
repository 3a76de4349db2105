/**
 * Short-lived TURN credentials by the TURN REST scheme (coturn's `use-auth-secret`): the username is
 * `<expiry in unix seconds>:<key>` and the password base64(HMAC-SHA1(secret, username)). Whoever holds the
 * shared secret (the world's gateway) mints them; the TURN server checks them with the same secret, so no
 * long-lived password is ever handed to a browser or written into seedcraft.json.
 */
import { hmac } from "@noble/hashes/hmac.js";
import { sha1 } from "@noble/hashes/legacy.js";
import { SeedcraftError } from "./errors.ts";
import type { IceServer } from "./ice-servers.ts";

/** Six hours: a play session; a client asks again (a new hello) once half of it has gone. */
export const DEFAULT_TURN_TTL_S = 6 * 3600;
/** A week: longer-lived credentials are passwords in all but name. */
export const MAX_TURN_TTL_S = 7 * 24 * 3600;
/** A shared secret shorter than this can be guessed from one username and password pair. */
export const MIN_TURN_SECRET_LENGTH = 16;
/** What a key may be: the part after the colon, so never a colon itself (coturn splits the username there). */
const KEY = /^[A-Za-z0-9._@+-]{1,128}$/;

export type TurnCredentials = {
  /** `<expiry>:<key>`: what RTCIceServer calls `username`. */
  username: string;
  /** base64(HMAC-SHA1(secret, username)): RTCIceServer's `credential`. */
  credential: string;
  /** When the TURN server stops taking them, in unix seconds. */
  expiresAt: number;
};

export class TurnCredentialsError extends SeedcraftError {
  constructor(code: "BAD_TURN_SECRET" | "BAD_TURN_KEY" | "BAD_TURN_TTL", message: string, details?: string) {
    super(code, message, details);
    this.name = "TurnCredentialsError";
  }
}

function checkSecret(secret: unknown): asserts secret is string {
  if (typeof secret !== "string" || secret.length < MIN_TURN_SECRET_LENGTH)
    throw new TurnCredentialsError(
      "BAD_TURN_SECRET",
      `The TURN shared secret must be a string of at least ${MIN_TURN_SECRET_LENGTH} characters.`,
      typeof secret === "string" ? `it has ${secret.length}` : `got ${typeof secret}`,
    );
}

function base64(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** The password the TURN server expects for `username`: base64(HMAC-SHA1(secret, username)). */
export function turnPassword(secret: string, username: string): string {
  checkSecret(secret);
  const encoder = new TextEncoder();
  return base64(hmac(sha1, encoder.encode(secret), encoder.encode(username)));
}

export type TurnCredentialsOptions = {
  /** The secret the TURN server was started with (`static-auth-secret`). */
  secret: string;
  /** Who they are for (a player's address, a session id): the TURN server logs it, and quotas may count it. */
  key: string;
  /** How long they are good for, in seconds. Default DEFAULT_TURN_TTL_S. */
  ttlSeconds?: number;
  /** The clock, in ms (injected: tests use a fake one). Default Date.now. */
  now?: () => number;
};

/** Mints credentials good for `ttlSeconds` from now. Bad input throws TurnCredentialsError. */
export function turnCredentials(options: TurnCredentialsOptions): TurnCredentials {
  checkSecret(options.secret);
  if (typeof options.key !== "string" || !KEY.test(options.key))
    throw new TurnCredentialsError(
      "BAD_TURN_KEY",
      "A TURN credentials key is 1 to 128 letters, digits or . _ @ + - (no colon).",
      `got ${JSON.stringify(options.key)}`,
    );
  const ttl = options.ttlSeconds ?? DEFAULT_TURN_TTL_S;
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_TURN_TTL_S)
    throw new TurnCredentialsError(
      "BAD_TURN_TTL",
      `TURN credentials live from 1 s to ${MAX_TURN_TTL_S} s (a week).`,
      `got ${String(ttl)}`,
    );
  const expiresAt = Math.floor((options.now ?? Date.now)() / 1000) + ttl;
  const username = `${expiresAt}:${options.key}`;
  return { username, credential: turnPassword(options.secret, username), expiresAt };
}

export type TurnCredentialsCheck =
  | { ok: true; expiresAt: number; key: string }
  | { ok: false; reason: "malformed" | "expired" | "wrong-password" };

/** What the TURN server decides for a username and password: the same rule, for tests and for the gateway. */
export function checkTurnCredentials(
  secret: string,
  username: string,
  credential: string,
  now: () => number = Date.now,
): TurnCredentialsCheck {
  const match = /^(\d{1,12}):(.+)$/.exec(username);
  if (!match) return { ok: false, reason: "malformed" };
  const expiresAt = Number(match[1]);
  if (turnPassword(secret, username) !== credential) return { ok: false, reason: "wrong-password" };
  if (expiresAt * 1000 <= now()) return { ok: false, reason: "expired" };
  return { ok: true, expiresAt, key: match[2] as string };
}

/** RTCIceServer entries for TURN `urls` with these credentials (STUN URLs among them need none but take them). */
export function turnIceServer(urls: string[], credentials: TurnCredentials): IceServer {
  return { urls, username: credentials.username, credential: credentials.credential };
}
