/**
 * BENCH_PROFILE=<dir> for the benchmarks that drive Chromium pages: while `during` runs, a V8 CPU profile of
 * each page's main thread (<dir>/<name>.cpuprofile, for DevTools) and a Chrome trace of each browser, GPU
 * process included (<dir>/trace-<n>.json), and on stderr the functions that took each page's main thread
 * longest (self time), so a run tells at once where the time went.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Browser, Page } from "playwright-core";

export type ProfiledPage = { name: string; browser: Browser; page: Page };

type CpuProfile = {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
  timeDeltas: number[];
};

/** The `top` functions by self time in a CPU profile, with their share of the sampled time. */
export function selfTimes(profile: CpuProfile, top = 12): { fn: string; ms: number; pct: number }[] {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const byName = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const us = profile.timeDeltas[i + 1] ?? 0;
    const frame = nodes.get(id)?.callFrame;
    if (!frame) return;
    const file = frame.url.split("/").at(-1)?.split("?")[0] ?? "";
    const name = `${frame.functionName || "(anonymous)"} ${file}${file ? `:${frame.lineNumber + 1}` : ""}`;
    byName.set(name, (byName.get(name) ?? 0) + us);
    total += us;
  });
  return [...byName.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([fn, us]) => ({ fn, ms: Math.round(us / 1000), pct: Math.round((us / total) * 1000) / 10 }));
}

export async function profiled<T>(
  pages: ProfiledPage[],
  during: () => Promise<T>,
  log: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Promise<T> {
  const dir = process.env.BENCH_PROFILE;
  if (!dir) return await during();
  mkdirSync(dir, { recursive: true });
  const browsers = [...new Set(pages.map((p) => p.browser))];
  for (const [i, browser] of browsers.entries())
    await browser.startTracing(undefined, {
      path: path.join(dir, `trace-${i}.json`),
      categories: ["devtools.timeline", "toplevel", "gpu", "viz", "cc", "blink", "benchmark", "v8"],
    });
  const sessions = await Promise.all(pages.map((p) => p.page.context().newCDPSession(p.page)));
  for (const session of sessions) {
    await session.send("Profiler.enable");
    await session.send("Profiler.setSamplingInterval", { interval: 250 });
    await session.send("Profiler.start");
  }
  try {
    return await during();
  } finally {
    for (const [i, session] of sessions.entries()) {
      const { profile } = await session.send("Profiler.stop");
      const name = pages[i]?.name ?? String(i);
      writeFileSync(path.join(dir, `${name}.cpuprofile`), JSON.stringify(profile));
      log(`profile of ${name} (${path.join(dir, `${name}.cpuprofile`)}), self time:`);
      for (const line of selfTimes(profile as unknown as CpuProfile))
        log(`  ${String(line.ms).padStart(6)} ms ${String(line.pct).padStart(5)} %  ${line.fn}`);
      await session.detach();
    }
    for (const browser of browsers) await browser.stopTracing();
  }
}
