#!/usr/bin/env node
/**
 * `seedcraft`: the command line of the local world.
 *   seedcraft up [--only chain,deploy,indexer,app --host a --public-host h --ice-servers json --block-time s]
 *                                                    start the local world (what `npm start` runs)
 *   seedcraft reset                                  forget local chain state (indexer data, deployments)
 *   seedcraft peer [--at x,z --walk r --edits-per-s n]  a headless player (cli/peer.ts)
 *   seedcraft seed [--at x,z --up 2M ...]           the headless seeder (cli/seed.ts)
 *   seedcraft claim [--epoch n --advance-time]       claim energy for the seeder's receipts (cli/claim.ts)
 *   seedcraft dht [--port 6881]                      a DHT bootstrap node for local peers
 *   seedcraft gateway [--port 6880]                  the DHT gateway for browsers
 *   seedcraft tracker [--port 6969]                  the WebSocket tracker
 *   seedcraft turn [--port 3478]                     the world's STUN/TURN server (coturn; cli/turn.ts)
 *   seedcraft app-config --network n --rpc … --indexer … --gateway … --tracker …
 *                                                    seedcraft.json for the static app (cli/app-config.ts)
 */
import { rm } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import pg from "pg";
import { BaseError, HttpRequestError } from "viem";
import { SeedcraftError } from "../core/errors.ts";
import { APP_CONFIG_HELP, appConfig } from "./app-config.ts";
import { CLAIM_HELP, claim } from "./claim.ts";
import { PartFailedError, ResetError, UsageError } from "./errors.ts";
import { publicHostOf } from "./host.ts";
import {
  DHT_HELP,
  dht,
  GATEWAY_HELP,
  gateway,
  hostFlag,
  iceServersFlag,
  PEER_HELP,
  peer,
  TRACKER_HELP,
  tracker,
} from "./peer.ts";
import { SEED_HELP, seed } from "./seed.ts";
import { TURN_HELP, turn } from "./turn.ts";
import {
  ALL_PART_NAMES,
  isBlockTime,
  MAX_BLOCK_TIME_S,
  MIN_BLOCK_TIME_S,
  type PartName,
  type PartProgress,
  type PartRestart,
  publicIceServers,
  ROOT,
  startsTurn,
  World,
} from "./world.ts";

const HELP = `Usage: seedcraft <command> [options]

Commands:
  up       Start the local world (on 127.0.0.1 unless --host): chain, deploy, indexer, DHT, gateway, tracker, a seeder, app.
           --only <parts>         comma-separated subset of: ${ALL_PART_NAMES.join(", ")}
           --host <address>       the address every part binds (SEEDCRAFT_HOST; 127.0.0.1; 0.0.0.0 for all)
           --public-host <name>   the name or address put in the URLs the app and peers are given
                                  (SEEDCRAFT_PUBLIC_HOST; the --host)
           --ice-servers <json>   STUN/TURN servers for the seeder and the app's seedcraft.json,
                                  [{"urls":"stun:…"},{"urls":"turn:…","username":…,"credential":…}]
                                  (SEEDCRAFT_ICE_SERVERS; none)
           --turn                 run the world's own STUN/TURN server (coturn) even so; it runs anyway
                                  with --public-host and no --ice-servers. The gateway gives players
                                  credentials for it good for an hour; its secret stays in the state folder
           --block-time <s>       once deployed, the chain mines a block every <s> seconds (0.1..60) holding
                                  what was sent meanwhile, as a live chain does; 0, a block per transaction
                                  (SEEDCRAFT_BLOCK_TIME; 0; \`npm start\` gives 1)
  reset    Delete local state after the chain was reset: the indexer's database, and
           Ignition's journal and deployments/<network>.json of the local chain.
${PEER_HELP}
${SEED_HELP}
${CLAIM_HELP}
${DHT_HELP}
${GATEWAY_HELP}
${TRACKER_HELP}
${TURN_HELP}
${APP_CONFIG_HELP}
  help     Show this text.

Environment:
  SEEDCRAFT_CHAIN_PORT, SEEDCRAFT_INDEXER_PORT, SEEDCRAFT_APP_PORT   ports (8545, 42069, 5173)
  SEEDCRAFT_DHT_PORT     the DHT bootstrap node's UDP port (6881)
  SEEDCRAFT_GATEWAY_PORT the browser gateway's TCP port (6880)
  SEEDCRAFT_TRACKER_PORT the WebSocket tracker's TCP port (6969)
  SEEDCRAFT_TURN_PORT    the STUN/TURN server's UDP and TCP port (3478)
  SEEDCRAFT_TURN_RELAY_PORTS  the ports it relays on, <min>-<max> (49152-49663)
  SEEDCRAFT_NETWORK      names deployments/<network>.json (localhost)
  SEEDCRAFT_RPC_URL      the chain to use when --only leaves the chain out, and the one peer, seed and
                         claim use (http://127.0.0.1:$SEEDCRAFT_CHAIN_PORT)
  SEEDCRAFT_STATE_DIR    logs and indexer data (.seedcraft)
  SEEDCRAFT_INDEXER_URL  the indexer a peer asks (http://127.0.0.1:$SEEDCRAFT_INDEXER_PORT)
  SEEDCRAFT_HOST         the address parts, peers and seeders bind (127.0.0.1)
  SEEDCRAFT_PUBLIC_HOST  the world's host as others reach it; peer, seed and claim find the world there
  SEEDCRAFT_ICE_SERVERS  STUN/TURN servers, a JSON list of {urls, username?, credential?}
  SEEDCRAFT_DHT_BOOTSTRAP  DHT bootstrap nodes for a peer, host:port,...
  SEEDCRAFT_DEPLOY_PARAMETERS  the economy of a new deployment, JSON: {"premiumPrice":"<wei>", "epochLength":"<s>", …}
  DEBUG=seedcraft:*      detailed logs, children's output included`;

