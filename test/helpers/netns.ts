/**
 * Test hosts on one machine as Linux network namespaces (root only): a public internet on 198.18.0.0/16 with
 * its hosts (the world host first), and home networks on 198.19.<n>.0/24, each behind a router namespace that
 * NATs with iptables MASQUERADE (port-keeping, or a new random port per destination like a symmetric NAT).
 * Every namespace a run makes carries a prefix naming its pid: it is removed on destroy, on exit and on
 * SIGINT/SIGTERM/SIGHUP, and a later run sweeps the prefixes of runs that died without cleaning up.
 */
import { type ChildProcess, type SpawnOptions, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import createDebug from "debug";
import { SeedcraftError } from "../../core/errors.ts";

const debug = createDebug("seedcraft:netns");

/** Every namespace of every run starts with this; the pid after it tells a live run from a dead one. */
export const NETNS_PREFIX = "scnet";
export const IPTABLES_INSTALL_COMMAND = "apt-get update && apt-get install -y iptables";

/** How a home router maps its hosts' UDP/TCP flows to its public address. */
export type NatKind =
  /** MASQUERADE: a flow keeps its source port when it can, so one socket shows one public port to everyone. */
  | "port-keeping"
  /** MASQUERADE --random: a new port for every destination, like a symmetric NAT; hole punching fails. */
  | "random";

export type HomePlan = {
  name: string;
  nat?: NatKind;
  /** The hosts behind its router. Default: one host named after the home. */
  hosts?: string[];
};

export type NetworkPlan = {
  /** Hosts with a public address, in order; the first is the world host. Default ["world"]. */
  publicHosts?: string[];
  homes?: HomePlan[];
};

export type Host = {
  name: string;
  /** Its network namespace: `ip netns exec <ns> …` runs a command on it. */
  ns: string;
  address: string;
  /** The home it sits in, or undefined for a public host. */
  home: string | undefined;
};

export type Home = {
  name: string;
  nat: NatKind;
  router: { ns: string; wanAddress: string; lanAddress: string };
  hosts: Host[];
};

export class NetnsError extends SeedcraftError {
  constructor(
    code: "NETNS_NOT_ROOT" | "NETNS_TOOL_MISSING" | "NETNS_COMMAND_FAILED" | "NETNS_BAD_PLAN",
    message: string,
    details?: string,
  ) {
    super(code, message, details);
    this.name = "NetnsError";
  }
}

/**
 * Why this process cannot build namespaces (it is not root), or undefined. Tests skip with this reason; a root
 * without `ip` or `iptables` is not skipped but fails in build(), saying what to install.
 */
export function netnsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return "network namespaces need root (ip netns, iptables): run the test as root";
  return undefined;
}

function missingTool(): string | undefined {
  if (!commandExists("ip")) return "`ip` (iproute2) is missing: apt-get install -y iproute2";
  if (!commandExists("iptables")) return `iptables is missing: ${IPTABLES_INSTALL_COMMAND}`;
  return undefined;
}

export function commandExists(command: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" }).status === 0;
}

/** Runs a command to completion; a non-zero exit throws NETNS_COMMAND_FAILED with its stderr. */
function sh(command: string, args: string[]): string {
  debug("%s %s", command, args.join(" "));
  const result = spawnSync(command, args, { encoding: "utf8", timeout: 10_000 });
  if (result.status !== 0)
    throw new NetnsError(
      "NETNS_COMMAND_FAILED",
      `\`${command} ${args.join(" ")}\` failed (${result.error?.message ?? `exit ${result.status}`}).`,
      result.stderr.trim() || undefined,
    );
  return result.stdout;
}

/** Every network namespace on this machine. */
export function listNamespaces(): string[] {
  const output = spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout ?? "";
  return output
    .split("\n")
    .map((line) => line.split(" ")[0] ?? "")
    .filter((name) => name !== "");
}

