/** The few parts of untyped packages that p2p/ uses. */
declare module "bencode" {
  const bencode: {
    encode(value: unknown): Uint8Array;
    decode(data: Uint8Array): unknown;
  };
  export default bencode;
}

declare module "bittorrent-dht" {
  import type { EventEmitter } from "node:events";

  export type DhtOptions = {
    bootstrap?: string[] | false;
    host?: string | false;
    verify?: (signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array) => boolean;
    timeBucketOutdated?: number;
  };
  export type MutablePut = {
    k: Uint8Array;
    v: Uint8Array;
    seq: number;
    salt?: Uint8Array;
  } & ({ sign: (message: Uint8Array) => Uint8Array } | { sig: Uint8Array });
  export type GetResult = { v: Uint8Array; k?: Uint8Array; seq?: number; sig?: Uint8Array } | null;

  export default class DHT extends EventEmitter {
    constructor(options?: DhtOptions);
    nodeId: Uint8Array;
    listening: boolean;
    listen(port: number, host: string, callback?: () => void): void;
    address(): { address: string; family: string; port: number };
    announce(infoHash: string | Uint8Array, port: number, callback?: (error: Error | null) => void): void;
    lookup(infoHash: string | Uint8Array, callback?: (error: Error | null, found: number) => void): () => void;
    put(options: MutablePut, callback: (error: Error | null, hash: Uint8Array, responses: number) => void): void;
    get(hash: Uint8Array, callback: (error: Error | null, result: GetResult) => void): void;
    destroy(callback?: () => void): void;
    toJSON(): { nodes: { host: string; port: number }[] };
  }
}

declare module "simple-peer" {
  import type { EventEmitter } from "node:events";

  export type SignalData = { type?: string; sdp?: string; candidate?: unknown; renegotiate?: boolean };
  export type PeerOptions = {
    initiator?: boolean;
    trickle?: boolean;
    config?: RTCConfiguration;
    wrtc?: object;
    channelConfig?: RTCDataChannelInit;
  };

  export default class Peer extends EventEmitter {
    constructor(options?: PeerOptions);
    connected: boolean;
    destroyed: boolean;
    signal(data: SignalData | string): void;
    send(data: string | Uint8Array): void;
    destroy(error?: Error): void;
  }
}
