/**
 * The world's STUN/TURN server: Debian's coturn (`turnserver`) on one address and port, taking TURN REST
 * credentials minted from a shared secret (core/turn-credentials.ts), with no TLS, relay ports in a bounded
 * range, and its log in a file (and under DEBUG=seedcraft:turn). `seedcraft turn` runs it until Ctrl-C.
 * The secret goes in a config file only this user can read, never on a command line. Node-only.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { rm } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import createDebug from "debug";
import { MIN_TURN_SECRET_LENGTH } from "../core/turn-credentials.ts";
import { PartExitedError, PartFailedError, PartTimeoutError, PortTakenError, UsageError } from "./errors.ts";
import { checkBindHost, isWildcard, reachAt, urlHost } from "./host.ts";
import { stunBinding } from "./turn-check.ts";
import { isPortFree, isUdpPortFree } from "./world.ts";

const debug = createDebug("seedcraft:turn");

export const COTURN_INSTALL_COMMAND = "apt-get update && apt-get install -y coturn";
export const DEFAULT_TURN_PORT = 3478;
export const DEFAULT_TURN_REALM = "seedcraft";
/** 512 relay ports: one per allocation, and every connection that may need a relay makes one. */
export const DEFAULT_RELAY_PORTS = { min: 49152, max: 49663 } as const;

/**
 * Peers a relay never sends to unless the server itself sits in their range (a world on a LAN): a public
 * TURN server that relays into private networks lets anyone reach the machines behind it.
 */
const PRIVATE_RANGES: [string, string][] = [
  ["0.0.0.0", "0.255.255.255"],
  ["10.0.0.0", "10.255.255.255"],
  ["100.64.0.0", "100.127.255.255"],
  ["169.254.0.0", "169.254.255.255"],
  ["172.16.0.0", "172.31.255.255"],
  ["192.0.0.0", "192.0.0.255"],
  ["192.168.0.0", "192.168.255.255"],
];

/** Where Debian's coturn is, or undefined if it is not installed. */
export function turnserverPath(): string | undefined {
  const fromEnv = process.env.SEEDCRAFT_TURNSERVER;
  if (fromEnv) return existsSync(fromEnv) ? fromEnv : undefined;
  const found = spawnSync("sh", ["-c", "command -v turnserver"], { encoding: "utf8" }).stdout?.trim();
  if (found) return found;
  return ["/usr/bin/turnserver", "/usr/sbin/turnserver"].find((candidate) => existsSync(candidate));
}

export class TurnMissingError extends PartFailedError {
  constructor() {
    super(
      "TURN_MISSING",
      "turn",
      "turn: Debian's coturn (turnserver) is not installed.",
      `Install it with \`sudo ${COTURN_INSTALL_COMMAND}\`, point SEEDCRAFT_TURNSERVER at a turnserver binary, or give players your own STUN/TURN servers (SEEDCRAFT_ICE_SERVERS).`,
    );
    this.name = "TurnMissingError";
  }
}

export type TurnServerOptions = {
  /** The IPv4 address it listens and relays on; 0.0.0.0 for every address of this machine. */
  host: string;
  /** UDP and TCP. Default 3478. */
  port?: number;
  /** coturn's `static-auth-secret`: the one core/turn-credentials.ts mints credentials with. */
  secret: string;
  realm?: string;
  relayPorts?: { min: number; max: number };
  /** The public address players reach when `host` sits behind a 1:1 NAT (a cloud VM's private address). */
  externalIp?: string;
  /** Where its config, pid, database and log go. Default: a new temporary directory, removed on stop. */
  stateDir?: string;
  /** Health timeout. Default 10 s. */
  timeoutMs?: number;
  /** The turnserver binary. Default turnserverPath(). */
  turnserver?: string;
};

const toNumber = (ip: string) => ip.split(".").reduce((n, octet) => n * 256 + Number(octet), 0);

