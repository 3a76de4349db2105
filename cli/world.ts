/**
 * The local world orchestrator behind `seedcraft up`: starts each part in order, waits until it is
 * healthy, watches it, and stops every child it started (whole process groups) on stop or failure.
 * Node-only.
 */
import { type ChildProcess, spawn } from "node:child_process";
import dgram from "node:dgram";
import { lookup } from "node:dns/promises";
import { EventEmitter } from "node:events";
import {
  createWriteStream,
  mkdirSync,
  readFileSync,
  realpathSync,
  statSync,
  type WriteStream,
  writeFileSync,
} from "node:fs";
import { rm } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import bencode from "bencode";
import createDebug from "debug";
import { Backoff, type BackoffOptions } from "../core/backoff.ts";
import type { IceServer } from "../core/ice-servers.ts";
import {
  ChainEndedError,
  PartExitedError,
  PartFailedError,
  PartTimeoutError,
  PortTakenError,
  WorldStoppedError,
} from "./errors.ts";
import { DEFAULT_HOST, localAddresses, publicHostOf, reachAt, urlHost } from "./host.ts";
import { DEFAULT_TURN_PORT, TurnMissingError, turnserverPath, turnUrls, worldTurnSecret } from "./turn.ts";
import { stunBinding } from "./turn-check.ts";

const debug = createDebug("seedcraft:world");

export const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** Every part a world can run, in start order; `turn` (coturn) only for a world others reach (see startsTurn). */
export const ALL_PART_NAMES = [
  "chain",
  "deploy",
  "indexer",
  "dht",
  "turn",
  "gateway",
  "tracker",
  "seeder",
  "app",
] as const;
export type PartName = (typeof ALL_PART_NAMES)[number];
/** The parts of a local world (what `npm start` runs): all but `turn`, which needs coturn. */
export const PART_NAMES = ALL_PART_NAMES.filter((part) => part !== "turn") as readonly PartName[];

/**
 * Whether `seedcraft up` runs the world's own STUN/TURN server: when it was told a public host (players come
 * from other networks) and given no STUN/TURN servers of the operator's own, or when asked to (`--turn`).
 */
/**
 * The ICE servers players may be handed in seedcraft.json, which anyone can read: those without a credential.
 * A TURN server's password must not be published; players get TURN from the gateway's short-lived credentials.
 */
export function publicIceServers(servers: readonly IceServer[]): IceServer[] {
  return servers.filter((server) => server.credential === undefined && server.username === undefined);
}

export function startsTurn(options: { publicHostGiven: boolean; iceServers: readonly IceServer[]; turn?: boolean }) {
  return options.turn === true || (options.publicHostGiven && options.iceServers.length === 0);
}

/**
 * What each part waits for before it starts (those of them the world runs). The deploy starts with the chain: its
 * compile needs no chain, and it waits for the chain's RPC itself. The DHT node, the tracker and the app need no
 * deployment: they start once the chain is up, while the deploy compiles, instead of after it.
 */
const STARTS_AFTER: Record<PartName, readonly PartName[]> = {
  chain: [],
  deploy: [],
  indexer: ["chain", "deploy"],
  dht: ["chain"],
  // coturn needs nothing; the gateway, which hands out its credentials, starts once it answers.
  turn: [],
  gateway: ["dht", "turn"],
  tracker: ["chain"],
  seeder: ["chain", "deploy", "indexer", "dht", "tracker"],
  app: ["chain"],
};

/**
 * How long each part usually takes to start, in seconds on 2 cores, for the progress of a slow start until
 * the world has timed its own (<stateDir>/startup.json). The deploy's first run compiles with viaIR.
 */
const EXPECTED_S: Record<PartName, number> = {
  chain: 3,
  deploy: 20,
  indexer: 8,
  dht: 2,
  turn: 1,
  gateway: 2,
  tracker: 2,
  seeder: 4,
  app: 2,
};

export type WorldOptions = {
  /** Which parts to run, in start order. Default: PART_NAMES, and `turn` too with `turn: true`. */
  parts?: readonly PartName[];
  ports?: {
    chain?: number;
    indexer?: number;
    dht?: number;
    gateway?: number;
    tracker?: number;
    app?: number;
    /** The TURN server's UDP and TCP port (DEFAULT_TURN_PORT). */
    turn?: number;
  };
  /** Runs `turn` among the default parts (see startsTurn). Ignored when `parts` is given. */
  turn?: boolean;
  /** The ports coturn relays on (cli/turn.ts's DEFAULT_RELAY_PORTS, or SEEDCRAFT_TURN_RELAY_PORTS). */
  turnRelayPorts?: { min: number; max: number };
  /** The IPv4 address every part binds (cli/host.ts checkBindHost checks it). Default 127.0.0.1. */
  host?: string;
  /** The name or address the URLs given to the app and peers carry. Default: `host` (see cli/host.ts). */
  publicHost?: string;
  /** STUN/TURN servers for the seeder's WebRTC and the app's (seedcraft.json's iceServers). Default none. */
  iceServers?: readonly IceServer[];
  /** Names deployments/<network>.json. Default "localhost". */
  network?: string;
  /**
   * Seconds between the chain's blocks once the contracts are deployed: each block then holds every
   * transaction sent meanwhile, as on a live chain. 0 (the default): a block per transaction, and an empty
   * one every second. Used only when the world runs its own chain.
   */
  blockTimeS?: number;
  /** Where logs and indexer state go. Default <root>/.seedcraft. */
  stateDir?: string;
  /** Per-part health timeout. Default 90 s (the indexer's first start compiles). */
  timeoutMs?: number;
  /** Waits between restarts of a part that died. Default 0.5 s doubling to 15 s, from 0.5 s again after a minute up. */
  restartBackoff?: BackoffOptions;
};

