/** Waiting for a chain that is still starting: `seedcraft up` starts the deploy (and its compile) beside the chain. */
import { SeedcraftError } from "../core/errors.ts";

export class ChainNotAnsweringError extends SeedcraftError {
  constructor(url: string, waitedMs: number, cause: unknown) {
    const waited = waitedMs >= 1000 ? ` in ${Math.round(waitedMs / 1000)} s` : "";
    super("CHAIN_NOT_ANSWERING", `the chain at ${url} did not answer eth_chainId${waited}: is it running?`);
    this.name = "ChainNotAnsweringError";
    this.cause = cause;
  }
}

/**
 * The chain's id once its RPC answers, asking every `intervalMs` for up to `waitMs` (0: ask once). Throws a
 * ChainNotAnsweringError with the last failure as its cause.
 */
export async function waitForChainId(
  getChainId: () => Promise<number>,
  url: string,
  waitMs: number,
  intervalMs = 100,
): Promise<number> {
  const started = performance.now();
  for (;;) {
    try {
      return await getChainId();
    } catch (error) {
      const waited = performance.now() - started;
      if (waited >= waitMs) throw new ChainNotAnsweringError(url, waited, error);
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  }
}
