/**
 * A whole world across networks on one machine, for test/net/players.test.ts and bench:networks: a world host
 * namespace runs `seedcraft up --host <its address> --public-host <same>` (every part bound to that address,
 * coturn as the turn part), and Chromium players start inside home namespaces behind NAT routers
 * (test/helpers/netns.ts). Playwright drives each Chromium over a pipe, so the browser process itself lives in
 * the home's namespace and reaches the world only through its NAT, as a player at home would. Node-only, root.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { ROOT } from "../../cli/world.ts";
import { CHROMIUM_ARGS, chromiumPath, INSTALL_COMMAND, joinWithDevAccount, type SeedcraftWindow } from "./chromium.ts";
import type { TestNetwork } from "./netns.ts";
import { waitFor } from "./world.ts";

export type NetnsWorld = {
  /** The world host's address: every part binds it, and every URL the app is given names it. */
  address: string;
  appUrl: string;
  stateDir: string;
  network: string;
  /** What `seedcraft up` printed so far (stdout and stderr). */
  output: () => string;
  /** Stops `seedcraft up` (its parts with it) and removes the state folder and the deployment file. */
  stop: () => Promise<void>;
};

/**
 * Starts `seedcraft up` on the network's world host and resolves once it says it is up (throws with its output
 * if it exits first or takes longer than `timeoutMs`). The ports are the defaults: the namespace is its own host.
 */
export async function startNetnsWorld(network: TestNetwork, name: string, timeoutMs = 240_000): Promise<NetnsWorld> {
  const address = network.world.address;
  const stateDir = mkdtempSync(path.join(tmpdir(), `seedcraft-${name}-`));
  const networkName = `test-${name}`;
  const child = network.spawn(
    network.world,
    process.execPath,
    [path.join(ROOT, "cli", "seedcraft.ts"), "up", "--host", address, "--public-host", address],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        SEEDCRAFT_NETWORK: networkName,
        SEEDCRAFT_STATE_DIR: stateDir,
        // The world's own secret (made in its state folder), whatever the shell had.
        SEEDCRAFT_TURN_SECRET: "",
        SEEDCRAFT_HOST: "",
        SEEDCRAFT_PUBLIC_HOST: "",
      },
    },
  );
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 15_000).unref())]);
    }
    // Under DEBUG=seedcraft:*, the parts' logs are kept for a look.
    if (process.env.DEBUG?.includes("seedcraft")) process.stderr.write(`netns world: logs kept in ${stateDir}/logs\n`);
    else rmSync(stateDir, { recursive: true, force: true });
    rmSync(path.join(ROOT, "deployments", `${networkName}.json`), { force: true });
    rmSync(path.join(ROOT, "deployments", `${networkName}.assets`), { recursive: true, force: true });
  };
  try {
    await waitFor(
      "seedcraft up on the world host",
      () => {
        if (child.exitCode !== null) throw new Error(`seedcraft up exited with ${child.exitCode}:\n${output}`);
        return output.includes("Seedcraft is up");
      },
      timeoutMs,
    );
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message}\n${output.slice(-3000)}`);
  }
  return { address, appUrl: `http://${address}:5173`, stateDir, network: networkName, output: () => output, stop };
}

/**
 * What an init script keeps in each player's page: every RTCPeerConnection made (and the labels of the data
 * channels it opened, so the mesh's links, which open "move", are told from torrent and voice ones), and the
 * size of every mailbox item (a signal) the page put through the gateway.
 */
export type NetnsProbe = {
  pcs: (RTCPeerConnection & { labels: string[] })[];
  signalBytes: number[];
  /** When (wall-clock ms: timeOrigin + now) the join first reached each step. */
  joinSteps: Record<string, number>;
  /** When each peer (by id) first joined the mesh. */
  peers: Record<string, number>;
  /** When each peer's op (by opKey) was applied here. */
  ops: Record<string, number>;
  /** The main thread's long tasks (over 50 ms): when they started (wall clock) and how long they took. */
  longTasks: { at: number; ms: number }[];
};
type ProbeWindow = SeedcraftWindow & { netnsProbe: NetnsProbe };