export type PartProgress =
  | { part: PartName; phase: "starting" }
  | {
      part: PartName;
      phase: "waiting";
      seconds: number;
      /** An estimate from how long it took last time (never 100 until it is ready). */
      percent: number;
      /** What it is doing: its log's last line, or what it is known to do then. */
      doing?: string;
    }
  | { part: PartName; phase: "ready"; seconds: number; detail: string };

/** A supervised part's life after the start: it died (and when it comes back), or it is back. */
export type PartRestart =
  | { part: PartName; phase: "exited"; how: string; delayMs: number; restart: number }
  | { part: PartName; phase: "back"; seconds: number; restart: number };

/**
 * `dht` is the bootstrap node as host:port (UDP), what `seedcraft peer --bootstrap` takes. A World's `urls`
 * carry its public host (what the app and peers are given); the parts reach each other at the bound one.
 */
export type WorldUrls = {
  chain: string;
  indexer: string;
  dht: string;
  gateway: string;
  tracker: string;
  app: string;
};

type Service = {
  spec: PartSpec;
  child: ChildProcess;
  log: WriteStream;
  logFile: string;
  /** Where this run's output starts in the log: a restart appends to the log of the run that died. */
  logOffset: number;
  exited: Promise<void>;
  exitInfo?: string;
  /** When its health check first passed (performance.now()). */
  healthyAt?: number;
};

type PartSpec = {
  part: PartName;
  port?: number;
  /** A UDP port the part binds (the DHT). */
  udpPort?: number;
  /** A task runs to completion (deploy); a service runs until stopped. */
  kind: "task" | "service";
  bin: string;
  args: string[];
  env?: Record<string, string>;
  /** A service is ready when this resolves to a detail line; `logOffset` is where this run's log starts. */
  healthy?: (logOffset: number) => Promise<string | undefined>;
  /**
   * After a restart, when the part serves again even if it is not fully caught up (the indexer: its clients
   * see 503 INDEX_BEHIND meanwhile); default `healthy`. A run still catching up is never killed for it.
   */
  serving?: (logOffset: number) => Promise<string | undefined>;
  /** Runs after a task exits 0; returns a detail line. */
  after?: () => string | Promise<string>;
  /** Working directory, relative to the root. Default: the root. */
  cwd?: string;
  /** What it does while its log is still empty (shown while it starts). */
  quietly?: string;
  /** Its own health timeout, when the world's is too short for it. */
  timeoutMs?: number;
  /** Runs before the part's first start (never before a restart). */
  before?: () => Promise<void>;
};

/** Resolves a package's CLI entry from node_modules/.bin so it runs under this very Node. */
function binPath(name: string): string {
  return realpathSync(path.join(ROOT, "node_modules", ".bin", name));
}

/** Whether a UDP port can be bound on `host`. */
export async function isUdpPortFree(port: number, host = "127.0.0.1"): Promise<boolean> {
  return await new Promise((resolve) => {
    const socket = dgram.createSocket("udp4");
    socket.once("error", () => resolve(false));
    socket.bind({ port, address: host, exclusive: true }, () => socket.close(() => resolve(true)));
  });
}

/** Whether a DHT node answers a KRPC ping at host:port within `timeoutMs`. */
export async function dhtAnswers(port: number, host = "127.0.0.1", timeoutMs = 500): Promise<boolean> {
  const socket = dgram.createSocket("udp4");
  try {
    return await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      socket.once("error", () => resolve(false));
      socket.on("message", (message) => {
        try {
          const reply = bencode.decode(message) as { y?: Uint8Array; r?: { id?: Uint8Array } };
          if (reply.r?.id?.length === 20) {
            clearTimeout(timer);
            resolve(true);
          }
        } catch {
          // not KRPC: keep waiting
        }
      });
      // A read-only ping (BEP 43's `ro`) with no node id: bittorrent-dht answers it without adding this throwaway
      // socket to its routing table, where it would sit as a dead node that every peer's lookup waits 2.5 s for.
      const ping = bencode.encode({ t: "sc", y: "q", q: "ping", ro: 1, a: { id: new Uint8Array(0) } });
      socket.send(ping, port, host);
    });
  } finally {
    socket.close();
  }
}

