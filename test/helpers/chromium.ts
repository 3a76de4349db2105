/** Where the real Chromium binary is (Debian's package), for browser tests. Node-only. */
import { existsSync } from "node:fs";

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