function installProbe(): void {
  const w = window as unknown as ProbeWindow;
  const probe: NetnsProbe = { pcs: [], signalBytes: [], joinSteps: {}, peers: {}, ops: {}, longTasks: [] };
  w.netnsProbe = probe;
  const wall = () => performance.timeOrigin + performance.now();
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries())
      probe.longTasks.push({ at: performance.timeOrigin + entry.startTime, ms: entry.duration });
    if (probe.longTasks.length > 5000) probe.longTasks.splice(0, probe.longTasks.length - 5000);
  }).observe({ type: "longtask", buffered: true });
  // Once the app has made its session (app/src/main.tsx): the join's steps, and the game's mesh once it has one.
  const watch = setInterval(() => {
    const session = w.seedcraft?.session;
    if (!session) return;
    clearInterval(watch);
    const onStep = () => {
      probe.joinSteps[session.join.get().step] ??= wall();
    };
    onStep();
    session.join.subscribe(onStep);
    let watched = false;
    const onGame = () => {
      const mesh = session.game.get()?.peer.mesh;
      if (!mesh || watched) return;
      watched = true;
      for (const peer of mesh.peers) probe.peers[peer.id] ??= wall();
      mesh.on("peer", (peer) => {
        probe.peers[peer.id] ??= wall();
      });
      mesh.on("op", (verdict, from) => {
        if (!from || verdict.status !== "applied") return;
        const op = verdict.op;
        probe.ops[`${op.chunk}:${op.index}:${op.block}:${op.hlc.wallMs}:${op.hlc.logical}`] ??= wall();
      });
    };
    onGame();
    session.game.subscribe(onGame);
  }, 5);
  const Native = window.RTCPeerConnection;
  class Tracked extends Native {
    labels: string[] = [];
    constructor(config?: RTCConfiguration) {
      super(config);
      probe.pcs.push(this as unknown as NetnsProbe["pcs"][number]);
    }
    override createDataChannel(label: string, init?: RTCDataChannelInit): RTCDataChannel {
      this.labels.push(label);
      return super.createDataChannel(label, init);
    }
  }
  window.RTCPeerConnection = Tracked as unknown as typeof RTCPeerConnection;
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (this: WebSocket, data: Parameters<WebSocket["send"]>[0]) {
    // A mailbox item is a salted BEP44 put (p2p/gateway-client.ts sendMail); a card has no salt.
    if (typeof data === "string" && data.includes('"op":"put"'))
      try {
        const message = JSON.parse(data) as { op?: string; v?: string; salt?: string };
        if (message.op === "put" && message.salt && typeof message.v === "string")
          probe.signalBytes.push(message.v.length / 2);
      } catch {
        // not ours to read
      }
    return send.call(this, data);
  };
}

export type NetnsPlayer = {
  label: string;
  home: string;
  browser: Browser;
  page: Page;
  peerId: string;
  name: string;
  wallet: string;
  errors: string[];
  close: () => Promise<void>;
};

/** Chromium as the home's host runs it: a wrapper that enters its namespace, then runs the real binary. */
function wrapperFor(ns: string, dir: string): string {
  const executable = chromiumPath();
  if (!executable) throw new Error(`Chromium is missing: ${INSTALL_COMMAND}`);
  const file = path.join(dir, `chromium-${ns}`);
  writeFileSync(file, `#!/bin/sh\nexec ip netns exec ${ns} ${executable} "$@"\n`);
  chmodSync(file, 0o755);
  return file;
}

/**
 * Starts Chromium on a home's host and opens the app (not joined yet). The app's origin is plain http on a
 * public address, not a secure context (navigator.locks, getUserMedia): a world others reach is served over
 * https; here Chromium is told to treat this one origin as secure instead.
 */
