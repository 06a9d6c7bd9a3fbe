import { describe, expect, it } from "vitest";
import { createProgressBar, formatAmount, formatRate, renderBar } from "../../src/cli/progress.ts";

/** A fake stream that records writes, plus a hand-driven clock. */
function recorder(isTTY: boolean, columns?: number) {
  const writes: string[] = [];
  return { writes, stream: { isTTY, columns, write: (text: string) => writes.push(text) } };
}
function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe("formatting", () => {
  it("renders bars, amounts and rates", () => {
    expect(renderBar(0.45, 10)).toBe("[#####-----]");
    expect(renderBar(0, 4)).toBe("[----]");
    expect(renderBar(1, 4)).toBe("[####]");
    expect(renderBar(7, 4)).toBe("[####]");
    expect(formatAmount(12_300_000, 27_000_000, "bytes")).toBe("12.3/27.0 MB");
    expect(formatAmount(512, 900, "bytes")).toBe("512/900 B");
    expect(formatAmount(2_500_000_000, undefined, "bytes")).toBe("2.5 GB");
    expect(formatAmount(4, 10, "items")).toBe("4/10 items");
    expect(formatRate(3_100_000, "bytes")).toBe("3.1 MB/s");
    expect(formatRate(850, "bytes")).toBe("850 B/s");
    expect(formatRate(2.5, "items")).toBe("2.5 items/s");
  });
});

describe("createProgressBar on a TTY", () => {
  it("redraws one line with \\r in the documented format", () => {
    const { writes, stream } = recorder(true);
    const time = clock();
    const bar = createProgressBar({ label: "model.safetensors", total: 27_000_000, stream, now: time.now, barWidth: 10 });
    time.advance(4_000);
    bar.update(12_300_000);
    expect(writes).toEqual(["\rmodel.safetensors [#####-----] 45% 12.3/27.0 MB 3.1 MB/s"]);
    bar.finish();
    expect(writes.at(-1)).toBe("\n");
    bar.update(1); // ignored after finish
    bar.finish();
    expect(writes).toHaveLength(3);
  });

  it("throttles redraws and pads over a longer previous line", () => {
    const { writes, stream } = recorder(true);
    const time = clock();
    const bar = createProgressBar({ label: "x", total: 2_000_000_000, stream, now: time.now, redrawIntervalMs: 100 });
    bar.update(1_000_000_000);
    bar.update(1_100_000_000); // within 100 ms: not drawn
    expect(writes).toHaveLength(1);
    time.advance(150);
    bar.update(1_200_000_000);
    expect(writes).toHaveLength(2);
    expect(writes.every((w) => w.startsWith("\r") && !w.includes("\n"))).toBe(true);
    const lengths = writes.map((w) => w.length);
    expect(lengths[1]).toBeGreaterThanOrEqual(lengths[0]);
  });

  it("fits the line into the terminal width", () => {
    const { writes, stream } = recorder(true, 30);
    const bar = createProgressBar({ label: "a-very-long-label-for-a-file.safetensors", total: 100, stream, now: clock().now });
    bar.update(50);
    expect(writes[0].length).toBeLessThanOrEqual(30);
  });

  it("counts items and leaves the bar out when the total is unknown", () => {
    const { writes, stream } = recorder(true);
    const time = clock();
    const bar = createProgressBar({ label: "prompts", total: undefined, unit: "items", stream, now: time.now });
    time.advance(2_000);
    bar.update(5);
    expect(writes[0]).toBe("\rprompts 5 items 2.5 items/s");
  });

  it("does not count resumed work in the speed", () => {
    const { writes, stream } = recorder(true);
    const time = clock();
    const bar = createProgressBar({ label: "f", total: 10_000_000, initial: 6_000_000, stream, now: time.now, barWidth: 4 });
    time.advance(1_000);
    bar.update(7_000_000);
    expect(writes[0]).toBe("\rf [###-] 70% 7.0/10.0 MB 1.0 MB/s");
  });

  it("abort ends the line without a completion message", () => {
    const { writes, stream } = recorder(true);
    const bar = createProgressBar({ label: "f", total: 10, stream, now: clock().now });
    bar.update(3);
    bar.abort();
    expect(writes.at(-1)).toBe("\n");
    bar.finish();
    expect(writes).toHaveLength(2);
  });
});

describe("createProgressBar off a TTY", () => {
  it("prints only occasional plain lines: each quarter, then a summary", () => {
    const { writes, stream } = recorder(false);
    const time = clock();
    const bar = createProgressBar({ label: "model", total: 1_000_000, stream, now: time.now, plainIntervalMs: 60_000 });
    for (let done = 10_000; done <= 1_000_000; done += 10_000) {
      time.advance(10);
      bar.update(done);
    }
    bar.finish();
    expect(writes.join("")).not.toContain("\r");
    expect(writes.every((w) => w.endsWith("\n"))).toBe(true);
    expect(writes.map((w) => w.split(" ")[1])).toEqual(["25%", "50%", "75%", "done:"]);
    expect(writes.at(-1)).toBe("model done: 1.0 MB in 1.0 s, 1.0 MB/s\n");
  });

  it("prints a line after the interval when progress is slow or the total unknown", () => {
    const { writes, stream } = recorder(false);
    const time = clock();
    const bar = createProgressBar({ label: "dl", total: undefined, stream, now: time.now, plainIntervalMs: 10_000 });
    bar.update(1_000);
    expect(writes).toHaveLength(0);
    time.advance(10_000);
    bar.update(2_000_000);
    expect(writes).toEqual(["dl 2.0 MB 200.0 kB/s\n"]);
  });
});
