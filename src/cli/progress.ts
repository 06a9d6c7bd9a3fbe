/**
 * A terminal progress bar for long CLI jobs (downloads, batches of prompts, ...).
 *
 * On a TTY it redraws one line in place with `\r`, at most every `redrawIntervalMs`:
 *   `label [########------------] 45% 12.3/27.0 MB 3.1 MB/s`
 * Anywhere else (CI logs, pipes) it prints an occasional plain line (at each quarter of the way and
 * at least every `plainIntervalMs`) and a summary at the end, so logs stay readable.
 */

/** The part of a writable stream the bar needs; `process.stderr` fits. */
export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export type ProgressUnit = "bytes" | "items";

export interface ProgressBarOptions {
  label: string;
  /** Amount of work in units; undefined (or 0) when unknown: then no bar or percentage is shown. */
  total: number | undefined;
  stream: ProgressStream;
  unit?: ProgressUnit;
  /** Work already done before this bar started (e.g. a resumed download); not counted in speed. */
  initial?: number;
  /** Milliseconds clock; injectable for tests. */
  now?: () => number;
  redrawIntervalMs?: number;
  plainIntervalMs?: number;
  barWidth?: number;
}

export interface ProgressBar {
  /** Reports the total amount done so far (not an increment). */
  update(done: number): void;
  /** Draws the final state and ends the line. Further calls do nothing. */
  finish(): void;
  /** Ends the line without claiming completion (e.g. before printing an error). */
  abort(): void;
}

const DEFAULT_REDRAW_INTERVAL_MS = 100;
const DEFAULT_PLAIN_INTERVAL_MS = 10_000;
const DEFAULT_BAR_WIDTH = 20;
/** Speed is measured over roughly this much recent time. */
const SPEED_WINDOW_MS = 5_000;
const SPEED_SAMPLE_SPACING_MS = 250;

export function createProgressBar(options: ProgressBarOptions): ProgressBar {
  const now = options.now ?? (() => Date.now());
  const unit = options.unit ?? "bytes";
  const total = options.total !== undefined && options.total > 0 ? options.total : undefined;
  const isTty = options.stream.isTTY === true;
  const redrawIntervalMs = options.redrawIntervalMs ?? DEFAULT_REDRAW_INTERVAL_MS;
  const plainIntervalMs = options.plainIntervalMs ?? DEFAULT_PLAIN_INTERVAL_MS;
  const barWidth = options.barWidth ?? DEFAULT_BAR_WIDTH;

  const startedAt = now();
  const initial = options.initial ?? 0;
  const speed = new SpeedMeter(startedAt, initial);
  let done = initial;
  let lastDrawAt = Number.NEGATIVE_INFINITY;
  let lastDrawnLength = 0;
  let lastPlainAt = startedAt;
  let lastPlainQuarter = total === undefined ? 0 : quarterOf(initial, total);
  let ended = false;

  const describe = (withBar: boolean): string => {
    const parts = [options.label];
    if (total !== undefined) {
      const fraction = Math.min(1, Math.max(0, done / total));
      if (withBar) parts.push(renderBar(fraction, barWidth));
      parts.push(`${Math.floor(fraction * 100)}%`);
    }
    parts.push(formatAmount(done, total, unit));
    const rate = speed.rate(now());
    if (rate !== undefined) parts.push(formatRate(rate, unit));
    return parts.join(" ");
  };

  const drawTty = (): void => {
    let line = describe(true);
    const columns = options.stream.columns;
    if (columns !== undefined && columns > 1 && line.length > columns - 1) line = line.slice(0, columns - 1);
    const padding = " ".repeat(Math.max(0, lastDrawnLength - line.length));
    options.stream.write(`\r${line}${padding}`);
    lastDrawnLength = line.length;
    lastDrawAt = now();
  };

  const maybeWritePlainLine = (): void => {
    const quarter = total === undefined ? 0 : quarterOf(done, total);
    const crossedQuarter = quarter > lastPlainQuarter && quarter < 4;
    if (!crossedQuarter && now() - lastPlainAt < plainIntervalMs) return;
    options.stream.write(`${describe(false)}\n`);
    lastPlainAt = now();
    lastPlainQuarter = Math.max(lastPlainQuarter, quarter);
  };

  return {
    update(value) {
      if (ended) return;
      done = value;
      speed.sample(now(), value);
      if (!isTty) {
        maybeWritePlainLine();
      } else if (now() - lastDrawAt >= redrawIntervalMs) {
        drawTty();
      }
    },
    finish() {
      if (ended) return;
      ended = true;
      if (isTty) {
        drawTty();
        options.stream.write("\n");
        return;
      }
      const seconds = Math.max(0, now() - startedAt) / 1000;
      const averageRate = seconds > 0 ? (done - initial) / seconds : undefined;
      const rateText = averageRate === undefined ? "" : `, ${formatRate(averageRate, unit)}`;
      options.stream.write(`${options.label} done: ${formatAmount(done, undefined, unit)} in ${seconds.toFixed(1)} s${rateText}\n`);
    },
    abort() {
      if (ended) return;
      ended = true;
      if (isTty && lastDrawnLength > 0) options.stream.write("\n");
    },
  };
}

