/**
 * bench:datachannel — what one small message costs over a real loopback data channel (simple-peer on
 * node-datachannel), in CPU over every thread of the process (both ends live here), paced one per
 * millisecond and then in one burst. The gap between the two is the cost of waking threads per message.
 *   npm run bench:datachannel [-- --messages 2000]
 */

import os from "node:os";
import { parseArgs } from "node:util";
import { releaseWebRtc } from "../p2p/node/rtc.ts";
import { loopbackPair } from "../test/helpers/rtc.ts";

const { values } = parseArgs({ options: { messages: { type: "string" } }, strict: true });
const MESSAGES = Number(values.messages ?? 2000);
if (!Number.isInteger(MESSAGES) || MESSAGES < 100 || MESSAGES > 100_000)
  throw new Error(`--messages must be an integer from 100 to 100000, got ${values.messages}`);
const BYTES = 111; // one signed op on the wire

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const cpuUs = () => {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
};

const { a, b } = await loopbackPair();
let received = 0;
b.on("data", () => {
  received++;
});
const message = new Uint8Array(BYTES);
await sleep(300);

// The process's own cost with nothing sent, and of the pacing timer alone.
let start = cpuUs();
const wall = performance.now();
await sleep(2000);
const idleUsPerMs = (cpuUs() - start) / (performance.now() - wall);
start = cpuUs();
for (let i = 0; i < MESSAGES; i++) await sleep(1);
const timerUs = (cpuUs() - start) / MESSAGES;

async function run(pacedMs: number): Promise<{ cpuUsPerMessage: number; sendCallUs: number }> {
  const target = received + MESSAGES;
  const begin = cpuUs();
  const began = performance.now();
  let sending = 0;
  for (let i = 0; i < MESSAGES; i++) {
    const t = performance.now();
    a.send(message);
    sending += performance.now() - t;
    if (pacedMs > 0) await sleep(pacedMs);
  }
  while (received < target) await sleep(2);
  const elapsed = performance.now() - began;
  const used = cpuUs() - begin - idleUsPerMs * elapsed - (pacedMs > 0 ? timerUs * MESSAGES : 0);
  return { cpuUsPerMessage: Math.round(used / MESSAGES), sendCallUs: Math.round((sending * 1000) / MESSAGES) };
}

process.stderr.write(`${MESSAGES} messages of ${BYTES} bytes, paced 1 ms apart, then in one burst…\n`);
const paced = await run(1);
await sleep(300);
const burst = await run(0);
a.destroy();
b.destroy();
await sleep(200);
releaseWebRtc();
console.log(
  JSON.stringify({
    paced_cpu_us_per_msg: paced.cpuUsPerMessage,
    burst_cpu_us_per_msg: burst.cpuUsPerMessage,
    paced_send_call_us: paced.sendCallUs,
    burst_send_call_us: burst.sendCallUs,
    messages: MESSAGES,
    bytes: BYTES,
    measured:
      "one process holds both ends of one loopback simple-peer/node-datachannel channel; CPU of all its threads (process.cpuUsage) minus its idle rate and, when paced, minus the 1 ms timer's own cost",
    machine: { cores: os.cpus().length, node: process.version },
  }),
);
