/**
 * A WebSocket JSON-RPC proxy that can go quiet the way a stalled node does: while stalled it keeps every socket
 * open and forwards everything but the `newHeads` subscription's notifications. Tests and bench:soak put it
 * between the indexer and the chain. Node-only.
 */
import type { AddressInfo } from "node:net";
import { WebSocket, WebSocketServer } from "ws";

type RpcFrame = { id?: unknown; method?: unknown; params?: unknown; result?: unknown };

export class StallProxy {
  readonly #server: WebSocketServer;
  readonly #sockets = new Set<WebSocket>();
  /** Every newHeads subscription id the chain gave through this proxy. */
  readonly #subscriptions = new Set<string>();
  /** What is swallowed: every newHeads notification, or those of the subscriptions open at the stall. */
  #muted: "all" | Set<string> | undefined;
  /** newHeads notifications held back while stalled (for the tests' assertions). */
  dropped = 0;
  /** newHeads notifications forwarded. */
  forwarded = 0;

  private constructor(server: WebSocketServer, target: string) {
    this.#server = server;
    server.on("connection", (client) => this.#relay(client, target));
  }

  /** Listens on 127.0.0.1:`port` (0: any free port) and relays every connection to `target` (ws://…). */
  static async start(target: string, port = 0): Promise<StallProxy> {
    const server = new WebSocketServer({ host: "127.0.0.1", port });
    await new Promise<void>((resolve, reject) => {
      server.once("listening", resolve);
      server.once("error", reject);
    });
    return new StallProxy(server, target);
  }

  get url(): string {
    return `ws://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  get stalled(): boolean {
    return this.#muted !== undefined;
  }

  /** How many newHeads subscriptions were made through the proxy. */
  get subscriptions(): number {
    return this.#subscriptions.size;
  }

  /**
   * From now on, newHeads notifications are swallowed; the sockets stay open. `"open"`: only those of the
   * subscriptions open now, as hardhat's node silently drops a subscription (later ones work).
   */
  stall(which: "all" | "open" = "all"): void {
    this.#muted = which === "all" ? "all" : new Set(this.#subscriptions);
  }

  resume(): void {
    this.#muted = undefined;
  }

  #relay(client: WebSocket, target: string): void {
    const upstream = new WebSocket(target);
    this.#sockets.add(client).add(upstream);
    const queued: { data: Buffer; binary: boolean }[] = [];
    // Request ids of eth_subscribe("newHeads") calls, then the subscription ids they were given.
    const headRequests = new Set<unknown>();
    const headSubscriptions = new Set<string>();
    client.on("message", (data: Buffer, binary: boolean) => {
      const frame = parse(data);
      if (frame?.method === "eth_subscribe" && Array.isArray(frame.params) && frame.params[0] === "newHeads")
        headRequests.add(frame.id);
      if (upstream.readyState === WebSocket.OPEN) upstream.send(data, { binary });
      else queued.push({ data, binary });
    });
    upstream.on("open", () => {
      for (const { data, binary } of queued.splice(0)) upstream.send(data, { binary });
    });
    upstream.on("message", (data: Buffer, binary: boolean) => {
      const frame = parse(data);
      if (frame && headRequests.has(frame.id) && typeof frame.result === "string") {
        headRequests.delete(frame.id);
        headSubscriptions.add(frame.result);
        this.#subscriptions.add(frame.result);
      }
      const subscription = (frame?.params as { subscription?: unknown } | undefined)?.subscription;
      if (
        frame?.method === "eth_subscription" &&
        typeof subscription === "string" &&
        headSubscriptions.has(subscription)
      ) {
        if (this.#muted === "all" || this.#muted?.has(subscription)) {
          this.dropped++;
          return;
        }
        this.forwarded++;
      }
      if (client.readyState === WebSocket.OPEN) client.send(data, { binary });
    });
    const close = () => {
      this.#sockets.delete(client);
      this.#sockets.delete(upstream);
      client.close();
      upstream.close();
    };
    client.on("close", close);
    upstream.on("close", close);
    client.on("error", close);
    upstream.on("error", close);
  }

  /** Closes every socket and the server. Safe to call twice. */
  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.terminate();
    this.#sockets.clear();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

function parse(data: Buffer): RpcFrame | undefined {
  try {
    const value: unknown = JSON.parse(data.toString());
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as RpcFrame) : undefined;
  } catch {
    return undefined;
  }
}
