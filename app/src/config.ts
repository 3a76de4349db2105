/**
 * The app's configuration from `seedcraft.json`: the deployment, the URLs of the chain, the indexer, the DHT
 * gateways and the trackers, and the STUN/TURN servers its WebRTC gathers from.
 */
import { type Deployment, parseDeployment } from "../../core/deployment.ts";
import { SeedcraftError } from "../../core/errors.ts";
import { type IceServer, parseIceServers } from "../../core/ice-servers.ts";

export type AppConfig = {
  deployment: Deployment;
  rpcUrl: string;
  indexerUrl: string;
  /** DHT gateways (ws://…): how the browser's peer reaches the DHT. */
  gateways: string[];
  /** WebSocket trackers: where seeders are found when no linked peer has a chunk. */
  trackers: string[];
  /**
   * STUN/TURN servers for the mesh, the torrent client and voice; none on a loopback world. seedcraft.json's,
   * and once joined the world's own TURN server with short-lived credentials from the gateway, kept current
   * in this very list (followGatewayIceServers): read it when making an RTCPeerConnection, do not copy it.
   */
  iceServers: IceServer[];
};

/** The entries followGatewayIceServers put in a config's list (and takes out again when they change). */
const fromGateway = new WeakSet<IceServer>();

/**
 * Keeps `config.iceServers` as seedcraft.json's servers followed by the ones the gateways give now (their
 * credentials refreshed before they expire), changing the list in place so that every holder of it (the
 * mesh's connections, the torrent client, voice) makes its next connection with current credentials.
 * Returns a function that stops following (the gateway's entries stay until they are replaced).
 */
export function followGatewayIceServers(
  config: AppConfig,
  gateway: { readonly iceServers: IceServer[]; onIceServers(handler: () => void): () => void },
): () => void {
  const update = () => {
    const own = config.iceServers.filter((server) => !fromGateway.has(server));
    const given = gateway.iceServers.map((server) => ({ ...server }));
    for (const server of given) fromGateway.add(server);
    config.iceServers.splice(0, config.iceServers.length, ...own, ...given);
  };
  update();
  return gateway.onIceServers(update);
}

export class AppConfigError extends SeedcraftError {
  constructor(message: string, details?: string) {
    super("APP_CONFIG", message, details);
    this.name = "AppConfigError";
  }
}

function wsUrls(name: string, value: unknown): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.length > 16)
    throw new AppConfigError("The app configuration is invalid.", `\`${name}\` must be a list of at most 16 URLs`);
  return value.map((item) => {
    const url = typeof item === "string" ? URL.parse(item) : null;
    if (!url || (url.protocol !== "ws:" && url.protocol !== "wss:"))
      throw new AppConfigError(
        "The app configuration is invalid.",
        `\`${name}\` holds ${JSON.stringify(item)}, not a ws(s) URL`,
      );
    return item as string;
  });
}

function httpUrl(name: string, value: unknown): string {
  if (typeof value !== "string")
    throw new AppConfigError("The app configuration is invalid.", `\`${name}\` is missing`);
  const url = new URL(value);
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new AppConfigError("The app configuration is invalid.", `\`${name}\` must be an http(s) URL`);
  return value.replace(/\/+$/, "");
}

export function parseAppConfig(value: unknown): AppConfig {
  if (typeof value !== "object" || value === null)
    throw new AppConfigError("The app configuration is invalid.", "expected a JSON object");
  const record = value as Record<string, unknown>;
  return {
    deployment: parseDeployment(record.deployment),
    rpcUrl: httpUrl("rpcUrl", record.rpcUrl),
    indexerUrl: httpUrl("indexerUrl", record.indexerUrl),
    gateways: wsUrls("gateways", record.gateways),
    trackers: wsUrls("trackers", record.trackers),
    // The CLI's parser: a list SEEDCRAFT_ICE_SERVERS takes is one the app takes (IceServersError otherwise).
    iceServers:
      record.iceServers === undefined ? [] : parseIceServers(record.iceServers, "seedcraft.json's iceServers"),
  };
}

/** Loads `seedcraft.json` from beside index.html (the dev server makes it from deployments/<network>.json). */
export async function loadAppConfig(): Promise<AppConfig> {
  const url = new URL("seedcraft.json", document.baseURI);
  let response: Response;
  try {
    response = await fetch(url, { cache: "no-store" });
  } catch (error) {
    throw new AppConfigError("Could not fetch seedcraft.json.", String(error));
  }
  const body: unknown = await response.json().catch(() => undefined);
  if (!response.ok) {
    const details =
      typeof body === "object" && body !== null && "details" in body ? String(body.details) : `HTTP ${response.status}`;
    throw new AppConfigError("The world is not deployed yet.", details);
  }
  return parseAppConfig(body);
}