type PortName = "chain" | "indexer" | "dht" | "gateway" | "tracker" | "app" | "turn";

function parsePorts(): Partial<Record<PortName, number>> {
  const ports: Partial<Record<PortName, number>> = {};
  for (const [key, variable] of [
    ["chain", "SEEDCRAFT_CHAIN_PORT"],
    ["indexer", "SEEDCRAFT_INDEXER_PORT"],
    ["dht", "SEEDCRAFT_DHT_PORT"],
    ["gateway", "SEEDCRAFT_GATEWAY_PORT"],
    ["tracker", "SEEDCRAFT_TRACKER_PORT"],
    ["app", "SEEDCRAFT_APP_PORT"],
    ["turn", "SEEDCRAFT_TURN_PORT"],
  ] as const) {
    const value = process.env[variable];
    if (value === undefined || value === "") continue;
    const port = Number(value);
    if (!Number.isInteger(port) || port < 1 || port > 65535)
      throw new UsageError(
        `${variable} must be a ${key === "dht" ? "UDP" : key === "turn" ? "UDP and TCP" : "TCP"} port (1-65535), got ${JSON.stringify(value)}`,
      );
    ports[key] = port;
  }
  return ports;
}

function parseParts(only: string | undefined): PartName[] | undefined {
  if (only === undefined) return undefined;
  const parts = only.split(",").map((part) => part.trim());
  for (const part of parts)
    if (!(ALL_PART_NAMES as readonly string[]).includes(part))
      throw new UsageError(`unknown part ${JSON.stringify(part)} in --only; known parts: ${ALL_PART_NAMES.join(", ")}`);
  // Keep the start order whatever order they were named in.
  return ALL_PART_NAMES.filter((part) => parts.includes(part));
}

/** A ten-cell progress bar. */
function bar(percent: number): string {
  const filled = Math.floor(percent / 10);
  return `[${"█".repeat(filled)}${"░".repeat(10 - filled)}]`;
}

function describe(progress: PartProgress): string {
  const name = progress.part.padEnd(8);
  switch (progress.phase) {
    case "starting":
      return `  … ${name} starting`;
    case "waiting":
      return `  … ${name} ${bar(progress.percent)} ~${progress.percent} % (${progress.seconds.toFixed(0)} s)${progress.doing ? `  ${progress.doing}` : ""}`;
    case "ready":
      return `  ✔ ${name} ${progress.part === "deploy" ? "done" : "ready"} in ${progress.seconds.toFixed(1)} s   ${progress.detail}`;
  }
}