export async function isPortFree(port: number, host = "127.0.0.1"): Promise<boolean> {
  return await new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** A file's text from byte `offset` on, or undefined if it cannot be read. */
function readFrom(file: string, offset = 0): string | undefined {
  try {
    return readFileSync(file).subarray(offset).toString("utf8");
  } catch {
    return undefined;
  }
}

function sizeOf(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

async function fetchJson(url: string, init?: RequestInit): Promise<{ status: number; body: unknown } | undefined> {
  try {
    const response = await fetch(url, { ...init, signal: AbortSignal.timeout(2000) });
    const text = await response.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    return { status: response.status, body };
  } catch {
    return undefined;
  }
}

/** One JSON-RPC call to the chain at `url`: its HTTP answer, or undefined when the chain did not answer. */
function rpcCall(url: string, method: string, params: readonly unknown[]) {
  return fetchJson(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
}

/** The block times `seedcraft up` takes, in seconds: 0 (a block per transaction), or MIN..MAX. */
export const MIN_BLOCK_TIME_S = 0.1;
export const MAX_BLOCK_TIME_S = 60;

export function isBlockTime(seconds: number): boolean {
  return seconds === 0 || (seconds >= MIN_BLOCK_TIME_S && seconds <= MAX_BLOCK_TIME_S);
}

/**
 * Makes the local chain mine a block every `seconds`, holding the transactions sent meanwhile, rather than
 * one per transaction (Hardhat's interval mining). Throws a PartFailedError (BLOCK_TIME_REFUSED) if the chain
 * does not take it.
 */
export async function setBlockTime(url: string, seconds: number): Promise<void> {
  for (const [method, params] of [
    ["evm_setAutomine", [false]],
    ["evm_setIntervalMining", [Math.round(seconds * 1000)]],
  ] as const) {
    const answer = await rpcCall(url, method, params);
    const body = answer?.body as { error?: { message?: string } } | undefined;
    if (answer?.status !== 200 || !body || body.error)
      throw new PartFailedError(
        "BLOCK_TIME_REFUSED",
        "chain",
        `chain: could not set a block every ${seconds} s.`,
        `${url} did not take ${method}: ${body?.error?.message ?? `HTTP ${answer?.status ?? "unreachable"}`}`,
      );
  }
}

export async function rpcChainId(url: string): Promise<number | undefined> {
  const answer = await rpcCall(url, "eth_chainId", []);
  const result = (answer?.body as { result?: unknown } | undefined)?.result;
  return typeof result === "string" ? Number.parseInt(result, 16) : undefined;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** A sleep that does not keep the process alive: for races against an exit. */
const grace = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms).unref());

/** A log's last line with text, without colours, cut to fit a status line: what a slow part is doing. */
function lastLine(file: string): string | undefined {
  const line = tail(file, 1)
    // biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI colour codes
    .replace(/\u001b\[[0-9;]*m/g, "")
    .trim();
  return line === "" ? undefined : line.length > 70 ? `${line.slice(0, 69)}…` : line;
}

function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "";
  }
}

/**
 * One local world. Events: "progress" (PartProgress) while starting; "restart" (PartRestart) when a service
 * other than the chain dies and is started again (with backoff, on the same ports); "failed"
 * (PartFailedError) when the chain dies (everything is then stopped: the world's state died with it).
 */
export class World extends EventEmitter {
  readonly parts: readonly PartName[];
  readonly ports: {
    chain: number;
    indexer: number;
    dht: number;
    gateway: number;
    tracker: number;
    app: number;
    turn: number;
  };
  readonly network: string;
  readonly stateDir: string;
  /** Seconds between blocks after the deploy (WorldOptions.blockTimeS); 0, a block per transaction. */
  readonly blockTimeS: number;
  /** Where every part listens, and the name others are given for it. */
  readonly host: string;
  readonly publicHost: string;
  readonly iceServers: readonly IceServer[];
  /**
   * The world's own STUN/TURN server as players reach it (its public host), when it runs one: the gateway
   * hands these out with short-lived credentials in its hello; seedcraft.json never carries them.
   */
  readonly turnUrls: readonly string[];
  readonly #turnRelayPorts: { min: number; max: number } | undefined;
  /** Read or made on the first start of a part that needs it (cli/turn.ts worldTurnSecret). */
  #turnSecret: string | undefined;
  /** What the app and peers are given (the public host), in seedcraft.json, run.json and printed lines. */
  readonly urls: WorldUrls;
  /** Where the parts and the health checks reach each other on this machine (the bound host). */
  readonly #local: WorldUrls;
  readonly timings: Partial<Record<PartName, number>> = {};
  /** How many times each part was restarted after dying. */
  readonly restarts: Partial<Record<PartName, number>> = {};
  readonly #timeoutMs: number;
  readonly #restartBackoff: BackoffOptions | undefined;
  /** The current run of each part started (a restart replaces it). */
  readonly #services = new Map<PartName, Service>();
  readonly #backoffs = new Map<PartName, Backoff>();
  /** Aborted by stop(): ends the waits between restarts. */
  readonly #stopSignal = new AbortController();
  #stopping: Promise<void> | undefined;
  #failure: PartFailedError | undefined;
  /** How long each part took to start last time here (<stateDir>/startup.json). */
  #expected: Partial<Record<PartName, number>> = {};

  constructor(options: WorldOptions = {}) {
    super();
    this.parts = options.parts ?? (options.turn ? ALL_PART_NAMES : PART_NAMES);
    this.ports = {
      chain: options.ports?.chain ?? 8545,
      indexer: options.ports?.indexer ?? 42069,
      dht: options.ports?.dht ?? 6881,
      gateway: options.ports?.gateway ?? 6880,
      tracker: options.ports?.tracker ?? 6969,
      app: options.ports?.app ?? 5173,
      turn: options.ports?.turn ?? DEFAULT_TURN_PORT,
    };
    this.#turnRelayPorts = options.turnRelayPorts;
    this.network = options.network ?? "localhost";
    this.blockTimeS = options.blockTimeS ?? 0;
    if (!isBlockTime(this.blockTimeS))
      throw new RangeError(`blockTimeS is 0 or ${MIN_BLOCK_TIME_S}..${MAX_BLOCK_TIME_S}, not ${this.blockTimeS}`);
    this.stateDir = options.stateDir ?? path.join(ROOT, ".seedcraft");
    this.#timeoutMs = options.timeoutMs ?? 90_000;
    this.#restartBackoff = options.restartBackoff;
    this.host = options.host ?? DEFAULT_HOST;
    this.publicHost = options.publicHost ?? publicHostOf(undefined, this.host);
    this.iceServers = options.iceServers ?? [];
    this.urls = this.#urlsAt(this.publicHost);
    this.turnUrls = this.parts.includes("turn") ? turnUrls(this.publicHost, this.ports.turn) : [];
    this.#local = this.#urlsAt(reachAt(this.host));
  }

  #urlsAt(host: string): WorldUrls {
    const at = urlHost(host);
    return {
      chain: this.parts.includes("chain")
        ? `http://${at}:${this.ports.chain}`
        : (process.env.SEEDCRAFT_RPC_URL ?? `http://${at}:${this.ports.chain}`),
      indexer: `http://${at}:${this.ports.indexer}`,
      dht: `${at}:${this.ports.dht}`,
      gateway: `ws://${at}:${this.ports.gateway}`,
      tracker: `ws://${at}:${this.ports.tracker}`,
      app: `http://${at}:${this.ports.app}`,
    };
  }

  /** The failure that stopped the world, if one did. */
  get failure(): PartFailedError | undefined {
    return this.#failure;
  }

  /** The pid of a part's current run, if it runs. */
  pidOf(part: PartName): number | undefined {
    const service = this.#services.get(part);
    return service?.exitInfo === undefined ? service?.child.pid : undefined;
  }

  /** Starts every part in order. On failure, stops what it started and throws a PartFailedError. */
  async start(): Promise<void> {
    mkdirSync(path.join(this.stateDir, "logs"), { recursive: true });
    const timingsFile = path.join(this.stateDir, "startup.json");
    try {
      this.#expected = JSON.parse(readFileSync(timingsFile, "utf8")) as Partial<Record<PartName, number>>;
    } catch {
      // first start here: the defaults
    }
    const specs = this.parts.map((part) => this.#spec(part));
    // Without coturn a world others reach has no relay: say how to install it before starting anything.
    if (this.parts.includes("turn") && !turnserverPath()) throw new TurnMissingError();
    // Fail before starting anything if a port is taken: the message names the part, the port and the host.
    for (const spec of specs) {
      if (spec.port !== undefined && !(await isPortFree(spec.port, this.host)))
        throw new PortTakenError(spec.part, spec.port, "tcp", this.host);
      if (spec.udpPort !== undefined && !(await isUdpPortFree(spec.udpPort, this.host)))
        throw new PortTakenError(spec.part, spec.udpPort, "udp", this.host);
    }
    // Each part starts as soon as the parts it waits for are up (STARTS_AFTER), several at once.
    const ready = new Map<PartName, Promise<void>>();
    for (const spec of specs) {
      const waitsFor = STARTS_AFTER[spec.part].flatMap((part) => ready.get(part) ?? []);
      ready.set(
        spec.part,
        Promise.all(waitsFor).then(() => this.#startPart(spec)),
      );
    }
    try {
      await Promise.all(ready.values());
      writeFileSync(timingsFile, `${JSON.stringify({ ...this.#expected, ...this.timings })}\n`);
    } catch (error) {
      await this.stop();
      // The chain dying while others start is why they failed: say that.
      throw this.#failure ?? error;
    }
  }

  /** Stops every child (SIGTERM to its process group, SIGKILL after 5 s) and every restart. Safe to call twice. */
  stop(): Promise<void> {
    this.#stopSignal.abort();
    this.#stopping ??= this.#stopAll();
    return this.#stopping;
  }

  async #stopAll(): Promise<void> {
    // Stop in reverse start order: the app and indexer before the chain they read.
    const services = [...this.parts].reverse().flatMap((part) => this.#services.get(part) ?? []);
    for (const service of services) {
      if (service.exitInfo === undefined) signalGroup(service.child, "SIGTERM");
      const killed = await Promise.race([service.exited.then(() => true), grace(5000).then(() => false)]);
      if (!killed) {
        debug("%s ignored SIGTERM, sending SIGKILL", service.spec.part);
        signalGroup(service.child, "SIGKILL");
        await service.exited;
      }
      // The group may hold grandchildren (esbuild, workers) that outlive the leader.
      signalGroup(service.child, "SIGKILL");
      service.log.end();
    }
  }

  #spec(part: PartName): PartSpec {
    const local = this.#local;
    const env = {
      SEEDCRAFT_NETWORK: this.network,
      SEEDCRAFT_RPC_URL: local.chain,
      SEEDCRAFT_INDEXER_URL: local.indexer,
    };

    switch (part) {
      case "chain":
        return {
          part,
          kind: "service",
          port: this.ports.chain,
          bin: binPath("hardhat"),
          args: ["node", "--network", "world", "--hostname", this.host, "--port", String(this.ports.chain)],
          healthy: async () => {
            const chainId = await rpcChainId(local.chain);
            return chainId === undefined ? undefined : `${this.urls.chain} (chain id ${chainId})`;
          },
        };
      case "deploy":
        return {
          part,
          kind: "task",
          bin: binPath("hardhat"),
          args: ["run", "deploy/deploy.ts", "--network", "localhost"],
          // Hardhat compiles first and prints nothing until it is done: the first compile (viaIR, solc's
          // WebAssembly build) takes ~20 s on 2 idle cores, minutes on a busy machine.
          quietly: "compiling the contracts (solc, viaIR: only when they changed)",
          timeoutMs: 300_000,
          // It starts beside the chain (STARTS_AFTER): once compiled, it waits as long as the chain may take to start.
          env: this.parts.includes("chain") ? { ...env, SEEDCRAFT_WAIT_FOR_CHAIN_MS: String(this.#timeoutMs) } : env,
          after: async () => {
            const file = path.join(ROOT, "deployments", `${this.network}.json`);
            const deployment = JSON.parse(readFileSync(file, "utf8")) as {
              contracts: { ChunkLedger: { address: string } };
            };
            const deployed = `ChunkLedger ${deployment.contracts.ChunkLedger.address} and 3 more → deployments/${this.network}.json`;
            // Deployed a transaction a block (quick); the world then runs at its block time.
            if (this.blockTimeS === 0 || !this.parts.includes("chain")) return deployed;
            await setBlockTime(local.chain, this.blockTimeS);
            return `${deployed}; a block every ${this.blockTimeS} s from now`;
          },
        };
      case "indexer": {
        const indexerDir = path.join(this.stateDir, "indexer");
        return {
          part,
          kind: "service",
          port: this.ports.indexer,
          bin: binPath("ponder"),
          // Ponder writes generated/ into its working directory: keep it inside indexer/.
          cwd: "indexer",
          // Ponder logs nothing until its database is open.
          quietly: "building the indexer (Ponder) and opening its database",
          args: [
            "start",
            "-H",
            this.host,
            "-p",
            String(this.ports.indexer),
            "--schema",
            process.env.DATABASE_SCHEMA || "seedcraft",
          ],
          env: { ...env, SEEDCRAFT_INDEXER_DIR: indexerDir },
          // A chain we start is new: an index of an earlier chain would be stale.
          before: async () => {
            if (this.parts.includes("chain")) await rm(indexerDir, { recursive: true, force: true });
          },
          healthy: async () => {
            const answer = await fetchJson(`${local.indexer}/v1/ready`);
            return answer?.status === 200 ? this.urls.indexer : undefined;
          },
          // Back once it serves: it replays what it missed while its routes say INDEX_BEHIND, which on a busy
          // machine can take longer than the health timeout, and killing it then would only start over.
          serving: async () => {
            const answer = await fetchJson(`${local.indexer}/v1/status`);
            return answer?.status === 200 ? `${this.urls.indexer} (catching up)` : undefined;
          },
        };
      }
      case "dht":
        return {
          part,
          kind: "service",
          udpPort: this.ports.dht,
          // `seedcraft dht`: a DHT node that bootstraps from nobody; every local peer starts from it.
          bin: path.join(ROOT, "cli", "seedcraft.ts"),
          args: ["dht", "--host", this.host, "--port", String(this.ports.dht)],
          env,
          healthy: async () =>
            (await dhtAnswers(this.ports.dht, reachAt(this.host))) ? `udp://${this.urls.dht}` : undefined,
        };
      case "gateway":
        return {
          part,
          kind: "service",
          port: this.ports.gateway,
          bin: path.join(ROOT, "cli", "seedcraft.ts"),
          args: ["gateway", "--host", this.host, "--port", String(this.ports.gateway), "--bootstrap", local.dht],
          // With the world's TURN server, the gateway mints players' credentials from its secret (p2p/node/gateway.ts);
          // without, from the operator's own TURN server's (coturn's use-auth-secret), if the shell that ran
          // `seedcraft up` gave SEEDCRAFT_TURN_SECRET and SEEDCRAFT_TURN_URLS; else none.
          env: this.parts.includes("turn")
            ? { ...env, SEEDCRAFT_TURN_SECRET: this.#secret(), SEEDCRAFT_TURN_URLS: this.turnUrls.join(",") }
            : env,
          // A WebSocket server answers plain HTTP with 426 Upgrade Required.
          healthy: async () =>
            (await fetchJson(local.gateway.replace(/^ws/, "http")))?.status === 426 ? this.urls.gateway : undefined,
        };
      case "turn": {
        const relay = this.#turnRelayPorts;
        const spec: PartSpec = {
          part,
          kind: "service",
          port: this.ports.turn,
          udpPort: this.ports.turn,
          // `seedcraft turn`: Debian's coturn, its config (with the secret, mode 0600) in <stateDir>/turn.
          bin: path.join(ROOT, "cli", "seedcraft.ts"),
          args: [
            "turn",
            "--host",
            this.host,
            "--port",
            String(this.ports.turn),
            ...(relay ? ["--relay-ports", `${relay.min}-${relay.max}`] : []),
          ],
          // Once, before its first start: a public host that is not this machine's (a cloud VM's 1:1 NAT).
          before: async () => {
            const external = await externalAddressOf(this.publicHost);
            if (external) spec.args.push("--external-ip", external);
          },
          // In its environment, never on its command line, where `ps` would show it.
          env: { ...env, SEEDCRAFT_TURN_SECRET: this.#secret(), SEEDCRAFT_STATE_DIR: this.stateDir },
          healthy: async () =>
            (await stunBinding(reachAt(this.host), this.ports.turn, 300).then(
              () => true,
              () => false,
            ))
              ? `${this.turnUrls.slice(1).join(", ")} (credentials from the gateway)`
              : undefined,
        };
        return spec;
      }
      case "tracker":
        return {
          part,
          kind: "service",
          port: this.ports.tracker,
          bin: path.join(ROOT, "cli", "seedcraft.ts"),
          args: ["tracker", "--host", this.host, "--port", String(this.ports.tracker)],
          env,
          // A WebSocket-only tracker answers plain HTTP with 404.
          healthy: async () =>
            (await fetchJson(local.tracker.replace(/^ws/, "http")))?.status === 404 ? this.urls.tracker : undefined,
        };
      case "seeder": {
        const logFile = path.join(this.stateDir, "logs", "seeder.log");
        return {
          part,
          kind: "service",
          bin: path.join(ROOT, "cli", "seedcraft.ts"),
          args: [
            "seed",
            "--cache",
            path.join(this.stateDir, "seeder"),
            "--bootstrap",
            local.dht,
            "--host",
            this.host,
            ...(this.parts.includes("tracker") ? ["--trackers", local.tracker] : []),
          ],
          // In its environment rather than on its command line, where `ps` would show a TURN credential.
          env: { ...env, SEEDCRAFT_ICE_SERVERS: JSON.stringify(this.iceServers) },
          // It says whom it seeds as once it has joined.
          healthy: async (logOffset) => {
            const line = readFrom(logFile, logOffset)?.match(/seeder \S+ as (0x[0-9a-fA-F]{40})/);
            return line ? `seeding as ${line[1]}` : undefined;
          },
        };
      }
      case "app":
        return {
          part,
          kind: "service",
          port: this.ports.app,
          bin: binPath("vite"),
          args: ["--config", "app/vite.config.ts"],
          // Its seedcraft.json hands players the public URLs (app/vite.config.ts).
          env: {
            ...env,
            SEEDCRAFT_RPC_URL: this.urls.chain,
            SEEDCRAFT_INDEXER_URL: this.urls.indexer,
            SEEDCRAFT_APP_HOST: this.host,
            SEEDCRAFT_PUBLIC_HOST: this.publicHost,
            SEEDCRAFT_APP_PORT: String(this.ports.app),
            // seedcraft.json is public: servers with a credential stay with the world's own Node parts.
            SEEDCRAFT_ICE_SERVERS: JSON.stringify(publicIceServers(this.iceServers)),
            // The app's peers reach the DHT through the gateway and find seeders on the tracker.
            ...(this.parts.includes("gateway") ? { SEEDCRAFT_GATEWAY_URLS: this.urls.gateway } : {}),
            ...(this.parts.includes("tracker") ? { SEEDCRAFT_TRACKERS: this.urls.tracker } : {}),
          },
          healthy: async () => {
            const answer = await fetchJson(`${local.app}/`);
            return answer?.status === 200 ? this.urls.app : undefined;
          },
        };
    }
  }

  /** The world's TURN secret, from (or made in) its state folder: never in seedcraft.json, run.json or argv. */
  #secret(): string {
    this.#turnSecret ??= worldTurnSecret(this.stateDir);
    return this.#turnSecret;
  }

  async #startPart(spec: PartSpec): Promise<void> {
    const started = performance.now();
    if (this.#stopping) throw this.#failure ?? new WorldStoppedError(spec.part);
    this.emit("progress", { part: spec.part, phase: "starting" } satisfies PartProgress);
    await spec.before?.();
    if (this.#stopping) throw this.#failure ?? new WorldStoppedError(spec.part);
    const service = this.#spawn(spec, false);
    const detail = await this.#ready(service, started, (seconds) =>
      this.emit("progress", {
        part: spec.part,
        phase: "waiting",
        seconds,
        percent: Math.min(95, Math.round((100 * seconds) / (this.#expected[spec.part] ?? EXPECTED_S[spec.part]))),
        doing: lastLine(service.logFile) ?? spec.quietly,
      } satisfies PartProgress),
    );
    const seconds = (performance.now() - started) / 1000;
    this.timings[spec.part] = seconds;
    this.emit("progress", { part: spec.part, phase: "ready", seconds, detail } satisfies PartProgress);
    if (spec.kind === "service") this.#watch(service);
  }

  /** Starts one run of a part in its own process group; a restart appends to the part's log. */
  #spawn(spec: PartSpec, restart: boolean): Service {
    const logFile = path.join(this.stateDir, "logs", `${spec.part}.log`);
    const header = restart ? `\n--- seedcraft up: restart ${this.restarts[spec.part]} of ${spec.part} ---\n` : "";
    const logOffset = restart ? sizeOf(logFile) + Buffer.byteLength(header) : 0;
    const log = createWriteStream(logFile, { flags: restart ? "a" : "w" });
    log.write(header);
    const child = spawn(process.execPath, [spec.bin, ...spec.args], {
      cwd: path.join(ROOT, spec.cwd ?? "."),
      env: {
        ...process.env,
        ...spec.env,
        PATH: `${path.join(ROOT, "node_modules", ".bin")}${path.delimiter}${process.env.PATH ?? ""}`,
      },
      stdio: ["ignore", "pipe", "pipe"],
      // Its own process group, so stop() reaches the grandchildren too.
      detached: true,
    });
    const partDebug = createDebug(`seedcraft:${spec.part}`);
    for (const stream of [child.stdout, child.stderr]) {
      stream?.on("data", (chunk: Buffer) => {
        log.write(chunk);
        if (partDebug.enabled) partDebug("%s", chunk.toString().trimEnd());
      });
    }
    const service: Service = {
      spec,
      child,
      log,
      logFile,
      logOffset,
      exited: new Promise((resolve) => {
        child.once("exit", (code, signal) => {
          service.exitInfo = signal ? `killed by ${signal}` : `exit code ${code}`;
          resolve();
        });
        child.once("error", (error) => {
          service.exitInfo = `could not start: ${error.message}`;
          resolve();
        });
      }),
    };
    this.#services.set(spec.part, service);
    this.#writeRunFile();
    return service;
  }

  /**
   * Waits until a run is ready: a task exited 0 (its `after` line), a service passed its health check.
   * Throws a PartFailedError if it exits first or is not healthy in time.
   */
  async #ready(
    service: Service,
    started: number,
    waiting: (seconds: number) => void,
    restarted = false,
  ): Promise<string> {
    const { spec, logFile } = service;
    const healthy = (restarted ? spec.serving : undefined) ?? spec.healthy;
    const timeoutMs = spec.timeoutMs ?? this.#timeoutMs;
    const deadline = started + timeoutMs;
    const seconds = () => (performance.now() - started) / 1000;
    // A part slower than 3 s shows its progress (then every 5 s), so no slow step passes without a bar.
    let nextWaitingNote = started + 3000;
    for (;;) {
      if (this.#stopping) throw this.#failure ?? new WorldStoppedError(spec.part);
      if (service.exitInfo !== undefined) {
        if (spec.kind === "task" && service.exitInfo === "exit code 0") {
          service.log.end();
          return (await spec.after?.()) ?? "done";
        }
        throw new PartExitedError(spec.part, `exited while starting (${service.exitInfo})`, logFile, tail(logFile));
      }
      if (spec.kind === "service" && healthy) {
        const detail = await healthy(service.logOffset);
        if (detail !== undefined) {
          service.healthyAt = performance.now();
          return detail;
        }
      }
      if (performance.now() > deadline)
        throw new PartTimeoutError(spec.part, Math.round(timeoutMs / 1000), logFile, tail(logFile));
      if (performance.now() > nextWaitingNote) {
        nextWaitingNote += 5000;
        waiting(seconds());
      }
      await Promise.race([service.exited, sleep(spec.kind === "task" ? 50 : 100)]);
    }
  }

  /**
   * A running service that exits on its own is started again (see #supervise); the chain is the exception:
   * its state lived in its memory, so the world ends with it.
   */
  #watch(service: Service): void {
    void service.exited.then(async () => {
      if (this.#stopping) return;
      // Grandchildren of the dead run (esbuild, workers) would hold its ports.
      signalGroup(service.child, "SIGKILL");
      service.log.end();
      const how = service.exitInfo ?? "exited";
      if (service.spec.part === "chain") {
        this.#failure = new ChainEndedError(how, service.logFile, tail(service.logFile));
        await this.stop();
        this.emit("failed", this.#failure);
        return;
      }
      const ranMs = service.healthyAt === undefined ? 0 : performance.now() - service.healthyAt;
      await this.#supervise(service.spec, how, ranMs);
    });
  }

  /**
   * Restarts a part that died until a run passes its health check again, waiting longer after each death
   * in a row (Backoff). Never runs the part's `before` hook: the indexer resumes on its own data.
   */
  async #supervise(spec: PartSpec, how: string, ranMs: number): Promise<void> {
    const { part } = spec;
    let backoff = this.#backoffs.get(part);
    if (!backoff) {
      backoff = new Backoff(this.#restartBackoff);
      this.#backoffs.set(part, backoff);
    }
    const died = performance.now();
    let why = how;
    let ran = ranMs;
    for (;;) {
      const delayMs = backoff.next(ran);
      const restart = (this.restarts[part] ?? 0) + 1;
      this.restarts[part] = restart;
      this.emit("restart", { part, phase: "exited", how: why, delayMs, restart } satisfies PartRestart);
      try {
        await delay(delayMs, undefined, { signal: this.#stopSignal.signal });
      } catch {
        return; // stopping
      }
      if (this.#stopping) return;
      const service = this.#spawn(spec, true);
      try {
        await this.#ready(service, performance.now(), () => undefined, true);
      } catch (error) {
        if (this.#stopping) return;
        signalGroup(service.child, "SIGKILL");
        await service.exited;
        service.log.end();
        why =
          error instanceof PartFailedError ? error.message.replace(`${part}: `, "").replace(/\.$/, "") : String(error);
        ran = 0;
        continue;
      }
      if (this.#stopping) return;
      const seconds = (performance.now() - died) / 1000;
      this.emit("restart", { part, phase: "back", seconds, restart } satisfies PartRestart);
      this.#watch(service);
      return;
    }
  }

  /** <stateDir>/run.json: who runs what (current pids, restarts so far), for `seedcraft` tooling and tests. */
  #writeRunFile(): void {
    const parts = Object.fromEntries(
      [...this.#services.values()].map((service) => [
        service.spec.part,
        { pid: service.child.pid, kind: service.spec.kind, restarts: this.restarts[service.spec.part] ?? 0 },
      ]),
    );
    writeFileSync(
      path.join(this.stateDir, "run.json"),
      `${JSON.stringify({ pid: process.pid, host: this.host, urls: this.urls, ...(this.turnUrls.length > 0 ? { turn: this.turnUrls } : {}), parts }, null, 2)}\n`,
    );
  }

  /** Synchronous last resort for process exit paths: SIGKILL every process group still running. */
  killAllNow(): void {
    for (const service of this.#services.values())
      if (service.exitInfo === undefined) signalGroup(service.child, "SIGKILL");
  }
}

/**
 * The address coturn must write into the relay addresses it gives out when players reach this machine at one
 * that is not its own (a cloud VM behind a 1:1 NAT): the public host, resolved if it is a name (5 s at most).
 * Undefined when the public host is this machine's, or does not resolve.
 */
export async function externalAddressOf(publicHost: string): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const address = net.isIPv4(publicHost)
    ? publicHost
    : await Promise.race([
        lookup(publicHost, { family: 4 }).then(
          (found) => found.address,
          () => undefined,
        ),
        new Promise<undefined>((resolve) => {
          timer = setTimeout(() => resolve(undefined), 5000);
        }),
      ]).finally(() => clearTimeout(timer));
  if (address === undefined) debug("public host %s has no IPv4 address: coturn relays at its own", publicHost);
  return address === undefined || address.startsWith("127.") || localAddresses().includes(address)
    ? undefined
    : address;
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // the group is already gone
  }
}

export function isPartFailure(error: unknown): error is PartFailedError {
  return error instanceof PartFailedError;
}