function quarterOf(done: number, total: number): number {
  return Math.min(4, Math.floor((done / total) * 4));
}

export function renderBar(fraction: number, width: number): string {
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * width);
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}]`;
}

/** Recent throughput: anchors spaced a little apart over the last few seconds, plus the latest value. */
class SpeedMeter {
  private anchors: { at: number; done: number }[];
  private latestDone: number;

  constructor(startedAt: number, initial: number) {
    this.anchors = [{ at: startedAt, done: initial }];
    this.latestDone = initial;
  }

  sample(at: number, done: number): void {
    if (done < this.latestDone) this.anchors = [{ at, done }]; // went backwards (restart): measure afresh
    this.latestDone = done;
    if (at - this.anchors[this.anchors.length - 1].at >= SPEED_SAMPLE_SPACING_MS) this.anchors.push({ at, done });
    while (this.anchors.length > 2 && at - this.anchors[1].at >= SPEED_WINDOW_MS) this.anchors.shift();
  }

  /** Units per second, or undefined until enough time has passed to say. */
  rate(at: number): number | undefined {
    const oldest = this.anchors[0];
    const elapsedMs = at - oldest.at;
    if (elapsedMs < SPEED_SAMPLE_SPACING_MS) return undefined;
    return ((this.latestDone - oldest.done) / elapsedMs) * 1000;
  }
}

const BYTE_SCALES = [
  { factor: 1e9, suffix: "GB" },
  { factor: 1e6, suffix: "MB" },
  { factor: 1e3, suffix: "kB" },
] as const;

/** `12.3/27.0 MB` (both in the total's scale), `12.3 MB`, `4/10 items`, `4 items`. */
export function formatAmount(done: number, total: number | undefined, unit: ProgressUnit): string {
  if (unit === "items") {
    return total === undefined ? `${done} items` : `${done}/${total} items`;
  }
  const scale = BYTE_SCALES.find((candidate) => (total ?? done) >= candidate.factor);
  if (scale === undefined) return total === undefined ? `${done} B` : `${done}/${total} B`;
  const doneText = (done / scale.factor).toFixed(1);
  return total === undefined
    ? `${doneText} ${scale.suffix}`
    : `${doneText}/${(total / scale.factor).toFixed(1)} ${scale.suffix}`;
}

/** `3.1 MB/s`, `850 B/s`, `2.5 items/s`. */
export function formatRate(perSecond: number, unit: ProgressUnit): string {
  const rate = Math.max(0, perSecond);
  if (unit === "items") return `${rate >= 100 ? rate.toFixed(0) : rate.toFixed(1)} items/s`;
  const scale = BYTE_SCALES.find((candidate) => rate >= candidate.factor);
  return scale === undefined ? `${rate.toFixed(0)} B/s` : `${(rate / scale.factor).toFixed(1)} ${scale.suffix}/s`;
}
