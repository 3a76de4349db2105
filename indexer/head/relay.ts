/**
 * The heads relay: a WebSocket server on 127.0.0.1 that Ponder's newHeads socket connects to instead of
 * the chain. Each client gets a Link to the chain's real endpoint that keeps its subscription delivering
 * whatever the chain's subscription does (see link.ts); the relay counts the stalls and recoveries.
 */
import type { AddressInfo } from "node:net";
import createDebug from "debug";
import { WebSocketServer } from "ws";
import { Link } from "./link.ts";
import type { HeadWatch } from "./watch.ts";

const debug = createDebug("seedcraft:indexer:relay");

export type HeadsRelayOptions = {
  /** The chain's WebSocket endpoint. */
  upstreamUrl: string;
  /** The HTTP head the subscriptions are held to. */
  watch: HeadWatch;
  /** How long a subscription may lag the HTTP head before the relay steps in (default 1 s). */
  stallMs?: number;
  /** A live subscription is renewed this often (default 4 min: hardhat drops it at 5). */
  resubscribeMs?: number;
  /** Where to listen (default 127.0.0.1, a free port). */
  host?: string;
  port?: number;
  now?: () => number;
  /** Where the one-line notices of a stall and a recovery go (default stderr). */
  log?: (line: string) => void;
};

export type RelayStats = {
  /** "recovering" while a subscription lags the HTTP head and the relay is delivering its blocks. */
  state: "live" | "recovering" | "idle";
  /** Stalls seen since the process started (each one was recovered or is being recovered). */
  recoveries: number;
  /** Blocks delivered from HTTP instead of the chain's subscription. */
  synthesized: number;
  /** How long the last recovery took until the chain's subscription delivered again (ms). */
  lastRecoveryMs: number | null;
};

export class HeadsRelay {
  readonly #options: Required<Omit<HeadsRelayOptions, "port">> & { port: number };
  readonly #links = new Set<Link>();
  #server: WebSocketServer | undefined;
  #recoveries = 0;
  #synthesized = 0;
  #lastRecoveryMs: number | null = null;

  constructor(options: HeadsRelayOptions) {
    this.#options = {
      stallMs: 1_000,
      resubscribeMs: 240_000,
      host: "127.0.0.1",
      port: 0,
      now: () => performance.now(),
      log: (line) => process.stderr.write(`${line}\n`),
      ...options,
    };
  }

  /** Starts listening; resolves with the ws:// URL to give Ponder. */
  async listen(): Promise<string> {
    const server = new WebSocketServer({ host: this.#options.host, port: this.#options.port });
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("listening", resolve);
      server.once("error", reject);
    });
    server.on("connection", (socket) => {
      const { upstreamUrl, watch, stallMs, resubscribeMs, now, log } = this.#options;
      const link = new Link(socket, {
        upstreamUrl,
        watch,
        stallMs,
        resubscribeMs,
        now,
        events: {
          stalled: ({ subscription, delivered, head }) => {
            this.#recoveries++;
            log(
              `indexer: the chain's newHeads went quiet at block ${delivered} while the chain is at ${head}; subscribing again and delivering blocks read over HTTP (stall ${this.#recoveries})`,
            );
            debug("subscription %s stalled", subscription);
          },
          recovered: ({ afterMs, synthesized }) => {
            this.#lastRecoveryMs = afterMs;
            this.#synthesized += synthesized;
            log(
              `indexer: the chain's newHeads are back after ${afterMs} ms (${synthesized} block${synthesized === 1 ? "" : "s"} read over HTTP meanwhile)`,
            );
          },
        },
      });
      this.#links.add(link);
      socket.on("close", () => this.#links.delete(link));
    });
    const { port } = server.address() as AddressInfo;
    return `ws://${this.#options.host}:${port}`;
  }

  stats(): RelayStats {
    const subs = [...this.#links].flatMap((link) => link.subscriptions());
    return {
      state: subs.length === 0 ? "idle" : subs.some((s) => s.state === "recovering") ? "recovering" : "live",
      recoveries: this.#recoveries,
      // A recovery under way counts the blocks it delivered so far.
      synthesized: this.#synthesized + subs.reduce((sum, s) => sum + (s.state === "recovering" ? s.synthesized : 0), 0),
      lastRecoveryMs: this.#lastRecoveryMs,
    };
  }

  /** Idempotent. */
  async close(): Promise<void> {
    for (const link of this.#links) link.close();
    this.#links.clear();
    const server = this.#server;
    this.#server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
