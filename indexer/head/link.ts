/**
 * One client of the heads relay (Ponder's newHeads socket) and its socket to the chain. Everything passes
 * through, except that a newHeads subscription outlives a quiet upstream: when the HTTP head moves past the
 * last block delivered for longer than `stallMs`, the link subscribes again upstream (on a new socket if
 * that does not help), keeps the id the client knows, and meanwhile delivers the missing blocks itself,
 * read over HTTP the moment the HTTP head shows them (the watch is hurried meanwhile: each millisecond before a
 * head is seen is a millisecond of the index's lag). Hardhat's node drops a subscription nobody polls after five
 * minutes (hardhat#2053), so a live subscription is also renewed every `resubscribeMs`.
 */
import createDebug from "debug";
import WebSocket from "ws";
import type { HeadWatch } from "./watch.ts";

const debug = createDebug("seedcraft:indexer:relay");

type Json = Record<string, unknown>;
type Header = Json & { number: string; hash: string };

/** What a link reports to its relay. */
export type LinkEvents = {
  stalled(info: { subscription: string; delivered: number; head: number }): void;
  recovered(info: { subscription: string; afterMs: number; synthesized: number }): void;
};

export type LinkOptions = {
  upstreamUrl: string;
  watch: HeadWatch;
  stallMs: number;
  resubscribeMs: number;
  now: () => number;
  events: LinkEvents;
};

type Subscription = {
  /** The id the client knows (the first upstream id). */
  id: string;
  /** Upstream ids that feed it (two while a renewal overlaps the old one). */
  upstream: Set<string>;
  /** The highest block number delivered (-1: not known yet, set from the next HTTP head). */
  delivered: number;
  /** The hash delivered at each recent height: a block goes out once, whoever brought it. */
  recent: Map<number, string>;
  state: "live" | "recovering";
  stalledAt: number;
  behindSince: number | undefined;
  subscribedAt: number;
  /** Upstream attempts since the stall (the first on the same socket, then new sockets). */
  attempts: number;
  synthesized: number;
  synthesizing: boolean;
};

const RECENT = 256;
const RECONNECT_MAX_MS = 5_000;

function isHeader(value: unknown): value is Header {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as Json).number === "string" &&
    typeof (value as Json).hash === "string" &&
    typeof (value as Json).parentHash === "string"
  );
}

export class Link {
  readonly #client: WebSocket;
  readonly #options: LinkOptions;
  readonly #subs = new Map<string, Subscription>();
  readonly #byUpstream = new Map<string, Subscription>();
  /** Upstream ids renewed away: their late notifications are dropped, never shown to the client. */
  readonly #retired = new Set<string>();
  /** Client request ids (as JSON) of newHeads subscribe requests in flight. */
  readonly #subscribing = new Set<string>();
  /** The relay's own requests upstream, by id. */
  readonly #own = new Map<string, (message: Json) => void>();
  /** Client requests in flight upstream (answered with an error if that socket dies). */
  readonly #inFlight = new Map<string, unknown>();
  #upstream: WebSocket | undefined;
  #queue: string[] = [];
  #nextId = 0;
  #reconnectMs = 250;
  #closed = false;
  #unwatch: () => void;
  #timer: ReturnType<typeof setInterval>;
  /** Releases the watch's hurry, held while any subscription is recovering. */
  #unhurry: (() => void) | undefined;

