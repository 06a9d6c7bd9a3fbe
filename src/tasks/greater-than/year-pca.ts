import { EigenvalueDecomposition, Matrix } from "ml-matrix";
import { headOut } from "../../gpt2/components/attention-head.ts";
import { tokenEmbed } from "../../gpt2/components/embed.ts";
import { blockHook, type HookName, parseHookName } from "../../gpt2/hook-names.ts";
import { toTokens } from "../../gpt2/tokenizer.ts";
import type { TokenBatch } from "../../gpt2/tokens.ts";
import type { ActivationCache } from "../../hooks/activation-cache.ts";
import type { HookedGpt2 } from "../../hooks/hooked-gpt2.ts";
import { componentLabel } from "../../patching/nodes.ts";
import { rowsAt } from "../../patching/path-activations.ts";
import { plus } from "../../patching/recompute.ts";
import { Tensor } from "../../tensor/tensor.ts";
import type { SelectedHead } from "./circuit-selection.ts";
import { type GreaterThanDataset, GT_POSITIONS, makeGreaterThanDataset } from "./dataset.ts";
import { type HtmlDisplayed, withHtmlDisplay } from "./display.ts";
import { escapeHtml } from "../../patching/html-grid.ts";
import { validYears, yearTokenIds } from "./years.ts";

export interface PcaPanel {
  /** "mlp_input", "circuit_heads", "control_head" or "yy_embeddings". */
  readonly name: string;
  /** What was decomposed, in words. */
  readonly what: string;
  /** One [PC1, PC2] point per prompt (per YY), or null when there was nothing to decompose. */
  readonly points: [number, number][] | null;
  /** Fraction of the total variance along PC1 and PC2. */
  readonly explained_variance: [number, number] | null;
  /** Why the panel is empty, when it is. */
  readonly missing: string | null;
}

export interface YearPca {
  readonly noun: string;
  readonly century: number;
  /** The YY of each point, 02…98. */
  readonly yy: number[];
  readonly panels: PcaPanel[];
}

export interface YearPcaOptions {
  readonly circuitHeads: readonly SelectedHead[];
  /** The earliest circuit MLP (its input at END is decomposed), or null. */
  readonly firstCircuitMlp: number | null;
  /** A head outside the circuit, as a control, or null. */
  readonly controlHead: SelectedHead | null;
  /** Default " war" and the 1700s. */
  readonly noun?: string;
  readonly century?: number;
}

/**
 * Two-component PCA (centred, not scaled; ml-matrix's eigen-decomposition) of the year representations on one prompt per
 * YY 02…98 with a fixed noun and century: the first circuit MLP's input (hook_resid_mid) at END,
 * the circuit heads' summed outputs at END, a non-circuit head's output at END, and the static
 * embeddings (W_E rows) of the YY tokens.
 */
