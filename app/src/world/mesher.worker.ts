/**
 * The mesher worker: generates terrain chunks, keeps a mirror of their blocks, and meshes them, so the render
 * loop never waits for either. The main thread owns the authoritative copy and sends every change here. Work runs
 * in slices of about 8 ms, so an edit that arrives behind a backlog waits at most one slice.
 */
import { MeshScheduler } from "./meshScheduler.ts";
import type { FromMesher, ToMesher } from "./protocol.ts";

const SLICE_MS = 8;

function post(message: FromMesher, transfer: Transferable[] = []): void {
  self.postMessage(message, { transfer });
}

function report(error: unknown): void {
  post({ type: "error", message: error instanceof Error ? error.message : String(error) });
}

const scheduler = new MeshScheduler({ post });

// A message to ourselves yields to the event loop without setTimeout's 4 ms clamp, so queued messages run first.
const wake = new MessageChannel();
let scheduled = false;

function schedule(): void {
  if (scheduled) return;
  scheduled = true;
  wake.port2.postMessage(undefined);
}

wake.port1.onmessage = () => {
  scheduled = false;
  let more = true;
  try {
    more = scheduler.run(SLICE_MS);
  } catch (error) {
    report(error);
  }
  if (more) schedule();
};

self.addEventListener("message", (event: MessageEvent<ToMesher>) => {
  try {
    scheduler.handle(event.data);
  } catch (error) {
    report(error);
  }
  schedule();
});