  constructor(client: WebSocket, options: LinkOptions) {
    this.#client = client;
    this.#options = options;
    this.#connect();
    client.on("message", (data) => this.#fromClient(data.toString()));
    client.on("close", () => this.close());
    client.on("error", () => this.close());
    this.#unwatch = options.watch.onHead(() => this.#check());
    // Also on a timer: a head that stopped moving still has to be caught up with.
    this.#timer = setInterval(() => this.#check(), Math.max(100, Math.min(500, options.stallMs / 2)));
  }

  /** Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#unwatch();
    this.#unhurry?.();
    this.#unhurry = undefined;
    clearInterval(this.#timer);
    this.#upstream?.terminate();
    if (this.#client.readyState === WebSocket.OPEN || this.#client.readyState === WebSocket.CONNECTING)
      this.#client.close();
  }

  /** The newHeads subscriptions this link keeps, for the relay's status. */
  subscriptions(): { id: string; state: "live" | "recovering"; delivered: number; synthesized: number }[] {
    return [...this.#subs.values()].map(({ id, state, delivered, synthesized }) => ({
      id,
      state,
      delivered,
      synthesized,
    }));
  }

  #connect(): void {
    if (this.#closed) return;
    const socket = new WebSocket(this.#options.upstreamUrl);
    this.#upstream = socket;
    socket.on("open", () => {
      if (socket !== this.#upstream) return;
      this.#reconnectMs = 250;
      for (const text of this.#queue.splice(0)) socket.send(text);
    });
    socket.on("message", (data) => {
      if (socket === this.#upstream) this.#fromUpstream(data.toString());
    });
    socket.on("error", (error) => debug("upstream socket error: %s", error.message));
    socket.on("close", () => {
      if (socket !== this.#upstream || this.#closed) return;
      debug("upstream socket closed; reconnecting in %d ms", this.#reconnectMs);
      this.#upstream = undefined;
      this.#failInFlight("the chain's WebSocket closed");
      setTimeout(() => {
        if (this.#upstream || this.#closed) return; // a stall check moved to a new socket meanwhile
        this.#connect();
        this.#resubscribeAll();
      }, this.#reconnectMs);
      this.#reconnectMs = Math.min(RECONNECT_MAX_MS, this.#reconnectMs * 2);
    });
  }

  /** Moves every subscription to a new upstream socket (the old one may be open but deaf). */
  #reconnect(): void {
    const old = this.#upstream;
    this.#upstream = undefined;
    old?.terminate();
    this.#failInFlight("the relay moved to a new socket");
    this.#connect();
    this.#resubscribeAll();
  }

  #resubscribeAll(): void {
    for (const sub of this.#subs.values()) {
      for (const id of sub.upstream) this.#retire(id);
      sub.upstream.clear();
      this.#subscribe(sub);
    }
  }

  #retire(upstreamId: string): void {
    this.#byUpstream.delete(upstreamId);
    this.#retired.add(upstreamId);
    if (this.#retired.size > 64) this.#retired.delete(this.#retired.values().next().value as string);
  }

  #failInFlight(reason: string): void {
    // Their requests are answered with an error here: the client asks again, so none may go out later.
    this.#queue = [];
    for (const id of this.#inFlight.values())
      this.#toClient({ jsonrpc: "2.0", id, error: { code: -32603, message: reason } });
    this.#inFlight.clear();
    this.#subscribing.clear();
    this.#own.clear();
  }

  #send(message: Json): void {
    this.#sendText(JSON.stringify(message));
  }

  #sendText(text: string): void {
    if (this.#upstream?.readyState === WebSocket.OPEN) this.#upstream.send(text);
    else this.#queue.push(text);
  }

  #toClient(message: Json): void {
    if (this.#client.readyState === WebSocket.OPEN) this.#client.send(JSON.stringify(message));
  }

  /** A newHeads subscription upstream for `sub`; the old upstream ids stay until the new one answers. */
  #subscribe(sub: Subscription): void {
    const id = `relay:${++this.#nextId}`;
    sub.subscribedAt = this.#options.now();
    this.#own.set(id, (message) => {
      if (typeof message.result !== "string") {
        debug("re-subscribing %s failed: %o", sub.id, message.error);
        return;
      }
      if (!this.#subs.has(sub.id)) return void this.#unsubscribe(message.result);
      for (const old of sub.upstream) {
        this.#retire(old);
        this.#unsubscribe(old);
      }
      sub.upstream = new Set([message.result]);
      this.#byUpstream.set(message.result, sub);
      debug("subscription %s now fed by upstream %s", sub.id, message.result);
    });
    this.#send({ jsonrpc: "2.0", id, method: "eth_subscribe", params: ["newHeads"] });
  }

  #unsubscribe(upstreamId: string): void {
    const id = `relay:${++this.#nextId}`;
    this.#own.set(id, () => undefined);
    this.#send({ jsonrpc: "2.0", id, method: "eth_unsubscribe", params: [upstreamId] });
  }

  #fromClient(text: string): void {
    let message: Json;
    try {
      message = JSON.parse(text) as Json;
    } catch {
      this.#sendText(text); // not ours to judge: the chain answers it
      return;
    }
    const key = JSON.stringify(message.id ?? null);
    if (message.method === "eth_unsubscribe" && Array.isArray(message.params)) {
      const sub = this.#subs.get(String(message.params[0]));
      if (sub) {
        this.#subs.delete(sub.id);
        this.#hurryWhileRecovering();
        for (const id of sub.upstream) {
          this.#retire(id);
          this.#unsubscribe(id);
        }
        this.#toClient({ jsonrpc: "2.0", id: message.id, result: true });
        return;
      }
    }
    if (message.method === "eth_subscribe" && Array.isArray(message.params) && message.params[0] === "newHeads")
      this.#subscribing.add(key);
    if (message.id !== undefined) this.#inFlight.set(key, message.id);
    this.#send(message);
  }

  #fromUpstream(text: string): void {
    let message: Json;
    try {
      message = JSON.parse(text) as Json;
    } catch {
      if (this.#client.readyState === WebSocket.OPEN) this.#client.send(text);
      return;
    }
    if (message.method === "eth_subscription") {
      const params = message.params as { subscription?: unknown; result?: unknown } | undefined;
      const upstreamId = String(params?.subscription);
      const sub = this.#byUpstream.get(upstreamId);
      if (sub && isHeader(params?.result)) this.#genuine(sub, params.result);
      else if (!this.#retired.has(upstreamId)) this.#toClient(message);
      return;
    }
    const key = JSON.stringify(message.id ?? null);
    const own = typeof message.id === "string" ? this.#own.get(message.id) : undefined;
    if (own) {
      this.#own.delete(message.id as string);
      own(message);
      return;
    }
    this.#inFlight.delete(key);
    if (this.#subscribing.delete(key) && typeof message.result === "string") {
      const now = this.#options.now();
      const sub: Subscription = {
        id: message.result,
        upstream: new Set([message.result]),
        // Blocks up to the head at subscription time are the client's own business (it synced them).
        delivered: this.#options.watch.head ?? -1,
        recent: new Map(),
        state: "live",
        stalledAt: 0,
        behindSince: undefined,
        subscribedAt: now,
        attempts: 0,
        synthesized: 0,
        synthesizing: false,
      };
      this.#subs.set(sub.id, sub);
      this.#byUpstream.set(sub.id, sub);
    }
    this.#toClient(message);
  }

  /** The watch polls fast while a subscription is recovering, at its usual pace otherwise. */
  #hurryWhileRecovering(): void {
    const recovering = !this.#closed && [...this.#subs.values()].some((sub) => sub.state === "recovering");
    if (recovering) this.#unhurry ??= this.#options.watch.hurry();
    else {
      this.#unhurry?.();
      this.#unhurry = undefined;
    }
  }

  /** A block the chain's subscription brought: the subscription is alive. */
  #genuine(sub: Subscription, header: Header): void {
    if (sub.state === "recovering") {
      sub.state = "live";
      this.#hurryWhileRecovering();
      this.#options.events.recovered({
        subscription: sub.id,
        afterMs: Math.round(this.#options.now() - sub.stalledAt),
        synthesized: sub.synthesized,
      });
    }
    sub.attempts = 0;
    this.#deliver(sub, header, true);
  }

  /**
   * Sends a header to the client, at most once per block, and never one below the highest delivered unless
   * the chain's subscription says that height now has another hash (a reorg): Ponder takes any block at or
   * below its latest for a reorg and re-walks the chain, so a late or stale header would cost it dearly.
   * Heights skipped between two headers are fetched by Ponder itself.
   */
  #deliver(sub: Subscription, header: Header, genuine: boolean): boolean {
    const number = Number(header.number);
    const known = sub.recent.get(number);
    debug(
      "block %d %s from %s (delivered %d)",
      number,
      header.hash.slice(0, 10),
      genuine ? "newHeads" : "HTTP",
      sub.delivered,
    );
    if (known === header.hash) return false;
    if (number <= sub.delivered) {
      if (!genuine || known === undefined) return false;
      for (const height of sub.recent.keys()) if (height > number) sub.recent.delete(height);
    }
    sub.recent.set(number, header.hash);
    if (sub.recent.size > RECENT) sub.recent.delete(sub.recent.keys().next().value as number);
    sub.delivered = number;
    this.#toClient({ jsonrpc: "2.0", method: "eth_subscription", params: { subscription: sub.id, result: header } });
    return true;
  }

  /** On every head and timer tick: is any subscription behind the HTTP head for too long? */
  #check(): void {
    const head = this.#options.watch.head;
    if (head === undefined || this.#closed) return;
    const now = this.#options.now();
    const { stallMs, resubscribeMs } = this.#options;
    for (const sub of this.#subs.values()) {
      if (sub.delivered < 0) sub.delivered = head;
      if (head <= sub.delivered) {
        sub.behindSince = undefined;
        if (sub.state === "live" && now - sub.subscribedAt >= resubscribeMs) {
          debug("renewing subscription %s before the chain's deadline", sub.id);
          this.#subscribe(sub);
        }
        continue;
      }
      sub.behindSince ??= now;
      // While recovering, every block the HTTP head shows is delivered at once (the dedup drops doubles).
      if (sub.state === "live" && now - sub.behindSince < stallMs) continue;
      if (sub.state === "live") {
        sub.state = "recovering";
        sub.stalledAt = now;
        sub.synthesized = 0;
        this.#hurryWhileRecovering();
        this.#options.events.stalled({ subscription: sub.id, delivered: sub.delivered, head });
      }
      // Same socket first; then a new socket, less and less often (at most every 10 s).
      const wait = sub.attempts === 0 ? 0 : Math.min(10_000, stallMs * 2 ** sub.attempts);
      if (now - sub.subscribedAt >= wait) {
        if (sub.attempts === 0) this.#subscribe(sub);
        else this.#reconnect();
        sub.attempts++;
      }
      void this.#synthesize(sub);
    }
  }

  /**
   * Delivers the head block, read over HTTP (Ponder fetches the heights in between itself); a head that moved
   * while one was fetched is fetched at once, not at the next check.
   */
  async #synthesize(sub: Subscription): Promise<void> {
    if (sub.synthesizing) return;
    sub.synthesizing = true;
    try {
      let fetched = sub.delivered;
      for (;;) {
        const head = this.#options.watch.head;
        if (
          this.#closed ||
          sub.state !== "recovering" ||
          head === undefined ||
          head <= Math.max(fetched, sub.delivered)
        )
          break;
        fetched = head;
        const block = await this.#options.watch.request("eth_getBlockByNumber", [`0x${head.toString(16)}`, false]);
        if (!isHeader(block) || this.#closed) break;
        // A header, as newHeads carries: with a transaction list Ponder would take it for a full block.
        const { transactions: _, ...header } = block;
        if (this.#deliver(sub, header as Header, false)) sub.synthesized++;
      }
    } catch (error) {
      debug("reading blocks over HTTP failed: %s", (error as Error).message.split("\n")[0]);
    } finally {
      sub.synthesizing = false;
    }
  }
}
