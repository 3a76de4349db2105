/**
 * Vite config for the Seedcraft dApp; app/ is the Vite root (`vite --config app/vite.config.ts` from the repo).
 *
 * The app reads every address and ABI from `seedcraft.json` next to index.html:
 * - `vite` (dev) and `vite preview` serve it from deployments/<SEEDCRAFT_NETWORK or localhost>.json, read fresh
 *   per request, with SEEDCRAFT_RPC_URL, SEEDCRAFT_INDEXER_URL, SEEDCRAFT_GATEWAY_URLS, SEEDCRAFT_TRACKERS and
 *   SEEDCRAFT_ICE_SERVERS (503 with a JSON error until the deploy wrote it).
 * - `vite build` makes a static site in app/dist: put a `seedcraft.json` of the same shape,
 *   `{ "deployment": {…}, "rpcUrl": "…", "indexerUrl": "…", "gateways": ["ws://…"], "trackers": ["ws://…"],
 *   "iceServers": [{ "urls": "stun:…" }] }`, next to its index.html when you host it.
 * The server listens on SEEDCRAFT_APP_HOST (127.0.0.1) and answers requests naming SEEDCRAFT_PUBLIC_HOST.
 */
import { readFile } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig, type Plugin } from "vite";
import { parseIceServersJson } from "../core/ice-servers.ts";

const APP_DIR = path.dirname(fileURLToPath(import.meta.url));
const REPO_DIR = path.resolve(APP_DIR, "..");
const DEPLOYMENTS_DIR = path.join(REPO_DIR, "deployments");

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.statusCode = status;
  res.setHeader("content-type", "application/json");
  res.setHeader("cache-control", "no-store");
  res.end(JSON.stringify(body));
}

/** Serves GET /seedcraft.json: the deployment file (read per request, so a redeploy needs no restart) and the URLs. */
function seedcraftConfig(): Plugin {
  const network = process.env.SEEDCRAFT_NETWORK ?? "localhost";
  const rpcUrl = process.env.SEEDCRAFT_RPC_URL ?? "http://127.0.0.1:8545";
  const indexerUrl = process.env.SEEDCRAFT_INDEXER_URL ?? "http://127.0.0.1:42069";
  const list = (value: string | undefined, fallback: string) =>
    (value ?? fallback)
      .split(",")
      .map((item) => item.trim())
      .filter(Boolean);
  const gateways = list(process.env.SEEDCRAFT_GATEWAY_URLS, "ws://127.0.0.1:6880");
  const trackers = list(process.env.SEEDCRAFT_TRACKERS, "ws://127.0.0.1:6969");
  // Checked at start: a bad list stops the server with the parser's typed error rather than reach players.
  const iceServers = parseIceServersJson(process.env.SEEDCRAFT_ICE_SERVERS);

  async function handle(req: IncomingMessage, res: ServerResponse, next: () => void): Promise<void> {
    if (req.method !== "GET" && req.method !== "HEAD") return next();
    if (!/^[a-zA-Z0-9_-]+$/.test(network))
      return sendJson(res, 500, { error: `bad SEEDCRAFT_NETWORK ${JSON.stringify(network)}` });
    const file = path.join(DEPLOYMENTS_DIR, `${network}.json`);
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch {
      return sendJson(res, 503, {
        error: "no deployment yet",
        details: `deployments/${network}.json does not exist: deploy first (npm start, or npm run deploy:localhost)`,
      });
    }
    let deployment: unknown;
    try {
      deployment = JSON.parse(text);
    } catch (error) {
      return sendJson(res, 503, { error: "deployment file is not JSON", details: (error as Error).message });
    }
    sendJson(res, 200, { deployment, rpcUrl, indexerUrl, gateways, trackers, iceServers });
  }

  const middleware = (req: IncomingMessage, res: ServerResponse, next: () => void) => {
    handle(req, res, next).catch((error: unknown) => sendJson(res, 500, { error: String(error) }));
  };
  return {
    name: "seedcraft-config",
    configureServer(server) {
      server.middlewares.use("/seedcraft.json", middleware);
    },
    configurePreviewServer(server) {
      server.middlewares.use("/seedcraft.json", middleware);
    },
  };
}

const port = Number(process.env.SEEDCRAFT_APP_PORT ?? 5173);
const host = process.env.SEEDCRAFT_APP_HOST || "127.0.0.1";
// Vite answers only requests naming localhost or an IP address (DNS rebinding): a public name is let in.
const publicHost = process.env.SEEDCRAFT_PUBLIC_HOST;
const allowedHosts = publicHost ? [publicHost] : [];

export default defineConfig({
  root: APP_DIR,
  // Relative asset URLs: the static build works from any path it is hosted under.
  base: "./",
  plugins: [seedcraftConfig()],
  resolve: {
    // simple-peer's own browser bundle: its sources need Node's Buffer, process and streams.
    alias: [
      { find: /^simple-peer$/, replacement: "simple-peer/simplepeer.min.js" },
      // WebTorrent's own browser bundle: its sources need Node's process, global and path.
      { find: /^webtorrent$/, replacement: "webtorrent/dist/webtorrent.min.js" },
    ],
  },
  oxc: { jsx: { runtime: "automatic" } },
  server: {
    host,
    allowedHosts,
    port,
    strictPort: true,
    // The app imports ../core.
    fs: { allow: [REPO_DIR] },
  },
  preview: { host, allowedHosts, port, strictPort: true },
  worker: { format: "es" },
  build: {
    outDir: path.join(APP_DIR, "dist"),
    emptyOutDir: true,
    target: "es2023",
    // three.js alone is ~560 kB minified.
    chunkSizeWarningLimit: 600,
    rolldownOptions: {
      output: {
        // Libraries change less often than the game: separate chunks cache better.
        codeSplitting: {
          groups: [
            { name: "three", test: /node_modules[\\/]three[\\/]/ },
            { name: "wallet", test: /node_modules[\\/](viem|wagmi|@wagmi|ox|abitype|@noble|@scure|@tanstack)[\\/]/ },
            { name: "react", test: /node_modules[\\/](react|react-dom|scheduler)[\\/]/ },
          ],
        },
      },
      // React libraries mark client components with "use client"; meaningless in a client-only bundle.
      onLog(level, log, handler) {
        if (log.code === "MODULE_LEVEL_DIRECTIVE") return;
        handler(level, log);
      },
    },
  },
});