export function yearPca(model: HookedGpt2, options: YearPcaOptions): YearPca & HtmlDisplayed {
  const noun = options.noun ?? "war";
  const century = options.century ?? 17;
  const data = yearPcaPrompts(noun, century);
  const { END } = GT_POSITIONS;
  const yy = Array.from(data.yy);
  const gpt2 = model.model;
  const heads = [...options.circuitHeads, ...(options.controlHead ? [options.controlHead] : [])];
  const needed: HookName[] = [
    ...heads.map((h) => blockHook(h.layer, "attn.hook_z")),
    ...(options.firstCircuitMlp === null ? [] : [blockHook(options.firstCircuitMlp, "hook_resid_mid")]),
  ];
  const run = needed.length ? runAfterSharedPrefix(model, model.tokens(data.tokens), needed) : null;
  const endRows = (name: HookName) => rowsAt(run!.cache.get(name), END - run!.prefix);
  const headsSum = (list: readonly SelectedHead[]): Tensor =>
    list.map((h) => headOut(gpt2, h.layer, h.head, headRows(endRows(blockHook(h.layer, "attn.hook_z")), h.head))).reduce((a, b) => plus(a, b));
  const yearTokens = yearTokenIds();
  const headList = options.circuitHeads.map((h) => componentLabel({ kind: "head", ...h })).join(", ");
  const panels: PcaPanel[] = [
    panel(
      "mlp_input",
      options.firstCircuitMlp === null ? "the first circuit MLP's input at END" : `MLP${options.firstCircuitMlp}'s input (hook_resid_mid) at END`,
      options.firstCircuitMlp === null ? null : endRows(blockHook(options.firstCircuitMlp, "hook_resid_mid")),
      "the circuit has no MLP",
    ),
    panel(
      "circuit_heads",
      `the circuit heads' summed output at END (${headList || "none"})`,
      options.circuitHeads.length ? headsSum(options.circuitHeads) : null,
      "the circuit has no heads",
    ),
    panel(
      "control_head",
      options.controlHead ? `${componentLabel({ kind: "head", ...options.controlHead })}'s output at END (not in the circuit; control)` : "a non-circuit head's output at END",
      options.controlHead ? headsSum([options.controlHead]) : null,
      "every head is in the circuit",
    ),
    panel("yy_embeddings", "the static token embeddings (W_E rows) of the YY tokens", tokenEmbed(gpt2, yy.map((y) => yearTokens[y]!), [yy.length]), ""),
  ];
  return withHtmlDisplay({ noun, century, yy, panels }, pcaTable);
}

/** One prompt per YY 02…98 with `noun` and start years in the century `century`·100 (e.g. 1702…1798). */
export function yearPcaPrompts(noun: string, century: number): GreaterThanDataset {
  const years = validYears(toTokens, [century * 100, century * 100 + 99]).filter((y) => y % 100 >= 2 && y % 100 <= 98);
  return makeGreaterThanDataset({ n: 97, seed: 0, nouns: [noun], years });
}

/**
 * The prompts' `names` from one forward pass that stops after the last of them. The positions every
 * prompt shares ("<|endoftext|> The {noun} lasted from the year XX") run once, for one prompt; the
 * batch continues after them from its keys and values. Cached tensors hold positions prefix…pos − 1.
 */
function runAfterSharedPrefix(model: HookedGpt2, batch: TokenBatch, names: readonly HookName[]): { cache: ActivationCache; prefix: number } {
  const { nLayers } = model.config;
  const { batch: rows, pos, ids } = batch;
  let prefix = pos - 1;
  for (let b = 1; b < rows; b++) for (let p = 0; p < prefix; p++) if (ids[b * pos + p] !== ids[p]) prefix = p;
  const last = names.reduce((a, b) => (hookOrder(b) > hookOrder(a) ? b : a));
  if (prefix === 0) return { cache: model.runUntil(batch, last, { cache: [...names] }), prefix: 0 };
  const kv = Array.from({ length: nLayers }, (_, layer) => [blockHook(layer, "attn.hook_k"), blockHook(layer, "attn.hook_v")] as const);
  const shared = model.runUntil({ ids: ids.slice(0, prefix), batch: 1, pos: prefix }, kv[nLayers - 1]![1], { cache: kv.flat() });
  const repeated = (name: HookName) => {
    const one = shared.get(name);
    const out = new Float32Array(rows * one.size);
    for (let b = 0; b < rows; b++) out.set(one.data, b * one.size);
    return new Tensor(out, [rows, ...one.shape.slice(1)]);
  };
  const past = { keys: kv.map(([k]) => repeated(k)), values: kv.map(([, v]) => repeated(v)) };
  const tail = new Int32Array(rows * (pos - prefix));
  for (let b = 0; b < rows; b++) tail.set(ids.subarray(b * pos + prefix, (b + 1) * pos), b * (pos - prefix));
  return { cache: model.runUntil({ ids: tail, batch: rows, pos: pos - prefix }, last, { cache: [...names], past }), prefix };
}

/** Where a head's z or an MLP's input fires in the forward pass (z before resid_mid in a layer). */
function hookOrder(name: HookName): number {
  const parsed = parseHookName(name)!;
  return 2 * parsed.layer + (parsed.suffix === "hook_resid_mid" ? 1 : 0);
}

