/**
 * `seedcraft app-config`: writes the seedcraft.json a static host serves beside the built app (app/dist, from
 * `npm run build`), in the shape the dev server hands players under `seedcraft up` (app/vite.config.ts): the
 * deployment file of a network and the public URLs of the world's chain, indexer, gateways and trackers, and
 * its STUN servers. Every flag is checked, and the result by the app's own parser, before anything is written,
 * so bad input leaves an existing file as it was. The file is public: it never holds a TURN password (the
 * world's gateway hands each player short-lived TURN credentials instead) nor a URL with a password in it.
 */
import { rename, stat, unlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import { type AppConfig, parseAppConfig } from "../app/src/config.ts";
import { InvalidDeploymentError } from "../core/deployment.ts";
import { SeedcraftError } from "../core/errors.ts";
import { iceServersJsonValue, parseIceServers } from "../core/ice-servers.ts";
import { deploymentPath, readDeployment } from "../deploy/deployment-file.ts";
import { UsageError } from "./errors.ts";
import { ROOT } from "./world.ts";

export const APP_CONFIG_HELP = `  app-config  Write the seedcraft.json a static host serves beside the built app (npm run build first).
           --network <name>       the world: deployments/<name>.json (required)
           --rpc <url>            the chain's JSON-RPC URL players use, http(s):// (required)
           --indexer <url>        the indexer's URL, http(s):// (required)
           --gateway <url>        a DHT gateway, ws(s)://; repeat it or separate with commas (required)
           --tracker <url>        a WebSocket tracker, ws(s)://; repeat it or separate with commas (required)
           --ice-servers <json>   STUN servers, [{"urls":"stun:…"}] (none); never TURN passwords: the file is
                                  public, and the world's gateway hands players short-lived TURN credentials
           --out <file>           where to write it (app/dist/seedcraft.json)`;

export const DEFAULT_APP_CONFIG_OUT = path.join(ROOT, "app", "dist", "seedcraft.json");

/** The app takes at most this many gateways or trackers (app/src/config.ts). */
const MAX_URLS = 16;

/** The file could not be written where asked (no built app there, a directory that is not there, no rights). */
export class AppConfigWriteError extends SeedcraftError {
  readonly file: string;

  constructor(file: string, message: string, details?: string, cause?: Error) {
    super("APP_CONFIG_WRITE", message, details);
    this.name = "AppConfigWriteError";
    this.file = file;
    if (cause) this.cause = cause;
  }
}

type Scheme = "http" | "ws";
const PROTOCOLS: Record<Scheme, readonly string[]> = { http: ["http:", "https:"], ws: ["ws:", "wss:"] };

/** One URL of `scheme` (its TLS form too); http ones lose trailing slashes, as the app drops them. */
function urlFlag(flag: string, value: string, scheme: Scheme): string {
  const url = URL.parse(value.trim());
  if (!url?.hostname) throw new UsageError(`${flag} ${JSON.stringify(value)} is not a URL`);
  if (!PROTOCOLS[scheme].includes(url.protocol))
    throw new UsageError(
      `${flag} ${JSON.stringify(value)} must be a ${scheme}:// or ${scheme}s:// URL, not ${url.protocol}//`,
    );
  // fetch() refuses such URLs, and the file is public.
  if (url.username || url.password)
    throw new UsageError(
      `${flag} ${url.protocol}//…@${url.host} holds a user name or password, which seedcraft.json must not`,
    );
  return scheme === "http" ? value.trim().replace(/\/+$/, "") : value.trim();
}

function requiredUrl(flag: string, value: string | undefined, scheme: Scheme): string {
  if (value === undefined || value.trim() === "") throw new UsageError(`${flag} <url> is required`);
  return urlFlag(flag, value, scheme);
}

/** Repeated flags and comma-separated lists alike, each URL checked, duplicates dropped. */
function urlList(flag: string, values: readonly string[] | undefined): string[] {
  const items = (values ?? []).flatMap((value) => value.split(",")).filter((item) => item.trim() !== "");
  if (items.length === 0) throw new UsageError(`${flag} <url> is required (at least one)`);
  const urls = [...new Set(items.map((item) => urlFlag(flag, item, "ws")))];
  if (urls.length > MAX_URLS) throw new UsageError(`${flag}: at most ${MAX_URLS} URLs, got ${urls.length}`);
  return urls;
}

/**
 * The STUN servers of --ice-servers (none when absent), checked by the parser SEEDCRAFT_ICE_SERVERS and the app
 * use. A TURN server needs a credential, and one written into a public file is a password anyone can use, so
 * any turn: URL or credential is refused, whatever else the entry holds.
 */
export function stunOnlyIceServers(text: string | undefined): AppConfig["iceServers"] {
  const source = "--ice-servers";
  const value = iceServersJsonValue(text, source);
  if (value === undefined) return [];
  if (Array.isArray(value))
    value.forEach((entry: unknown, index) => {
      if (typeof entry !== "object" || entry === null) return;
      const record = entry as Record<string, unknown>;
      const urls = Array.isArray(record.urls) ? record.urls : [record.urls];
      const turn = urls.some((url) => typeof url === "string" && /^turns?:/i.test(url));
      if (turn || "credential" in record)
        throw new UsageError(
          `${source} entry ${index} ${turn ? "is a TURN server, which needs a credential" : "has a credential"}: ` +
            "seedcraft.json is public, so it would be a password anyone can read and use. List only stun: servers " +
            "here; players get TURN from the world's gateway, which hands each of them short-lived credentials " +
            "(the TURN REST scheme) for the world's turn server.",
        );
    });
  return parseIceServers(value, source);
}

export type AppConfigFlags = {
  network: string;
  rpcUrl: string;
  indexerUrl: string;
  gateways: string[];
  trackers: string[];
  iceServers: AppConfig["iceServers"];
  out: string;
};

/** Decodes and checks the command line; throws UsageError (or IceServersError) naming the flag. */
export function appConfigFlags(args: string[]): AppConfigFlags {
  const { values } = parseArgs({
    args,
    options: {
      network: { type: "string" },
      rpc: { type: "string" },
      indexer: { type: "string" },
      gateway: { type: "string", multiple: true },
      tracker: { type: "string", multiple: true },
      "ice-servers": { type: "string" },
      out: { type: "string" },
    },
    strict: true,
    allowPositionals: false,
  });
  const network = values.network;
  if (network === undefined) throw new UsageError("--network <name> is required: the world's deployments/<name>.json");
  if (!/^[a-zA-Z0-9_-]+$/.test(network))
    throw new UsageError(`--network must be a name (letters, digits, - and _), got ${JSON.stringify(network)}`);
  if (values.out !== undefined && values.out.trim() === "") throw new UsageError("--out <file> must name a file");
  return {
    network,
    rpcUrl: requiredUrl("--rpc", values.rpc, "http"),
    indexerUrl: requiredUrl("--indexer", values.indexer, "http"),
    gateways: urlList("--gateway", values.gateway),
    trackers: urlList("--tracker", values.tracker),
    iceServers: stunOnlyIceServers(values["ice-servers"]),
    out: values.out === undefined ? DEFAULT_APP_CONFIG_OUT : path.resolve(values.out),
  };
}

/** The configuration a static host serves: the deployment file (InvalidDeploymentError if missing) and the URLs. */
export async function buildAppConfig(flags: Omit<AppConfigFlags, "out">): Promise<AppConfig> {
  // readDeployment's own hint is for the local world.
  if (!(await stat(deploymentPath(flags.network)).catch(() => undefined)))
    throw new InvalidDeploymentError(
      `deployments/${flags.network}.json does not exist: deploy the world to that network first ` +
        `(npm run deploy -- --network ${flags.network}), or copy its deployment file there`,
    );
  const deployment = await readDeployment(flags.network);
  // What the app will make of it: a file the app would refuse is never written.
  return parseAppConfig({
    deployment,
    rpcUrl: flags.rpcUrl,
    indexerUrl: flags.indexerUrl,
    gateways: flags.gateways,
    trackers: flags.trackers,
    iceServers: flags.iceServers,
  });
}

/** Where the file goes: into a directory named by --out, and only where that directory exists. */
async function outFile(out: string): Promise<string> {
  const isDirectory = async (at: string) => (await stat(at).catch(() => undefined))?.isDirectory() === true;
  if (await isDirectory(out)) return path.join(out, "seedcraft.json");
  const dir = path.dirname(out);
  if (await isDirectory(dir)) return out;
  if (out === DEFAULT_APP_CONFIG_OUT)
    throw new AppConfigWriteError(out, "The app is not built: app/dist does not exist.", "Run `npm run build` first.");
  throw new AppConfigWriteError(out, `Cannot write ${out}: the directory ${dir} does not exist.`);
}

/** Writes the file where --out says, atomically (the host never serves half a file); returns its path. */
export async function writeAppConfig(config: AppConfig, out: string): Promise<string> {
  const file = await outFile(out);
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    await writeFile(tmp, `${JSON.stringify(config, null, 2)}\n`);
    await rename(tmp, file);
  } catch (error) {
    await unlink(tmp).catch(() => undefined);
    throw new AppConfigWriteError(file, `Cannot write ${file}.`, (error as Error).message, error as Error);
  }
  return file;
}

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i;