/** Kills what still runs inside a namespace (by pid), then removes it. Never throws. */
function removeNamespace(ns: string): void {
  const pids = (spawnSync("ip", ["netns", "pids", ns], { encoding: "utf8" }).stdout ?? "")
    .split("\n")
    .map(Number)
    .filter((pid) => Number.isInteger(pid) && pid > 0 && pid !== process.pid);
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  spawnSync("ip", ["netns", "del", ns], { stdio: "ignore" });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Removes the namespaces of runs whose process is gone (killed before cleaning up); returns their names. */
export function sweepStaleNamespaces(): string[] {
  const stale = listNamespaces().filter((ns) => {
    const match = ns.match(new RegExp(`^${NETNS_PREFIX}-(\\d+)-`));
    return match !== null && !isAlive(Number(match[1]));
  });
  for (const ns of stale) removeNamespace(ns);
  if (stale.length > 0) debug("swept %d stale namespaces: %s", stale.length, stale.join(" "));
  return stale;
}

/** The networks of this process that are not destroyed yet: exit and signal handlers remove them. */
const live = new Set<TestNetwork>();
let handlersInstalled = false;

function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on("exit", () => {
    for (const network of live) network.destroyNow();
  });
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    const onSignal = () => {
      for (const network of live) network.destroyNow();
      process.off(signal, onSignal);
      // Then die of the signal as we would have, unless someone else listens for it.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

const NAME = /^[a-z][a-z0-9-]{0,19}$/;

/**
 * The internet's namespace holds its switch and the default gateway of every public host and router, which
 * forwards nothing: a packet to an address no one has (a home's private one) vanishes, as out there, instead
 * of failing at once with "network unreachable" (on which coturn drops the whole allocation).
 */
const INTERNET_GATEWAY = "198.18.255.254";

export class TestNetwork {
  /** `scnet-<pid>-<random>`: every namespace of this network starts with it. */
  readonly prefix: string;
  readonly publicHosts: Host[] = [];
  readonly homes: Home[] = [];
  readonly #namespaces: string[] = [];
  readonly #children = new Set<ChildProcess>();
  #destroyed = false;

  private constructor(prefix: string) {
    this.prefix = prefix;
  }

  /**
   * Builds the namespaces, links, addresses, routes and NAT rules of `plan`. Sweeps the namespaces of dead
   * runs first. On failure, removes what it made and throws a NetnsError.
   */
  static build(plan: NetworkPlan): TestNetwork {
    const unavailable = netnsUnavailable();
    if (unavailable) throw new NetnsError("NETNS_NOT_ROOT", "cannot build test networks here", unavailable);
    const missing = missingTool();
    if (missing) throw new NetnsError("NETNS_TOOL_MISSING", "cannot build test networks here", missing);
    const publicHosts = plan.publicHosts ?? ["world"];
    const homes = plan.homes ?? [];
    const names = [...publicHosts, ...homes.flatMap((home) => [`${home.name}-router`, ...(home.hosts ?? [home.name])])];
    for (const name of names)
      if (!NAME.test(name))
        throw new NetnsError("NETNS_BAD_PLAN", `bad host name ${JSON.stringify(name)}`, `names match ${NAME}`);
    if (new Set(names).size !== names.length || names.includes("internet"))
      throw new NetnsError("NETNS_BAD_PLAN", "host names must be unique and not 'internet'", names.join(", "));
    if (publicHosts.length < 1 || publicHosts.length > 200 || homes.length > 200)
      throw new NetnsError("NETNS_BAD_PLAN", "between 1 and 200 public hosts and at most 200 homes");
    if (homes.some((home) => (home.hosts ?? [home.name]).length > 200))
      throw new NetnsError("NETNS_BAD_PLAN", "at most 200 hosts in a home");

    sweepStaleNamespaces();
    installExitHandlers();
    const network = new TestNetwork(`${NETNS_PREFIX}-${process.pid}-${randomBytes(2).toString("hex")}`);
    live.add(network);
    try {
      network.#build(publicHosts, homes);
    } catch (error) {
      network.destroyNow();
      throw error;
    }
    return network;
  }

  #addNamespace(name: string): string {
    const ns = `${this.prefix}-${name}`;
    sh("ip", ["netns", "add", ns]);
    this.#namespaces.push(ns);
    sh("ip", ["-n", ns, "link", "set", "lo", "up"]);
    return ns;
  }

  /** A veth pair between two namespaces, made in place (no name is ever taken in the root namespace). */
  #link(nsA: string, nameA: string, nsB: string, nameB: string): void {
    sh("ip", ["-n", nsA, "link", "add", nameA, "type", "veth", "peer", "name", nameB, "netns", nsB]);
    sh("ip", ["-n", nsA, "link", "set", nameA, "up"]);
    sh("ip", ["-n", nsB, "link", "set", nameB, "up"]);
  }

  /** Plugs a namespace into the internet's switch as `wan` with a 198.18.0.0/16 address. */
  #plugIn(internet: string, port: string, ns: string, address: string): void {
    this.#link(internet, port, ns, "wan");
    sh("ip", ["-n", internet, "link", "set", port, "master", "br0"]);
    sh("ip", ["-n", ns, "addr", "add", `${address}/16`, "dev", "wan"]);
    sh("ip", ["-n", ns, "route", "add", "default", "via", INTERNET_GATEWAY]);
  }

  #build(publicHosts: string[], homes: HomePlan[]): void {
    const internet = this.#addNamespace("internet");
    sh("ip", ["-n", internet, "link", "add", "br0", "type", "bridge"]);
    sh("ip", ["-n", internet, "link", "set", "br0", "up"]);
    sh("ip", ["-n", internet, "addr", "add", `${INTERNET_GATEWAY}/16`, "dev", "br0"]);
    // Forwarding off, whatever the machine's default: the gateway drops what it is handed without a word.
    sh("ip", ["netns", "exec", internet, "sysctl", "-qw", "net.ipv4.ip_forward=0"]);
    publicHosts.forEach((name, i) => {
      const ns = this.#addNamespace(name);
      const address = `198.18.0.${i + 1}`;
      this.#plugIn(internet, `p${i}`, ns, address);
      this.publicHosts.push({ name, ns, address, home: undefined });
    });
    homes.forEach((plan, i) => {
      const nat = plan.nat ?? "port-keeping";
      const router = this.#addNamespace(`${plan.name}-router`);
      const wanAddress = `198.18.1.${i + 1}`;
      const lanAddress = `198.19.${i + 1}.1`;
      this.#plugIn(internet, `h${i}`, router, wanAddress);
      sh("ip", ["netns", "exec", router, "sysctl", "-qw", "net.ipv4.ip_forward=1"]);
      sh("ip", ["-n", router, "link", "add", "lan", "type", "bridge"]);
      sh("ip", ["-n", router, "link", "set", "lan", "up"]);
      sh("ip", ["-n", router, "addr", "add", `${lanAddress}/24`, "dev", "lan"]);
      const hosts = (plan.hosts ?? [plan.name]).map((name, j) => {
        const ns = this.#addNamespace(name);
        const address = `198.19.${i + 1}.${j + 2}`;
        this.#link(router, `l${j}`, ns, "eth0");
        sh("ip", ["-n", router, "link", "set", `l${j}`, "master", "lan"]);
        sh("ip", ["-n", ns, "addr", "add", `${address}/24`, "dev", "eth0"]);
        sh("ip", ["-n", ns, "route", "add", "default", "via", lanAddress]);
        return { name, ns, address, home: plan.name };
      });
      const iptables = (...args: string[]) => sh("ip", ["netns", "exec", router, "iptables", ...args]);
      iptables(
        "-t",
        "nat",
        "-A",
        "POSTROUTING",
        "-o",
        "wan",
        "-j",
        "MASQUERADE",
        ...(nat === "random" ? ["--random"] : []),
      );
      // A home router drops unsolicited inbound, on FORWARD and on INPUT: without the INPUT rule, a peer's early
      // punch creates a conntrack entry on the router itself, its NAT then maps the other side to another port,
      // and hole punching fails even between two port-keeping NATs.
      iptables("-A", "FORWARD", "-i", "wan", "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT");
      iptables("-A", "FORWARD", "-i", "wan", "-j", "DROP");
      iptables("-A", "INPUT", "-i", "wan", "-m", "conntrack", "--ctstate", "NEW", "-j", "DROP");
      this.homes.push({ name: plan.name, nat, router: { ns: router, wanAddress, lanAddress }, hosts });
    });
    debug("built %s: %d namespaces", this.prefix, this.#namespaces.length);
  }

  /** The world host: the first public host. */
  get world(): Host {
    return this.publicHosts[0] as Host;
  }

  /** A host (public, in a home, or a home's router: `<home>-router`) by name; throws NETNS_BAD_PLAN for an unknown one. */
  host(name: string): Host {
    const routers = this.homes.map((home) => ({
      name: `${home.name}-router`,
      ns: home.router.ns,
      address: home.router.wanAddress,
      home: home.name,
    }));
    const host = [...this.publicHosts, ...this.homes.flatMap((home) => home.hosts), ...routers].find(
      (h) => h.name === name,
    );
    if (!host) throw new NetnsError("NETNS_BAD_PLAN", `no host named ${JSON.stringify(name)} in ${this.prefix}`);
    return host;
  }

  /** Every namespace this network made (and has not removed yet). */
  get namespaces(): readonly string[] {
    return this.#namespaces;
  }

  /** Starts `command` inside a host's namespace (`ip netns exec`); destroy() kills it if it still runs. */
  spawn(host: Host | string, command: string, args: string[], options: SpawnOptions = {}): ChildProcess {
    if (this.#destroyed) throw new NetnsError("NETNS_BAD_PLAN", `${this.prefix} is destroyed`);
    const { ns } = typeof host === "string" ? this.host(host) : host;
    const child = spawn("ip", ["netns", "exec", ns, command, ...args], { stdio: "pipe", ...options });
    this.#children.add(child);
    child.once("exit", () => this.#children.delete(child));
    return child;
  }

  /** Runs a command inside a host's namespace to completion, killed after `timeoutMs`. */
  run(
    host: Host | string,
    command: string,
    args: string[],
    timeoutMs = 10_000,
  ): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const child = this.spawn(host, command, args);
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    return new Promise((resolve) =>
      child.once("close", (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      }),
    );
  }

  /** Kills what runs in it and removes every namespace (and so every link). Safe to call twice. */
  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    // Give children a moment to stop on SIGTERM (coturn frees its ports, node flushes its output).
    const exits = [...this.#children].map(
      (child) =>
        new Promise<void>((resolve) => (child.exitCode !== null ? resolve() : child.once("exit", () => resolve()))),
    );
    for (const child of this.#children) child.kill("SIGTERM");
    await Promise.race([Promise.all(exits), new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
    this.destroyNow();
  }

  /** destroy() without waiting: SIGKILL to everything inside, then the namespaces go. For exit handlers. */
  destroyNow(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    live.delete(this);
    for (const child of this.#children) child.kill("SIGKILL");
    for (const ns of this.#namespaces.splice(0).reverse()) removeNamespace(ns);
    debug("destroyed %s", this.prefix);
  }
}

/** The namespaces on this machine whose name starts with `prefix`. */
export function namespacesWithPrefix(prefix: string): string[] {
  return listNamespaces().filter((ns) => ns.startsWith(`${prefix}-`) || ns === prefix);
}