export async function openPlayer(
  network: TestNetwork,
  world: NetnsWorld,
  home: string,
  label: string,
): Promise<NetnsPlayer> {
  const host = network.host(home);
  const dir = mkdtempSync(path.join(tmpdir(), `seedcraft-netns-${label}-`));
  const browser = await chromium.launch({
    executablePath: wrapperFor(host.ns, dir),
    headless: true,
    args: [
      ...CHROMIUM_ARGS,
      // Host candidates as plain addresses (a Node seeder cannot resolve mDNS names).
      "--disable-features=WebRtcHideLocalIpsWithMdns",
      `--unsafely-treat-insecure-origin-as-secure=${world.appUrl}`,
      "--autoplay-policy=no-user-gesture-required",
    ],
  });
  const context = await browser.newContext({ viewport: { width: 480, height: 320 } });
  await context.grantPermissions(["microphone", "camera"], { origin: world.appUrl });
  await context.addInitScript(installProbe);
  // The app's debug output (the `debug` package reads localStorage in a browser) under DEBUG=seedcraft:*.
  const debugNames = process.env.DEBUG;
  if (debugNames?.includes("seedcraft"))
    await context.addInitScript((names) => localStorage.setItem("debug", names), debugNames);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(`${label}: ${error.message}`));
  page.on("crash", () => errors.push(`${label}: the page crashed`));
  if (process.env.DEBUG?.includes("seedcraft"))
    page.on("console", (message) =>
      process.stderr.write(`[${new Date().toISOString().slice(14, 23)} ${label}] ${message.text()}\n`),
    );
  return {
    label,
    home,
    browser,
    page,
    peerId: "",
    name: "",
    wallet: "",
    errors,
    close: async () => {
      await browser.close().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Loads the app, connects the dev account and waits until the player has joined; fills in who it is. */
export async function enterWorld(player: NetnsPlayer, world: NetnsWorld): Promise<void> {
  await player.page.goto(world.appUrl);
  await joinWithDevAccount(player.page);
  const facts = await player.page.evaluate(() => {
    const game = (window as unknown as SeedcraftWindow).seedcraft.session.game.get();
    return {
      peerId: game?.peer.id ?? "",
      wallet: game?.peer.mesh.identity.wallet ?? "",
      name: game?.peer.mesh.identity.name ?? "",
    };
  });
  Object.assign(player, facts);
}

/** The peer ids a player's mesh is linked with. */
export function linkedPeers(player: NetnsPlayer): Promise<string[]> {
  return player.page.evaluate(
    // None while the page (re)loads.
    () =>
      (window as unknown as Partial<SeedcraftWindow>).seedcraft?.session.game.get()?.peer.mesh.peers.map((p) => p.id) ??
      [],
  );
}

export type CandidateEnd = { type: string; address: string; port: number; protocol: string };
/** One of the mesh's WebRTC links as ICE stats name it: its own and the other side's ICE ufrag, and the pair in use. */
export type LinkStats = {
  state: string;
  localUfrag: string | undefined;
  remoteUfrag: string | undefined;
  pair?: { local: CandidateEnd; remote: CandidateEnd };
};

/** The ICE stats of every mesh link (a connection that opened the "move" channel) in a player's page. */
export function meshLinkStats(player: NetnsPlayer): Promise<LinkStats[]> {
  return player.page.evaluate(async () => {
    const probe = (window as unknown as ProbeWindow).netnsProbe;
    const ufrag = (sdp: string | undefined) => /a=ice-ufrag:(\S+)/.exec(sdp ?? "")?.[1];
    const out: LinkStats[] = [];
    for (const pc of probe.pcs) {
      if (!pc.labels.includes("move")) continue;
      const link: LinkStats = {
        state: pc.connectionState,
        localUfrag: ufrag(pc.localDescription?.sdp),
        remoteUfrag: ufrag(pc.remoteDescription?.sdp),
      };
      if (pc.connectionState === "connected") {
        const reports = [...((await pc.getStats()).values() as Iterable<Record<string, unknown>>)];
        const byId = new Map(reports.map((r) => [r.id as string, r]));
        const transport = reports.find((r) => r.type === "transport" && r.selectedCandidatePairId);
        const pair = byId.get(transport?.selectedCandidatePairId as string);
        const end = (id: unknown) => {
          const c = byId.get(id as string) ?? {};
          return {
            type: String(c.candidateType),
            address: String(c.address ?? c.ip),
            port: Number(c.port),
            protocol: String(c.relayProtocol ?? c.protocol),
          };
        };
        if (pair) link.pair = { local: end(pair.localCandidateId), remote: end(pair.remoteCandidateId) };
      }
      out.push(link);
    }
    return out;
  });
}

/** The sizes of the mailbox items (signals) a player's page has put so far. */
export function signalBytes(player: NetnsPlayer): Promise<number[]> {
  return player.page.evaluate(() => (window as unknown as ProbeWindow).netnsProbe.signalBytes.slice());
}

/** What a player's page timed so far: its join's steps, its peers' arrivals and its peers' ops applied. */
export function probeTimes(
  player: NetnsPlayer,
): Promise<Pick<NetnsProbe, "joinSteps" | "peers" | "ops" | "longTasks">> {
  return player.page.evaluate(() => {
    const { joinSteps, peers, ops, longTasks } = (window as unknown as ProbeWindow).netnsProbe;
    return { joinSteps, peers, ops, longTasks };
  });
}