/** What is likely a mistake in a file for players on other machines, one line each (the file is written anyway). */
function notesOn(config: AppConfig): string[] {
  const urls = [config.rpcUrl, config.indexerUrl, ...config.gateways, ...config.trackers].map((text) => new URL(text));
  const notes: string[] = [];
  const loopback = urls.filter((url) => LOOPBACK.test(url.hostname));
  if (loopback.length > 0)
    notes.push(`only players on this very machine reach ${[...new Set(loopback.map((url) => url.host))].join(", ")}`);
  const plain = urls.filter(
    (url) => !LOOPBACK.test(url.hostname) && (url.protocol === "http:" || url.protocol === "ws:"),
  );
  if (plain.length > 0)
    notes.push(
      `an app served over https:// cannot use ${[...new Set(plain.map((url) => `${url.protocol}//${url.host}`))].join(", ")} ` +
        "(mixed content): put those parts behind a TLS proxy and give https:// and wss:// URLs",
    );
  return notes;
}

/** `seedcraft app-config`. */
export async function appConfig(args: string[]): Promise<number> {
  const { out, ...flags } = appConfigFlags(args);
  const config = await buildAppConfig(flags);
  const file = await writeAppConfig(config, out);
  const { deployment } = config;
  const count = (n: number, what: string) => `${n} ${what}${n === 1 ? "" : "s"}`;
  console.log(
    `wrote ${path.relative(process.cwd(), file) || file}: world ${deployment.network} on chain ${deployment.chainId} ` +
      `(ChunkLedger ${deployment.contracts.ChunkLedger.address}), rpc ${config.rpcUrl}, indexer ${config.indexerUrl}, ` +
      `${count(config.gateways.length, "gateway")}, ${count(config.trackers.length, "tracker")}, ` +
      `${count(config.iceServers.length, "STUN server")}`,
  );
  for (const note of notesOn(config)) console.error(`seedcraft: note: ${note}`);
  return 0;
}
