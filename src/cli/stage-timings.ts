/** Seconds per pipeline stage, from the progress reports (stage, done, total) the pipeline already makes. */
import type { StageTiming } from "../tasks/greater-than/run-record.ts";

export function stageTimer(now: () => number = () => performance.now()): {
  readonly mark: (stage: string) => void;
  readonly timings: () => StageTiming[];
} {
  const spans = new Map<string, { first: number; last: number }>();
  return {
    mark: (stage) => {
      const t = now();
      const span = spans.get(stage);
      if (span) span.last = t;
      else spans.set(stage, { first: t, last: t });
    },
    timings: () => [...spans].map(([stage, { first, last }]) => ({ stage, seconds: Math.round(last - first) / 1000 })),
  };
}
