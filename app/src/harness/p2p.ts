/**
 * A browser peer without the game around it, for end-to-end tests: it joins through the DHT gateway,
 * links with Node peers over the browser's own WebRTC, and exposes a few calls on
 * `window.seedcraftHarness` for the test to drive (start, edit, hash, peers).
 */
import { type Hex, hexToBytes } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import type { Position } from "../../../core/proximity.ts";
import { GatewayDht } from "../../../p2p/gateway-client.ts";
import { IndexerLedger } from "../../../p2p/ledger.ts";
import { WorldPeer } from "../../../p2p/peer.ts";
import { connectThroughDht } from "../../../p2p/signal.ts";

export type HarnessConfig = {
  /** One gateway or several (p2p/gateway-client.ts uses them all). */
  gateways: string[];
  indexer: string;
  domain: { chainId: number; verifyingContract: Hex };
  wallet: Hex;
  sessionPrivateKey: Hex;
  name: string;
  position: [number, number, number];
  dhtSecretKey?: Hex;
};

let peer: WorldPeer | undefined;
let gateways: GatewayDht | undefined;
const applied: string[] = [];

const harness = {
  async start(config: HarnessConfig): Promise<string> {
    const dht = await GatewayDht.connect(
      config.gateways,
      config.dhtSecretKey ? hexToBytes(config.dhtSecretKey) : undefined,
    );
    gateways = dht;
    peer = await WorldPeer.start({
      dht,
      // The browser's own WebRTC; no STUN or TURN on a loopback world.
      connect: (mailboxes, key, options) =>
        connectThroughDht(mailboxes, key, { ...options, config: { iceServers: [] } }),
      domain: config.domain,
      ledger: new IndexerLedger(config.indexer),
      wallet: config.wallet,
      sessionKey: privateKeyToAccount(config.sessionPrivateKey),
      name: config.name,
      position: config.position as Position,
    });
    peer.mesh.on("op", (verdict, from) => {
      if (from && verdict.status === "applied") applied.push(`${verdict.op.chunk}:${verdict.op.index}`);
    });
    return peer.id;
  },
  gateways(): string[] {
    return gateways?.gateways ?? [];
  },
  peers(): string[] {
    return peer?.mesh.peers.map((p) => p.id) ?? [];
  },
  async edit(chunk: string, index: number, block: number): Promise<string> {
    if (!peer) throw new Error("start first");
    const { verdict } = await peer.mesh.edit(BigInt(chunk), index, block);
    return verdict.status;
  },
  hash(chunk: string): string {
    if (!peer) throw new Error("start first");
    return peer.replica.hash(BigInt(chunk));
  },
  applied(): string[] {
    return [...applied];
  },
  async stop(): Promise<void> {
    await peer?.stop();
  },
};

(window as unknown as { seedcraftHarness: typeof harness }).seedcraftHarness = harness;
