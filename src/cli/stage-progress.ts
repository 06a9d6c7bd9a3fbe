import { createProgressBar, type ProgressBar } from "./progress.ts";

/** One progress bar per stage on stderr, as the long commands report (stage, done, total). */
export function stageProgress(): { readonly report: (stage: string, done: number, total: number) => void; readonly abort: () => void } {
  const bars = new Map<string, ProgressBar>();
  return {
    report: (stage, done, total) => {
      let bar = bars.get(stage);
      if (!bar) {
        bar = createProgressBar({ label: stage, total, stream: process.stderr, unit: "items" });
        bars.set(stage, bar);
      }
      bar.update(done);
      if (done >= total) bar.finish();
    },
    abort: () => {
      for (const bar of bars.values()) bar.abort();
    },
  };
}