/** A supervised part's death and return, one visible line each (the chain is not restarted: see World). */
function describeRestart(event: PartRestart): string {
  switch (event.phase) {
    case "exited":
      return `  ✖ ${event.part}: exited (${event.how}), restarting in ${event.delayMs / 1000} s (restart ${event.restart})`;
    case "back":
      return `  ✔ ${event.part}: back up in ${event.seconds.toFixed(1)} s`;
  }
}

/** `--block-time` (or SEEDCRAFT_BLOCK_TIME): seconds, 0 or MIN_BLOCK_TIME_S..MAX_BLOCK_TIME_S (isBlockTime). */
function blockTimeFlag(flag: string | undefined): number {
  const [name, value] =
    flag === undefined ? ["SEEDCRAFT_BLOCK_TIME", process.env.SEEDCRAFT_BLOCK_TIME] : ["--block-time", flag];
  if (value === undefined || value.trim() === "") return 0;
  const seconds = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value.trim()) || !isBlockTime(seconds))
    throw new UsageError(
      `${name} ${JSON.stringify(value)} is not 0 or a number of seconds from ${MIN_BLOCK_TIME_S} to ${MAX_BLOCK_TIME_S}`,
    );
  return seconds;
}

async function up(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      only: { type: "string" },
      host: { type: "string" },
      "public-host": { type: "string" },
      "ice-servers": { type: "string" },
      turn: { type: "boolean" },
      "block-time": { type: "string" },
    },
    strict: true,
    allowPositionals: false,
  });
  const parts = parseParts(values.only);
  const blockTimeS = blockTimeFlag(values["block-time"]);
  const ports = parsePorts();
  const iceServers = iceServersFlag(values["ice-servers"]);
  // Checked before anything starts: a bind address that is not this machine's fails here, in seconds.
  const host = await hostFlag(values.host);
  const publicHost =
    values["public-host"] === undefined
      ? publicHostOf(process.env.SEEDCRAFT_PUBLIC_HOST, host, "SEEDCRAFT_PUBLIC_HOST")
      : publicHostOf(values["public-host"], host);
  const world = new World({
    parts,
    ports,
    host,
    publicHost,
    iceServers,
    // Players from other networks need a relay: the world runs coturn unless the operator gave their own.
    turn: startsTurn({
      publicHostGiven: (values["public-host"] ?? process.env.SEEDCRAFT_PUBLIC_HOST ?? "").trim() !== "",
      iceServers,
      turn: values.turn,
    }),
    network: process.env.SEEDCRAFT_NETWORK || "localhost",
    stateDir: process.env.SEEDCRAFT_STATE_DIR || undefined,
    blockTimeS,
  });
  const withheld = iceServers.length - publicIceServers(iceServers).length;
  if (withheld > 0)
    console.log(
      `seedcraft up: ${withheld} ICE server${withheld === 1 ? "" : "s"} with a credential go to the seeder only, not into the public seedcraft.json; players get TURN credentials from the gateway (the world's turn part, or your own coturn's use-auth-secret through SEEDCRAFT_TURN_SECRET and SEEDCRAFT_TURN_URLS)`,
    );
  const started = performance.now();
  const seenAs = publicHost === host ? "" : ` (others are told ${publicHost})`;
  console.log(`seedcraft up: starting ${world.parts.join(", ")} on ${host}${seenAs}`);
  world.on("progress", (progress: PartProgress) => console.log(describe(progress)));
  world.on("restart", (event: PartRestart) => console.log(describeRestart(event)));

  let stopRequested = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopRequested) return;
    stopRequested = true;
    console.log(`\nseedcraft up: ${signal} received, stopping every part…`);
    void world.stop().then(() => process.exit(0));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  process.on("exit", () => world.killAllNow());

  try {
    await world.start();
  } catch (error) {
    if (stopRequested) return 0;
    throw error;
  }
  const total = ((performance.now() - started) / 1000).toFixed(1);
  const where = world.parts.includes("app") ? ` Play at ${world.urls.app}` : "";
  console.log(`Seedcraft is up in ${total} s.${where}  (Ctrl-C stops everything)`);

  const failure = await new Promise<PartFailedError>((resolve) => world.once("failed", resolve));
  throw failure;
}

