/**
 * bench:core — the world core's hot paths: applying ops to a chunk (with and without signature
 * checks), rehashing after an edit, hashing a whole chunk, wire encode/decode, and one op's wire size.
 * Usage: npm run bench:core   Last line: one JSON object.
 */
import os from "node:os";
import { privateKeyToAccount } from "viem/accounts";
import { CHUNK_VOLUME, chunkIdOf } from "../core/chunk.ts";
import { ChunkState } from "../core/conflict.ts";
import { ChunkMerkle, chunkHash } from "../core/merkle.ts";
import {
  type BlockOp,
  recoverBatchSigner,
  recoverOpSigner,
  type SignedOp,
  type SignedOpBatch,
  signOp,
  signOpBatch,
} from "../core/op.ts";
import { generateChunk } from "../core/terrain.ts";
import { DEFAULT_OP_TTL, decodeMessage, encodeMessage, type WireMessage } from "../core/wire.ts";
import { prng } from "../test/helpers/prng.ts";
import { median } from "./stats.ts";

const SEED = 1234;
const CHUNK = chunkIdOf(0, 0, 0);
const AUTHORS = Array.from({ length: 8 }, (_, i) => `0x${(i + 1).toString(16).padStart(40, "0")}` as const);
const domain = { chainId: 31337, verifyingContract: "0x5FbDB2315678afecb367f032d93F642f64180aa3" } as const;

function makeOps(count: number, random: () => number): BlockOp[] {
  const ops: BlockOp[] = [];
  let wallMs = 1_760_000_000_000;
  for (let i = 0; i < count; i++) {
    if (random() < 0.5) wallMs++;
    ops.push({
      chunk: CHUNK,
      index: Math.floor(random() * CHUNK_VOLUME),
      block: 1 + Math.floor(random() * 9),
      hlc: { wallMs, logical: Math.floor(random() * 4) },
      author: AUTHORS[Math.floor(random() * AUTHORS.length)] as `0x${string}`,
    });
  }
  return ops;
}

const terrain = generateChunk(SEED, 0, 0, 0);
const random = prng(42);

// 1. Ops applied per second, signatures already checked: the fold into a chunk (5 runs of 1M ops).
const PRESIG_OPS = 1_000_000;
const presigOps = makeOps(PRESIG_OPS, random);
const presigRates: number[] = [];
for (let run = 0; run < 5; run++) {
  const state = new ChunkState(CHUNK, terrain);
  const started = performance.now();
  for (const op of presigOps) state.apply(op);
  presigRates.push(PRESIG_OPS / ((performance.now() - started) / 1000));
}

// 2. Ops applied per second including the signature check: batches of 64 ops under one signature (as
// the wire carries them), and, for comparison, every op signed alone.
const BATCH = 64;
const BATCHES = 60;
const SINGLE_OPS = 300;
const session = privateKeyToAccount("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d");
const batches: SignedOpBatch[] = [];
for (let i = 0; i < BATCHES; i++) batches.push(await signOpBatch(makeOps(BATCH, random), session, domain));
const singles: SignedOp[] = [];
for (const op of makeOps(SINGLE_OPS, random)) singles.push(await signOp(op, session, domain));
const signedRates: number[] = [];
const singleRates: number[] = [];
for (let run = 0; run < 3; run++) {
  let state = new ChunkState(CHUNK, terrain);
  let started = performance.now();
  for (const batch of batches) {
    if (recoverBatchSigner(batch, domain) !== session.address) throw new Error("signature check failed");
    for (const op of batch.ops) state.apply(op);
  }
  signedRates.push((BATCH * BATCHES) / ((performance.now() - started) / 1000));
  state = new ChunkState(CHUNK, terrain);
  started = performance.now();
  for (const op of singles) {
    if (recoverOpSigner(op, domain) !== session.address) throw new Error("signature check failed");
    state.apply(op);
  }
  singleRates.push(SINGLE_OPS / ((performance.now() - started) / 1000));
}

// 3. Rehash after one edit (one leaf and its path), and 4. a full chunk hash.
const tree = new ChunkMerkle(terrain.slice());
const REHASHES = 20_000;
const rehashRuns: number[] = [];
for (let run = 0; run < 5; run++) {
  const started = performance.now();
  for (let i = 0; i < REHASHES; i++) tree.touch((i * 7919) % CHUNK_VOLUME);
  rehashRuns.push(((performance.now() - started) * 1000) / REHASHES);
}
const fullHashRuns: number[] = [];
for (let run = 0; run < 50; run++) {
  const started = performance.now();
  chunkHash(terrain);
  fullHashRuns.push(performance.now() - started);
}

// 5. Wire: encode + decode of a realistic mix (movement deltas, single ops, chat, chunk metadata).
const mix: WireMessage[] = [
  { type: "move", seq: 1, position: [10.5, 20.25, -3.75], look: [1.5, -0.25] },
  { type: "move", seq: 2, position: [10.75, 20.25, -3.5] },
  { type: "op", op: singles[0] as SignedOp, ttl: DEFAULT_OP_TTL },
  { type: "chat", seq: 3, text: "hello from the hills" },
  {
    type: "chunkMeta",
    chunk: CHUNK,
    version: 7n,
    hash: `0x${"ab".repeat(32)}`,
    infoHash: `0x${"cd".repeat(20)}`,
    watermark: { wallMs: 1_760_000_000_000, logical: 2 },
  },
];
const WIRE_MESSAGES = 200_000;
const wireRates: number[] = [];
for (let run = 0; run < 5; run++) {
  const started = performance.now();
  for (let i = 0; i < WIRE_MESSAGES; i++) decodeMessage(encodeMessage(mix[i % mix.length] as WireMessage));
  wireRates.push(WIRE_MESSAGES / ((performance.now() - started) / 1000));
}
const opBytes = encodeMessage({ type: "op", op: singles[0] as SignedOp, ttl: DEFAULT_OP_TTL }).length;

const round = (value: number, digits = 0) => Number(value.toFixed(digits));
console.log(
  JSON.stringify({
    ops_applied_per_s: round(median(signedRates)),
    ops_applied_per_s_presig: round(median(presigRates)),
    ops_applied_per_s_single_sig: round(median(singleRates)),
    rehash_after_edit_us: round(median(rehashRuns), 2),
    full_chunk_hash_ms: round(median(fullHashRuns), 3),
    encode_decode_msgs_per_s: round(median(wireRates)),
    op_bytes: opBytes,
    runs: {
      presig: presigRates.length,
      signed: signedRates.length,
      rehash: rehashRuns.length,
      full_hash: fullHashRuns.length,
      wire: wireRates.length,
    },
    sizes: {
      presig_ops: PRESIG_OPS,
      signed_batches: BATCHES,
      ops_per_batch: BATCH,
      single_sig_ops: SINGLE_OPS,
      rehashes: REHASHES,
      authors: AUTHORS.length,
      wire_messages: WIRE_MESSAGES,
    },
    statistic: "median of runs",
    measured:
      "ChunkState.apply on one chunk (ties and duplicates included); signed = recoverBatchSigner (EIP-712 BlockOpBatch, one secp256k1 recovery per 64 ops) + apply; single_sig = one recovery per op; rehash = ChunkMerkle.touch; wire = encode+decode of a move/op/chat/chunkMeta mix",
    machine: { cores: os.cpus().length, node: process.version },
  }),
);