/** One head's rows of z [batch, n_heads, d_head] → [batch, d_head]. */
function headRows(z: Tensor, head: number): Tensor {
  const [batch, nHeads, dHead] = z.shape as [number, number, number];
  const out = new Float32Array(batch * dHead);
  for (let b = 0; b < batch; b++) out.set(z.data.subarray((b * nHeads + head) * dHead, (b * nHeads + head + 1) * dHead), b * dHead);
  return new Tensor(out, [batch, dHead]);
}

function panel(name: string, what: string, rows: Tensor | null, missing: string): PcaPanel {
  if (rows === null) return { name, what, points: null, explained_variance: null, missing };
  const width = rows.shape[rows.rank - 1]!;
  const matrix = Array.from({ length: rows.size / width }, (_, r) => Array.from(rows.data.subarray(r * width, (r + 1) * width)));
  const spread = columnSpread(matrix);
  if (!Number.isFinite(spread)) return { name, what, points: null, explained_variance: null, missing: "the representation holds non-finite values" };
  if (spread === 0) return { name, what, points: null, explained_variance: null, missing: "the representation is the same for every YY (no variance to decompose)" };
  const { points, explained } = pcaByGram(matrix);
  return { name, what, points, explained_variance: explained, missing: null };
}

/**
 * PCA through the eigen-decomposition of the centred rows' Gram matrix X·Xᵀ (97 × 97) rather than
 * the covariance Xᵀ·X (d_model × d_model, seconds per panel): the same non-zero eigenvalues, and the
 * points' coordinates along PC i are √λ_i · u_i. Each component's sign puts its largest |coordinate| positive.
 */
function pcaByGram(matrix: readonly number[][]): { points: [number, number][]; explained: [number, number] } {
  const x = new Matrix(matrix as number[][]);
  const centred = x.subRowVector(x.mean("column"));
  const gram = centred.mmul(centred.transpose());
  const evd = new EigenvalueDecomposition(gram, { assumeSymmetric: true });
  const order = evd.realEigenvalues.map((value, i) => [value, i] as const).sort((a, b) => b[0] - a[0]);
  const total = gram.trace();
  const component = (rank: number): { coordinates: number[]; share: number } => {
    const [value, column] = order[rank] ?? [0, -1];
    if (column < 0 || value <= 0) return { coordinates: matrix.map(() => 0), share: 0 };
    const u = evd.eigenvectorMatrix.getColumn(column);
    const largest = u.reduce((best, v) => (Math.abs(v) > Math.abs(best) ? v : best), 0);
    const scale = Math.sqrt(value) * Math.sign(largest);
    return { coordinates: u.map((v) => v * scale), share: value / total };
  };
  const [first, second] = [component(0), component(1)];
  return {
    points: first.coordinates.map((c, b) => [c, second.coordinates[b]!]),
    explained: [first.share, second.share],
  };
}

/** The largest |x − column mean| over the matrix (0: every row the same; NaN/∞ when a value is not finite). */
function columnSpread(matrix: readonly number[][]): number {
  let spread = 0;
  const width = matrix[0]?.length ?? 0;
  for (let j = 0; j < width; j++) {
    let mean = 0;
    for (const row of matrix) mean += row[j]!;
    mean /= matrix.length;
    for (const row of matrix) {
      const deviation = Math.abs(row[j]! - mean);
      if (!(deviation <= spread)) spread = deviation;
    }
  }
  return spread;
}

function pcaTable(value: YearPca): string {
  const rows = value.panels
    .map((p) => `<tr><td>${escapeHtml(p.what)}</td><td>${p.explained_variance ? p.explained_variance.map((v) => v.toFixed(3)).join(" / ") : escapeHtml(`— (${p.missing})`)}</td></tr>`)
    .join("");
  return `<table style="font:11px monospace"><caption>PCA of year representations (" ${escapeHtml(value.noun)}", ${value.century}YY): explained variance PC1 / PC2</caption>${rows}</table>`;
}