async function reset(args: string[]): Promise<number> {
  parseArgs({ args, options: {}, strict: true, allowPositionals: false });
  const network = process.env.SEEDCRAFT_NETWORK || "localhost";
  if (!/^[a-zA-Z0-9_-]+$/.test(network))
    throw new UsageError(`SEEDCRAFT_NETWORK must be a name (letters, digits, - and _), got ${JSON.stringify(network)}`);
  const stateDir = process.env.SEEDCRAFT_STATE_DIR || path.join(ROOT, ".seedcraft");
  const targets = [
    path.join(stateDir, "indexer"),
    path.join(ROOT, "indexer", ".ponder"),
    path.join(ROOT, "ignition", "deployments", `${network}-31337`),
    path.join(ROOT, "deployments", `${network}.json`),
  ];
  for (const target of targets) {
    await rm(target, { recursive: true, force: true });
    console.log(`removed ${path.relative(ROOT, target) || target}`);
  }
  const databaseUrl = process.env.DATABASE_URL;
  if (databaseUrl) {
    // On Postgres the index lives in two schemas: the app's (`ponder start --schema seedcraft`) and Ponder's sync cache.
    const client = new pg.Client({ connectionString: databaseUrl });
    try {
      await client.connect();
      for (const schema of ["seedcraft", "ponder_sync"]) {
        await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        console.log(`dropped schema ${schema} on ${client.host}:${client.port}/${client.database}`);
      }
    } catch (error) {
      throw new ResetError(`could not clear the Postgres schemas: ${(error as Error).message}`);
    } finally {
      await client.end().catch(() => undefined);
    }
  }
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "up":
      return await up(rest);
    case "reset":
      return await reset(rest);
    case "peer":
      return await peer(rest);
    case "seed":
      return await seed(rest);
    case "claim":
      return await claim(rest);
    case "dht":
      return await dht(rest);
    case "gateway":
      return await gateway(rest);
    case "tracker":
      return await tracker(rest);
    case "turn":
      return await turn(rest);
    case "app-config":
      return await appConfig(rest);
    case undefined:
    case "help":
    case "--help":
    case "-h":
      console.log(HELP);
      return 0;
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  }
}

/** The HTTP failure under a viem error (a chain or service that does not answer), if that is what it is. */
function unreachable(error: unknown): HttpRequestError | undefined {
  if (!(error instanceof BaseError)) return undefined;
  const cause = error.walk((e) => e instanceof HttpRequestError);
  return cause instanceof HttpRequestError ? cause : undefined;
}

function isParseArgsError(error: unknown): error is TypeError {
  return error instanceof TypeError && "code" in error && String(error.code).startsWith("ERR_PARSE_ARGS");
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (caught) {
  const error = isParseArgsError(caught) ? new UsageError(caught.message) : caught;
  if (error instanceof UsageError) {
    console.error(`seedcraft: ${error.message}\n\n${HELP}`);
    process.exitCode = 2;
  } else if (error instanceof PartFailedError) {
    console.error(`\nseedcraft: ${error.message}`);
    if (error.logFile) console.error(`(full log: ${path.relative(ROOT, error.logFile)})`);
    process.exitCode = 1;
  } else if (error instanceof SeedcraftError) {
    console.error(`seedcraft: ${error.message}`);
    process.exitCode = 1;
  } else if (unreachable(error)) {
    const { url, details } = unreachable(error) as HttpRequestError;
    console.error(
      `seedcraft: cannot reach ${url} (${details}). Is the world up (npm start)? A world on other ports is found through the same SEEDCRAFT_*_PORT variables, or SEEDCRAFT_RPC_URL and SEEDCRAFT_INDEXER_URL.`,
    );
    process.exitCode = 1;
  } else {
    throw error;
  }
}
