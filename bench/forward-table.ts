/**
 * The forward section of `npm run bench` as tables: one per shape with every run side by side (ours,
 * both PyTorch setups of bench/torch-peer.ts, the 128-bit SIMD floor of bench/wasm-peak.ts), each with
 * its kernel, threads, time and our ratio to it; then the rows README.md quotes, as a Markdown table.
 */
import { kernelLabel, type PeerForward, threadsLabel } from "./torch-peer.ts";
import { forwardMatmulFlops, simdFloorAssumptions, simdFloorSeconds, type WasmPeak } from "./wasm-peak.ts";

export interface Shape {
  readonly batch: number;
  readonly seq: number;
  /** "32×13" */
  readonly label: string;
}

/** One configuration of ours: its backend name (e.g. "wasm-simd-fma×2"), threads and median ms by shape label. */
export interface OursTimes {
  readonly backend: string;
  readonly threads: number;
  readonly byShape: ReadonlyMap<string, number | undefined>;
}

export interface ForwardReport {
  readonly shapes: readonly Shape[];
  /** The default backend (the pool), one thread, and the default without fused multiply-adds. */
  readonly ours: { readonly pool: OursTimes; readonly oneThread: OursTimes; readonly noFma: OursTimes };
  readonly peers: readonly PeerForward[];
  readonly peak?: WasmPeak;
}

interface Row {
  readonly who: string;
  readonly kernel: string;
  readonly threads: string;
  readonly ms?: number;
  /** Our time at this row's thread count, for the ratio column. */
  readonly oursMs?: number;
}

export const ms = (value: number | undefined): string => (value === undefined ? "—" : value >= 100 ? value.toFixed(0) : value.toFixed(1));
export const ratio = (a: number | undefined, b: number | undefined): string => (a === undefined || b === undefined ? "—" : `${(a / b).toFixed(2)}×`);
/** README style: "65 ms", "1.04 s". */
const readable = (value: number | undefined): string => (value === undefined ? "—" : value < 1000 ? `${value.toFixed(0)} ms` : `${(value / 1000).toFixed(2)} s`);

/** Threads of a backend named like "wasm-simd-fma×2" (no "×N": one thread). */
export const backendThreads = (backend: string): number => Number(/×(\d+)$/.exec(backend)?.[1] ?? 1);

function oursAt(report: ForwardReport, threads: number, label: string): number | undefined {
  const { pool, oneThread } = report.ours;
  if (threads === pool.threads) return pool.byShape.get(label);
  return threads === 1 ? oneThread.byShape.get(label) : undefined;
}

const peerWho = (peer: PeerForward) => (peer.setup.sameAsEnvironment ? `${peer.setup.name} (= the above: no override set)` : peer.setup.name);

function floorMs(report: ForwardReport, shape: Shape, threads: number): number | undefined {
  return report.peak ? simdFloorSeconds(forwardMatmulFlops(shape), report.peak, threads) * 1000 : undefined;
}

function rows(report: ForwardReport, shape: Shape): Row[] {
  const { pool, oneThread, noFma } = report.ours;
  const ours = (who: string, o: OursTimes): Row => ({ who, kernel: o.backend, threads: String(o.threads), ms: o.byShape.get(shape.label) });
  const out = [ours("ours", pool), ours("ours, one thread", oneThread), ours("ours without FMA", noFma)];
  for (const peer of report.peers) {
    out.push({
      who: peerWho(peer),
      kernel: peer.error && !peer.kernel ? `failed: ${peer.error}` : kernelLabel(peer.kernel),
      threads: threadsLabel(peer.kernel, peer.threads),
      ms: peer.byShape.get(shape.label)?.medianMs,
      oursMs: oursAt(report, peer.threads, shape.label),
    });
  }
  if (report.peak) {
    for (const threads of new Set([pool.threads, 1])) {
      const kernel = `f32x4 ${report.peak.fused ? "FMA" : "mul+add"} at ${report.peak.median.toFixed(1)} GFLOP/s/thread`;
      out.push({ who: "128-bit SIMD floor", kernel, threads: String(threads), ms: floorMs(report, shape, threads), oursMs: oursAt(report, threads, shape.label) });
    }
  }
  return out;
}

/** One table per shape, with the floor's assumptions and how to read the ratio. */
export function forwardTables(report: ForwardReport): string[] {
  const lines: string[] = [];
  if (report.peak) lines.push(simdFloorAssumptions(report.peak, report.ours.pool.threads));
  lines.push("ours/this = our median at the row's thread count ÷ the row's median (> 1: we are slower)");
  for (const shape of report.shapes) {
    const table = rows(report, shape);
    const header: Row = { who: "run", kernel: "kernel", threads: "threads", ms: undefined };
    const width = (pick: (r: Row) => string) => Math.max(...[header, ...table].map((r) => pick(r).length));
    const [w1, w2, w3] = [width((r) => r.who), width((r) => r.kernel), width((r) => r.threads)];
    const line = (r: Row, time: string, ours: string) =>
      `   ${r.who.padEnd(w1)}   ${r.kernel.padEnd(w2)}   ${r.threads.padStart(w3)}   ${time.padStart(9)}   ${ours.padStart(9)}`;
    lines.push("", `forward ${shape.label} (${shape.batch * shape.seq} tokens), full logits`);
    lines.push(line(header, "time", "ours/this"));
    for (const r of table) lines.push(line(r, r.ms === undefined ? "—" : `${ms(r.ms)} ms`, r.oursMs === undefined ? "" : ratio(r.oursMs, r.ms)));
  }
  return lines;
}

/** The README's forward rows (ours on the pool vs each PyTorch setup on as many threads, and the floor), as Markdown. */
export function forwardMarkdown(report: ForwardReport): string[] {
  const { pool, noFma } = report.ours;
  const peers = report.peers.filter((p) => p.threads === pool.threads);
  const head = [
    "",
    `ours (${pool.backend})`,
    ...peers.flatMap((p) => [`${p.setup.name}: ${kernelLabel(p.kernel)}, ${threadsLabel(p.kernel, p.threads)} threads`, "ours/PyTorch"]),
    `128-bit SIMD floor, ${pool.threads} threads`,
    "ours/floor",
    `ours without FMA (${noFma.backend})`,
  ];
  const lines = [`| ${head.join(" | ")} |`, `|${" --- |".repeat(head.length)}`];
  for (const shape of report.shapes) {
    const oursMs = pool.byShape.get(shape.label);
    const floor = floorMs(report, shape, pool.threads);
    const cells = [
      `forward ${shape.label}`,
      readable(oursMs),
      ...peers.flatMap((p) => [readable(p.byShape.get(shape.label)?.medianMs), ratio(oursMs, p.byShape.get(shape.label)?.medianMs)]),
      readable(floor),
      ratio(oursMs, floor),
      readable(noFma.byShape.get(shape.label)),
    ];
    lines.push(`| ${cells.join(" | ")} |`);
  }
  return lines;
}