/** Checks options as a user typed them; throws UsageError naming the bad one. */
function checkOptions(options: TurnServerOptions): Required<Pick<TurnServerOptions, "port" | "realm" | "relayPorts">> {
  if (!net.isIPv4(options.host))
    throw new UsageError(`turn: --host must be an IPv4 address of this machine, got ${JSON.stringify(options.host)}`);
  if (options.externalIp !== undefined && !net.isIPv4(options.externalIp))
    throw new UsageError(`turn: --external-ip must be an IPv4 address, got ${JSON.stringify(options.externalIp)}`);
  const port = options.port ?? DEFAULT_TURN_PORT;
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new UsageError(`turn: --port must be a port (1-65535), got ${port}`);
  const realm = options.realm ?? DEFAULT_TURN_REALM;
  if (!/^[A-Za-z0-9.-]{1,64}$/.test(realm))
    throw new UsageError(`turn: --realm is 1 to 64 letters, digits, dots and dashes, got ${JSON.stringify(realm)}`);
  const relayPorts = options.relayPorts ?? DEFAULT_RELAY_PORTS;
  const { min, max } = relayPorts;
  if (!Number.isInteger(min) || !Number.isInteger(max) || min < 1024 || max > 65535 || max - min < 1)
    throw new UsageError(`turn: --relay-ports must be <min>-<max> within 1024-65535, got ${min}-${max}`);
  if (port >= min && port <= max) throw new UsageError(`turn: --port ${port} lies inside --relay-ports ${min}-${max}`);
  if (typeof options.secret !== "string" || options.secret.length < MIN_TURN_SECRET_LENGTH || /\s/.test(options.secret))
    throw new UsageError(
      `turn: the shared secret must be at least ${MIN_TURN_SECRET_LENGTH} characters with no spaces (SEEDCRAFT_TURN_SECRET)`,
    );
  return { port, realm, relayPorts };
}

/** coturn's configuration for these options (one `key=value` per line); throws UsageError on bad options. */
export function turnserverConfig(options: TurnServerOptions, stateDir: string): string {
  const { port, realm, relayPorts } = checkOptions(options);
  const wildcard = isWildcard(options.host);
  const host = toNumber(options.host);
  const denied = PRIVATE_RANGES.filter(([from, to]) => host < toNumber(from) || host > toNumber(to));
  const loopback = options.host.startsWith("127.");
  return [
    ...(wildcard ? [] : [`listening-ip=${options.host}`, `relay-ip=${options.host}`]),
    `listening-port=${port}`,
    ...(options.externalIp ? [`external-ip=${options.externalIp}${wildcard ? "" : `/${options.host}`}`] : []),
    `min-port=${relayPorts.min}`,
    `max-port=${relayPorts.max}`,
    "use-auth-secret",
    `static-auth-secret=${options.secret}`,
    `realm=${realm}`,
    "fingerprint",
    // Plain STUN/TURN over UDP and TCP: TLS (turns:) belongs to a proxy or an operator's own server.
    "no-tls",
    "no-dtls",
    "no-cli",
    "no-multicast-peers",
    ...denied.map(([from, to]) => `denied-peer-ip=${from}-${to}`),
    // A world on loopback relays between local peers; anywhere else loopback stays denied (coturn's default).
    ...(loopback ? ["allow-loopback-peers"] : []),
    "relay-threads=1",
    // Its own files, so two servers on one machine share nothing (coturn defaults to /var/run and /var/lib).
    `pidfile=${path.join(stateDir, "turnserver.pid")}`,
    `userdb=${path.join(stateDir, "turndb")}`,
    "log-file=stdout",
    "simple-log",
    ...(debug.enabled ? ["verbose"] : []),
    "",
  ].join("\n");
}

/** The last lines of a log file, for an error. */
function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "";
  }
}

export class TurnServer {
  readonly host: string;
  readonly port: number;
  readonly realm: string;
  readonly logFile: string;
  readonly #child: ChildProcess;
  readonly #stateDir: string;
  readonly #ownsStateDir: boolean;
  readonly exited: Promise<string>;
  #exitInfo: string | undefined;
  #stopping: Promise<void> | undefined;

