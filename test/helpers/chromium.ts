/** Where the real Chromium binary is (Debian's package), and joining the app from it, for browser tests. Node-only. */
import { existsSync } from "node:fs";
import type { Page } from "playwright-core";
import type { Session } from "../../app/src/session.ts";
import { waitFor } from "./world.ts";

// Debian's /usr/bin/chromium is a wrapper script that Playwright cannot drive: launch the binary itself.
const CANDIDATES = ["/usr/lib/chromium/chromium", "/usr/bin/chromium"];

export const INSTALL_COMMAND = "apt-get update && apt-get install -y chromium";

export function chromiumPath(): string | undefined {
  const fromEnv = process.env.SEEDCRAFT_CHROMIUM;
  if (fromEnv) return existsSync(fromEnv) ? fromEnv : undefined;
  return CANDIDATES.find((candidate) => existsSync(candidate));
}

/** Flags for headless runs on a machine with no network but loopback. */
export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--allow-loopback-in-peer-connection",
  "--use-fake-device-for-media-stream",
  "--use-fake-ui-for-media-stream",
];

/**
 * On a page showing the app: waits for the world, connects the local dev account (once per browser
 * context: a reload reconnects by itself) and waits until the player has joined.
 */
export async function joinWithDevAccount(page: Page): Promise<void> {
  await page.locator('[data-testid="world-canvas"][data-world-ready="true"]').waitFor({ timeout: 60_000 });
  const connect = page.getByTestId("connect-dev-account");
  if (await connect.isVisible()) await connect.click();
  await page.locator('[data-testid="join-status"][data-state="joined"]').waitFor({ timeout: 60_000 });
}

/** What the app puts on `window` (app/src/main.tsx): its composition root. */
export type SeedcraftWindow = { seedcraft: { session: Session } };

/** Runs `fn` in the app's page with its session (fn is serialized: it sees only its argument). */
export function inApp<A, R>(page: Page, fn: (session: Session, arg: A) => R | Promise<R>, arg: A): Promise<R> {
  return page.evaluate(
    ([source, value]) => {
      const session = (window as unknown as SeedcraftWindow).seedcraft.session;
      const run = new Function("session", "arg", `return (${source})(session, arg);`);
      return run(session, value);
    },
    [fn.toString(), arg] as const,
  ) as Promise<R>;
}

/**
 * The page's wall clock (timeOrigin + now) minus ours, from `samples` reads: the one with the shortest round
 * trip, and half that round trip as its uncertainty.
 */
export async function pageClockOffset(
  page: Page,
  samples: number,
): Promise<{ offsetMs: number; uncertaintyMs: number }> {
  let best = { offsetMs: 0, uncertaintyMs: Number.POSITIVE_INFINITY };
  for (let i = 0; i < samples; i++) {
    const before = performance.timeOrigin + performance.now();
    const theirs = await page.evaluate(() => performance.timeOrigin + performance.now());
    const after = performance.timeOrigin + performance.now();
    if ((after - before) / 2 < best.uncertaintyMs)
      best = { offsetMs: theirs - (before + after) / 2, uncertaintyMs: (after - before) / 2 };
  }
  return best;
}

/**
 * Waits until the player's newest own edit, as the HUD's edit list shows it, is anchored (up to `timeoutMs`),
 * and says where: its chunk and the version it was anchored in.
 */
export async function newestOwnEditAnchored(
  page: Page,
  timeoutMs = 60_000,
): Promise<{ chunkId: bigint; version: number }> {
  const newest = page.locator('[data-testid="edit-status"][data-own="true"]').first();
  await waitFor(
    "the player's new edit to be anchored",
    async () => (await newest.getAttribute("data-state")) === "anchored",
    timeoutMs,
  );
  return {
    chunkId: BigInt((await newest.getAttribute("data-chunk-id")) ?? "-1"),
    version: Number(await newest.getAttribute("data-version")),
  };
}
