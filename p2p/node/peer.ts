/**
 * Node-only: a headless peer (p2p/peer.ts) on a DHT node of its own, with node-datachannel's WebRTC
 * and libsecp256k1 for signature recovery. `seedcraft peer`, the tests and bench:propagation run it.
 */
import createDebug from "debug";
import type { IceServer } from "../../core/ice-servers.ts";
import { type PeerDht, WorldPeer, type WorldPeerOptions } from "../peer.ts";
import { WorldDht } from "./dht.ts";
import { installNativeSecp256k1 } from "./native-secp256k1.ts";
import { LOOPBACK_RTC_CONFIG, nodeRtcConfig } from "./rtc.ts";
import { connectThroughDht } from "./signal.ts";

const debug = createDebug("seedcraft:peer");

export type NodePeerOptions = Omit<WorldPeerOptions, "dht" | "connect"> & {
  /** DHT bootstrap nodes, "host:port". */
  bootstrap: string[];
  /** Where its DHT socket and WebRTC host candidates bind (127.0.0.1 by default). */
  host?: string;
  /** STUN/TURN servers its WebRTC gathers from (none by default: loopback ICE). */
  iceServers?: readonly IceServer[];
};

export type NodePeer = WorldPeer;

export const NodePeer = {
  async start(options: NodePeerOptions): Promise<NodePeer> {
    // Every op received is a signature recovery: libsecp256k1 when it loads here.
    installNativeSecp256k1();
    const startedAt = Date.now();
    const dht: PeerDht = await WorldDht.start({ bootstrap: options.bootstrap, host: options.host });
    const config = nodeRtcConfig(options);
    debug("%s: DHT node ready in %d ms", options.name, Date.now() - startedAt);
    try {
      return await WorldPeer.start({
        ...options,
        dht,
        connect:
          config === LOOPBACK_RTC_CONFIG
            ? connectThroughDht
            : (mailboxes, key, connectOptions) => connectThroughDht(mailboxes, key, { config, ...connectOptions }),
      });
    } catch (error) {
      await dht.destroy();
      throw error;
    }
  },
};
