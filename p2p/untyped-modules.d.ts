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

declare module "webtorrent" {
  import type { EventEmitter } from "node:events";

  export type TorrentOptions = {
    announce?: string[];
    name?: string;
    pieceLength?: number;
    skipVerify?: boolean;
    /** A chunk-store class (abstract-chunk-store), e.g. memory-chunk-store. */
    store?: unknown;
    /** A chunk store that already holds the pieces. */
    preloadedStore?: object;
    destroyStoreOnDestroy?: boolean;
  };
  export interface Wire extends EventEmitter {
    downloaded: number;
    uploaded: number;
  }
  export interface TorrentFile {
    length: number;
    arrayBuffer(): Promise<ArrayBuffer>;
  }
  export interface Torrent extends EventEmitter {
    infoHash: string;
    ready: boolean;
    done: boolean;
    destroyed: boolean;
    files: TorrentFile[];
    /** Bytes of all files, known once the metadata is (0 before). */
    length: number;
    /** The info dictionary, once known (ut_metadata or the .torrent given). */
    metadata: Uint8Array | null;
    wires: Wire[];
    numPeers: number;
    downloaded: number;
    uploaded: number;
    /** Its peer discovery; `tracker` is bittorrent-tracker's client (announce again with `update()`). */
    discovery?: { tracker?: { update(): void } };
    /** WebTorrent's peers by id (for WebRTC peers, the id of the stream it was given). Internal, but stable in 3.x. */
    _peers: Map<string, { wire: Wire | null }>;
    addPeer(peer: object): boolean;
    destroy(options?: { destroyStore?: boolean }, callback?: (error?: Error | null) => void): void;
  }
  export type ClientOptions = {
    dht?: boolean | object;
    tracker?: boolean | { rtcConfig?: RTCConfiguration; wrtc?: object };
    lsd?: boolean;
    utp?: boolean;
    natUpnp?: boolean;
    natPmp?: boolean;
    webSeeds?: boolean;
    utPex?: boolean;
    maxConns?: number;
    uploadLimit?: number;
    downloadLimit?: number;
  };
  export default class WebTorrent extends EventEmitter {
    constructor(options?: ClientOptions);
    torrents: Torrent[];
    destroyed: boolean;
    downloadSpeed: number;
    uploadSpeed: number;
    add(id: string | Uint8Array, options?: TorrentOptions, onTorrent?: (torrent: Torrent) => void): Torrent;
    seed(input: Uint8Array, options?: TorrentOptions, onSeed?: (torrent: Torrent) => void): Torrent;
    get(id: string): Promise<Torrent | null>;
    throttleUpload(rate: number): void;
    throttleDownload(rate: number): void;
    destroy(callback?: (error?: Error | null) => void): void;
  }
}

declare module "memory-chunk-store" {
  const MemoryChunkStore: new (
    chunkLength: number,
    options?: { length?: number },
  ) => { put(index: number, chunk: Uint8Array, callback?: (error: Error | null) => void): void };
  export default MemoryChunkStore;
}

declare module "bittorrent-tracker" {
  import type { EventEmitter } from "node:events";

  export class Server extends EventEmitter {
    constructor(options?: { http?: boolean; udp?: boolean; ws?: boolean; stats?: boolean; trustProxy?: boolean });
    ws: { address(): unknown };
    /** Swarms by infoHash (hex, no 0x). */
    torrents: Record<string, { complete: number; incomplete: number } | undefined>;
    listen(port: number, host: string, callback?: () => void): void;
    close(callback?: () => void): void;
  }
}