  private constructor(options: {
    host: string;
    port: number;
    realm: string;
    child: ChildProcess;
    stateDir: string;
    ownsStateDir: boolean;
    logFile: string;
  }) {
    this.host = options.host;
    this.port = options.port;
    this.realm = options.realm;
    this.#child = options.child;
    this.#stateDir = options.stateDir;
    this.#ownsStateDir = options.ownsStateDir;
    this.logFile = options.logFile;
    this.exited = new Promise((resolve) =>
      options.child.once("exit", (code, signal) => {
        this.#exitInfo = signal ? `killed by ${signal}` : `exited with code ${code}`;
        resolve(this.#exitInfo);
      }),
    );
  }

  /** Where a process on this machine reaches it. */
  get address(): string {
    return reachAt(this.host);
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** The STUN and TURN URLs of it (UDP), as RTCIceServer takes them, for a host others reach it at. */
  urls(publicHost: string = this.address): { stun: string; turn: string } {
    const host = urlHost(publicHost);
    return { stun: `stun:${host}:${this.port}`, turn: `turn:${host}:${this.port}?transport=udp` };
  }

  /**
   * Starts coturn and resolves once it answers a STUN Binding request. Throws UsageError for bad options,
   * TurnMissingError without coturn, PortTakenError, PartExitedError or PartTimeoutError (with its log's tail).
   */
  static async start(options: TurnServerOptions): Promise<TurnServer> {
    const checked = checkOptions(options);
    const binary = options.turnserver ?? turnserverPath();
    if (!binary || !existsSync(binary)) throw new TurnMissingError();
    const host = options.host;
    if (!(await isUdpPortFree(checked.port, host))) throw new PortTakenError("turn", checked.port, "udp", host);
    if (!(await isPortFree(checked.port, host))) throw new PortTakenError("turn", checked.port, "tcp", host);

    const ownsStateDir = options.stateDir === undefined;
    const stateDir = options.stateDir ?? mkdtempSync(path.join(tmpdir(), "seedcraft-turn-"));
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    const configFile = path.join(stateDir, "turnserver.conf");
    writeFileSync(configFile, turnserverConfig(options, stateDir), { mode: 0o600 });
    const logFile = path.join(stateDir, "turnserver.log");
    const log = createWriteStream(logFile, { flags: "a" });
    const child = spawn(binary, ["-c", configFile], { stdio: ["ignore", "pipe", "pipe"] });
    for (const stream of [child.stdout, child.stderr]) {
      stream?.pipe(log, { end: false });
      if (debug.enabled)
        stream?.on("data", (chunk: Buffer) => {
          for (const line of chunk.toString().split("\n")) if (line.trim()) debug("%s", line);
        });
    }
    // coturn (and a temporary directory holding the secret) must not outlive the process that started it,
    // even one that dies without stopping it.
    const killOnExit = () => {
      child.kill("SIGKILL");
      if (ownsStateDir) rmSync(stateDir, { recursive: true, force: true });
    };
    process.once("exit", killOnExit);
    child.once("close", () => {
      log.end();
      process.off("exit", killOnExit);
    });
    const server = new TurnServer({
      host,
      port: checked.port,
      realm: checked.realm,
      child,
      stateDir,
      ownsStateDir,
      logFile,
    });
    child.once("error", (error) => debug("turnserver: %s", error.message));

    const timeoutMs = options.timeoutMs ?? 10_000;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (server.#exitInfo !== undefined) {
        await server.stop();
        throw new PartExitedError("turn", `turnserver ${server.#exitInfo} while starting`, logFile, tail(logFile));
      }
      const answered = await stunBinding(server.address, checked.port, 300).then(
        () => true,
        () => false,
      );
      if (answered) break;
      if (Date.now() > deadline) {
        await server.stop();
        throw new PartTimeoutError("turn", timeoutMs / 1000, logFile, tail(logFile));
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    debug("turnserver pid %d answers on %s:%d", child.pid, server.address, checked.port);
    return server;
  }

  /** SIGTERM, SIGKILL after 3 s; removes the state directory it made. Safe to call twice. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      if (this.#exitInfo === undefined) {
        this.#child.kill("SIGTERM");
        const timer = setTimeout(() => this.#child.kill("SIGKILL"), 3000);
        await this.exited;
        clearTimeout(timer);
      }
      if (this.#ownsStateDir) await rm(this.#stateDir, { recursive: true, force: true });
    })();
    return this.#stopping;
  }
}

export const TURN_HELP = `  turn     Run the world's STUN/TURN server, Debian's coturn (until Ctrl-C).
           --host <address>         listen and relay address (SEEDCRAFT_HOST; 127.0.0.1)
           --port <port>            UDP and TCP port (3478)
           --realm <name>           (seedcraft)
           --relay-ports <min-max>  the relay ports (SEEDCRAFT_TURN_RELAY_PORTS; 49152-49663)
           --external-ip <address>  the public address when --host is behind a 1:1 NAT
           The shared secret comes from SEEDCRAFT_TURN_SECRET (at least 16 characters); players get
           short-lived credentials minted from it (TURN REST), never the secret.`;

function parseRange(text: string | undefined, flag = "--relay-ports"): { min: number; max: number } | undefined {
  if (text === undefined) return undefined;
  const match = /^(\d{1,5})-(\d{1,5})$/.exec(text);
  if (!match) throw new UsageError(`${flag} must be <min>-<max>, got ${JSON.stringify(text)}`);
  return { min: Number(match[1]), max: Number(match[2]) };
}

/** A new secret for a world that has none yet (48 base64url characters). */
export function newTurnSecret(): string {
  return randomBytes(36).toString("base64url");
}

/** Where a world keeps its TURN secret: in its state folder, beside its logs, never in seedcraft.json. */
export const TURN_SECRET_FILE = "turn-secret";

/**
 * The world's TURN secret from <stateDir>/turn-secret, made (mode 0600) on its first start with a turn part and
 * kept after, so credentials a gateway minted stay good across a restart of `seedcraft up`. A file that is
 * not a usable secret (edited, cut short) is replaced; one others could read is made private again.
 */
export function worldTurnSecret(stateDir: string): string {
  const file = path.join(stateDir, TURN_SECRET_FILE);
  try {
    const secret = readFileSync(file, "utf8").trim();
    if (secret.length >= MIN_TURN_SECRET_LENGTH && !/\s/.test(secret)) {
      if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
      return secret;
    }
    debug("%s holds no usable secret: a new one", file);
  } catch {
    // none yet
  }
  mkdirSync(stateDir, { recursive: true });
  const secret = newTurnSecret();
  // Removed first: writeFileSync's mode applies only to a file it creates.
  rmSync(file, { force: true });
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}

/**
 * The RTCIceServer URLs of a TURN server others reach at `publicHost`: STUN, TURN over UDP, and TURN over TCP
 * for networks that let no UDP out (coturn listens on both).
 */
export function turnUrls(publicHost: string, port: number = DEFAULT_TURN_PORT): string[] {
  const host = urlHost(publicHost);
  return [`stun:${host}:${port}`, `turn:${host}:${port}?transport=udp`, `turn:${host}:${port}?transport=tcp`];
}

/** `seedcraft turn`: coturn until SIGINT or SIGTERM, or until it dies (then a PartExitedError). */
export async function turn(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      host: { type: "string" },
      port: { type: "string" },
      realm: { type: "string" },
      "relay-ports": { type: "string" },
      "external-ip": { type: "string" },
    },
    strict: true,
    allowPositionals: false,
  });
  const port = values.port === undefined ? undefined : Number(values.port);
  const secret = process.env.SEEDCRAFT_TURN_SECRET;
  if (!secret) throw new UsageError("turn: set SEEDCRAFT_TURN_SECRET to the shared secret (at least 16 characters)");
  const server = await TurnServer.start({
    // An address of this machine, or HOST_NOT_LOCAL within 10 s (as every part's --host).
    host: await checkBindHost(values.host ?? process.env.SEEDCRAFT_HOST),
    port,
    secret,
    realm: values.realm,
    relayPorts:
      values["relay-ports"] === undefined && process.env.SEEDCRAFT_TURN_RELAY_PORTS
        ? parseRange(process.env.SEEDCRAFT_TURN_RELAY_PORTS, "SEEDCRAFT_TURN_RELAY_PORTS")
        : parseRange(values["relay-ports"]),
    externalIp: values["external-ip"],
    stateDir: process.env.SEEDCRAFT_STATE_DIR ? path.join(process.env.SEEDCRAFT_STATE_DIR, "turn") : undefined,
  });
  const { stun, turn: turnUrl } = server.urls(values["external-ip"]);
  console.log(`STUN/TURN server on ${stun} and ${turnUrl}, realm ${server.realm} (Ctrl-C stops it)`);
  const how = await Promise.race([
    server.exited,
    // `on`, not `once`: a second signal while coturn stops must not kill this process before it cleaned up.
    new Promise<undefined>((resolve) => {
      process.on("SIGINT", () => resolve(undefined));
      process.on("SIGTERM", () => resolve(undefined));
    }),
  ]);
  await server.stop();
  if (how !== undefined) throw new PartExitedError("turn", `turnserver ${how}`, server.logFile, tail(server.logFile));
  return 0;
}
