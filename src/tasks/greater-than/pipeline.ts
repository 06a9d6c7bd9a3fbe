import { unembed } from "../../gpt2/components/unembed.ts";
import type { HookedGpt2 } from "../../hooks/hooked-gpt2.ts";
import type { NodeAt } from "../../patching/nodes.ts";
import { checkComponent, componentLabel, componentName } from "../../patching/nodes.ts";
import { collectPathActivations, type PathActivations } from "../../patching/path-activations.ts";
import {
  pathPatch, pathPatchingSweep, type PathPatchingContext, type PathPatchingGrid, type ReceiverInput,
} from "../../patching/path-patching.ts";
import type { HeadComponent, MlpComponent } from "../../patching/circuit-evaluation.ts";
import { importantHeads, importantMlps, mergeHeads, type SelectedHead } from "./circuit-selection.ts";
import { GT_POSITIONS } from "./dataset.ts";
import { DatasetError, type GreaterThanPrompts } from "./dataset-file.ts";
import {
  endYearProbabilities, probabilityDifferenceMetric, probabilityDifferenceRowMetric, probabilityDifferenceSoftmaxMetric,
} from "./pd-metric.ts";
import { mlpLogitLens, type MlpLogitLens } from "./mlp-logit-lens.ts";
import { neuronCaches, type TopNeurons, topNeuronsOfMlp } from "./top-neurons.ts";
import { yearTokenIds } from "./years.ts";
import { meanRowsByYy } from "./yy-groups.ts";
import { checkNeuronMlp, type ComponentAnalysesReport, mostImportantMlp, runComponentAnalyses } from "./component-analyses.ts";
import { CUMULATIVE_MAX } from "./neuron-analysis.ts";
import { circuitEvaluationRuns, type CircuitEvaluationsReport } from "./circuit-evaluations.ts";
import type { CircuitSource, CircuitSpec } from "./circuit-spec.ts";
import { checkKvThreshold, lowerCircuit, lowerCircuitNodes, type LowerCircuitReport } from "./lower-circuit.ts";
import { meanAttentionEndToYy } from "./attention-analysis.ts";
import { checkMinProbDiff, greaterThanTaskCheck } from "./task-check.ts";
import { streamBaselineMetrics } from "./baseline-stream.ts";
import { randomCircuitControl } from "./random-circuits.ts";
import { greaterThanSelectionSweeps, selectionCellStatistics } from "./selection-cells.ts";
import {
  baselineStatistics, bootstrapSettings, checkSliceYy, DEFAULT_SLICE_YY, type GreaterThanControlOptions, type GreaterThanControlsReport,
  paperCircuitStatistics, probabilitySlice,
} from "./controls.ts";
import { discoverEdgeCircuit, type EdgeAttributionReport, type EdgeCircuitOptions, scoreComparison } from "./edge-circuit.ts";

export type ProgressReporter = (stage: string, done: number, total: number) => void;

export interface GreaterThanPipelineOptions extends GreaterThanControlOptions {
  readonly model: HookedGpt2;
  readonly data: GreaterThanPrompts;
  readonly onProgress?: ProgressReporter;
  /** A head joins the circuit when its path effect reaches this fraction of the strongest head's. */
  readonly headFraction?: number;
  readonly topNeuronCount?: number;
  /** Analyse this MLP's neurons (component_analyses.neurons) instead of the most important one. */
  readonly neuronMlp?: number;
  /** Evaluate and analyse this circuit (heads and MLPs at END) instead of the one the selection rule finds. */
  readonly circuit?: CircuitSpec;
  /** lower_circuit's k and v cells are computed for senders whose k+v effect reaches this fraction of the largest (default 0.1; 0: every cell). */
  readonly kvThreshold?: number;
  /** Discover the circuit from EAP / EAP-IG edge scores (the top K edges) instead of the path-patching selection rule. */
  readonly edgeAttribution?: EdgeCircuitOptions;
}

export interface HeadInputPatching {
  readonly channel: "q" | "kv";
  readonly sender_position: number;
  /** The same path from the embedding (token + position) at the sender position; null without circuit heads. */
  readonly embed: number | null;
  readonly receivers: string[];
  readonly continuation: string[];
  readonly grid: (number | null)[][];
}

export interface GreaterThanReport extends GreaterThanControlsReport {
  readonly model: {
    readonly n_layers: number; readonly n_heads: number; readonly d_model: number; readonly d_mlp: number;
    /** Which numbers the weights give: "huggingface" (as loaded) or "transformer-lens" (processed), see Gpt2Model.weightsProcessing. */
    readonly weights: string;
  };
  readonly dataset: {
    readonly prompts: readonly string[] | null;
    readonly tokens: number[][];
    readonly corrupted_tokens: number[][];
    readonly yy: number[];
  };
  readonly positions: { readonly XX1: number; readonly YY: number; readonly END: number };
  readonly baseline: { readonly prob_diff: number; readonly cutoff_sharpness: number; readonly corrupted_prob_diff: number };
  /** Mean probability of each end year "00".."99" (columns) for prompts of each YY (rows). */
  readonly probability_heatmap: { readonly yy: number[]; readonly mean_probability: number[][] };
  readonly path_patching: { readonly receiver: string; readonly continuation: string[]; readonly grid: (number | null)[][] }[];
  readonly head_input_patching: HeadInputPatching[];
  /** Mean attention from END to YY, [layer][head], on the clean prompts. */
  readonly attention_end_to_yy: number[][];
  readonly mlp_logit_lens: MlpLogitLens[];
  readonly top_neurons: TopNeurons | null;
  /** The circuit; null (as every section that needs one) when the task check fails. Path patching lists are then empty. */
  readonly circuit: {
    readonly heads: string[];
    readonly mlps: string[];
    readonly yy_senders: string[];
    readonly prob_diff: number;
    readonly fraction_of_baseline: number;
    readonly recovered: number;
    /** "found" by the selection rule, "given" (--circuit), or the top edges of "eap" / "eap-ig". */
    readonly source: CircuitSource;
  } | null;
  /** What each component does: attention patterns, head logit lens, PCA of year representations, neurons. */
  readonly component_analyses: ComponentAnalysesReport | null;
  /** The paper's circuit evaluation, its reverse, the stricter full-circuit rule and upper + lower circuit, each with its heatmap. */
  readonly circuit_evaluation: CircuitEvaluationsReport | null;
  /** Senders at YY → the circuit heads' keys and values apart, and → the lower circuit's MLPs at YY. */
  readonly lower_circuit: LowerCircuitReport | null;
  /** With --method eap or eap-ig: the edge scores' circuit, its exact evaluation, faithfulness curve and comparison with path patching. */
  readonly edge_attribution: EdgeAttributionReport | null;
}

/** A report whose task check passed: it has a circuit and every section that needs one. */
export type GreaterThanCircuitReport = GreaterThanReport & {
  readonly circuit: NonNullable<GreaterThanReport["circuit"]>;
  readonly component_analyses: ComponentAnalysesReport;
  readonly circuit_evaluation: CircuitEvaluationsReport;
  readonly lower_circuit: LowerCircuitReport;
};

export function reportHasCircuit(report: GreaterThanReport): report is GreaterThanCircuitReport {
  return report.circuit !== null && report.component_analyses !== null && report.circuit_evaluation !== null && report.lower_circuit !== null;
}

function tokenRows(ids: Int32Array, batch: number, pos: number): number[][] {
  return Array.from({ length: batch }, (_, b) => Array.from(ids.subarray(b * pos, (b + 1) * pos)));
}

function probabilityHeatmap(probs: Float64Array, yy: Int32Array): GreaterThanReport["probability_heatmap"] {
  const { yy: values, rows } = meanRowsByYy(probs, 100, yy);
  return { yy: values, mean_probability: rows };
}

/** The paper's pipeline: baselines, iterative path patching, circuit heads' inputs, circuit evaluation. */
export function runGreaterThanPipeline(options: GreaterThanPipelineOptions): GreaterThanReport {
  const { model, data } = options;
  const { nLayers, nHeads, dModel, dMlp } = model.config;
  const progress = options.onProgress ?? (() => {});
  const { END, YY } = GT_POSITIONS;
  const yearTokens = yearTokenIds();
  checkNeuronMlp(options.neuronMlp, nLayers);
  const sliceYy = checkSliceYy(options.sliceYy ?? DEFAULT_SLICE_YY);
  if (options.minProbDiff !== undefined) checkMinProbDiff(options.minProbDiff);
  checkKvThreshold(options.kvThreshold);
  for (const component of options.circuit?.yySenders ?? []) checkComponent(component, model.config);
  for (const [name, batch] of [["tokens", data.tokens], ["corrupted_tokens", data.corruptedTokens]] as const) {
    if (batch.pos !== END + 1) {
      throw new DatasetError(
        "bad_dataset",
        `greater-than prompts must have ${END + 1} tokens ("<|endoftext|> The {noun} lasted from the year XXYY to the year XX"), ` +
          `but the dataset's ${name} have ${batch.pos} per prompt`,
      );
    }
  }
  if (data.corruptedTokens.batch !== data.tokens.batch || data.yy.length !== data.tokens.batch) {
    throw new DatasetError(
      "bad_dataset",
      `greater-than dataset: ${data.tokens.batch} prompts, ${data.corruptedTokens.batch} corrupted prompts and ${data.yy.length} yy values; they must match`,
    );
  }

  progress("clean and corrupted runs", 0, 2);
  const clean = collectPathActivations(model, data.tokens);
  progress("clean and corrupted runs", 1, 2);
  // The corrupted prompts share "<|endoftext|> The {noun} lasted from the year XX" with the clean ones.
  const corrupted = collectPathActivations(model, data.corruptedTokens, { reuse: { run: clean, tokens: data.tokens } });
  progress("clean and corrupted runs", 2, 2);

  const endLogits = (acts: PathActivations) => unembed(model.model, acts.finalResidAt(END));
  const cleanProbs = endYearProbabilities(endLogits(clean), yearTokens);
  const corruptedProbs = endYearProbabilities(endLogits(corrupted), yearTokens);
  const bootstrap = options.bootstrap ?? {};
  const baselineStats = baselineStatistics(cleanProbs, corruptedProbs, data.yy, bootstrap);
  const baseline = {
    prob_diff: baselineStats.prob_diff.mean,
    cutoff_sharpness: baselineStats.cutoff_sharpness.mean,
    corrupted_prob_diff: baselineStats.corrupted_prob_diff.mean,
  };
  const taskCheck = greaterThanTaskCheck(baselineStats.prob_diff, baselineStats.corruption_effect, options.minProbDiff, options.circuit !== undefined);
  const largeBaseline = options.largeBaseline
    ? streamBaselineMetrics(model, {
      n: options.largeBaseline.n, seed: options.largeBaseline.seed ?? 0, bootstrap,
      ...(options.largeBaseline.batchSize === undefined ? {} : { batchSize: options.largeBaseline.batchSize }),
      onBatch: (done, total) => progress(`baseline on ${options.largeBaseline!.n} unbalanced prompts`, done, total),
    })
    : null;
  const cleanHeatmap = probabilityHeatmap(cleanProbs, data.yy);
  const common = {
    model: { n_layers: nLayers, n_heads: nHeads, d_model: dModel, d_mlp: dMlp, weights: model.model.weightsProcessing },
    dataset: {
      prompts: data.prompts ? [...data.prompts] : null,
      tokens: tokenRows(data.tokens.ids, data.tokens.batch, data.tokens.pos),
      corrupted_tokens: tokenRows(data.corruptedTokens.ids, data.corruptedTokens.batch, data.corruptedTokens.pos),
      yy: Array.from(data.yy),
    },
    positions: { ...GT_POSITIONS },
    baseline,
    probability_heatmap: cleanHeatmap,
    task_check: taskCheck,
    large_baseline: largeBaseline,
  };
  const lastMlps = Array.from({ length: Math.min(4, nLayers) }, (_, i) => nLayers - 1 - i);
  const attentionToYy = () => meanAttentionEndToYy(model.model, clean);
  const logitLenses = () => lastMlps.map((layer) => mlpLogitLens(model.model, clean, layer, END, data.yy, yearTokens));
  if (!taskCheck.circuit_analysed && options.enforceTaskCheck !== false) {
    progress("attention and logit lens (no circuit, see the task check)", 0, 1);
    const report: GreaterThanReport = {
      ...common,
      path_patching: [], head_input_patching: [], attention_end_to_yy: attentionToYy(), mlp_logit_lens: logitLenses(), top_neurons: null,
      statistics: { bootstrap: bootstrapSettings(bootstrap), baseline: baselineStats, circuit_paper: null, selection_cells: [] },
      random_circuit_control: null,
      probability_slice: probabilitySlice(sliceYy, data.yy, cleanHeatmap, null),
      circuit: null, component_analyses: null, circuit_evaluation: null, lower_circuit: null, edge_attribution: null,
    };
    progress("attention and logit lens (no circuit, see the task check)", 1, 1);
    return report;
  }
  const context: PathPatchingContext = {
    model,
    clean,
    corrupted,
    logitPosition: END,
    metric: probabilityDifferenceMetric(yearTokens, data.yy),
    softmaxMetric: probabilityDifferenceSoftmaxMetric(yearTokens, data.yy),
  };
  const edge = options.edgeAttribution ? discoverEdgeCircuit(model, data, context, yearTokens, options.edgeAttribution, progress) : null;
  const minEffect = 0.01 * Math.abs(baseline.prob_diff);
  const headFraction = options.headFraction ?? 0.2;

  const totalSweeps = 1 + lastMlps.length + 2;
  let sweepsDone = 0;
  const sweep = <T>(label: string, run: () => T): T => {
    progress(`path patching: ${label}`, sweepsDone, totalSweeps);
    const grid = run();
    sweepsDone++;
    progress(`path patching: ${label}`, sweepsDone, totalSweeps);
    return grid;
  };

  const logitsGrid = sweep("senders → logits", () => pathPatchingSweep(context, { senderPosition: END, receivers: "logits" }));
  const circuitMlpLayers = importantMlps(logitsGrid, nHeads, lastMlps, minEffect);
  const mlpGrids: PathPatchingGrid[] = [];
  const mlpSweeps = lastMlps.map((layer) => ({
    senderPosition: END,
    receivers: [{ node: { kind: "mlp", layer, pos: END }, channels: ["in"] }] as ReceiverInput[],
    // "The MLPs found so far": the later ones among the last four whose direct path matters.
    continuation: circuitMlpLayers.filter((l) => l > layer).map((l): NodeAt => ({ kind: "mlp", layer: l, pos: END })),
  }));
  for (const [i, layer] of lastMlps.entries()) {
    mlpGrids.push(sweep(`senders → MLP ${layer}`, () => pathPatchingSweep(context, mlpSweeps[i]!)));
  }
  // --circuit: the given heads and MLPs replace the found ones from here on.
  const given = options.circuit ?? edge?.circuit;
  const source: CircuitSource = edge ? edge.report.method : given ? "given" : "found";
  const heads: SelectedHead[] = given
    ? given.heads.map((h) => ({ layer: h.layer, head: h.head }))
    : mergeHeads([logitsGrid, ...mlpGrids].map((grid) => importantHeads(grid, nHeads, headFraction, minEffect)));
  const mlpLayers = given ? given.mlps.map((m) => m.layer) : circuitMlpLayers;
  const circuitMlps: NodeAt[] = mlpLayers.map((layer) => ({ kind: "mlp", layer, pos: END }));
  const headReceivers = (channels: ("q" | "k" | "v")[]): ReceiverInput[] =>
    heads.map((h) => ({ node: { kind: "head", layer: h.layer, head: h.head, pos: END }, channels }));
  const headInputs: HeadInputPatching[] = [];
  const yySenders: NodeAt[] = [];
  let embedKv: number | null = null;
  let kvGrid: (number | null)[][] = [];
  for (const [channel, senderPosition, channels] of [
    ["q", END, ["q"]],
    ["kv", YY, ["k", "v"]],
  ] as const) {
    const grid = sweep<Pick<PathPatchingGrid, "grid">>(`senders → circuit heads' ${channel}`, () =>
      heads.length
        ? pathPatchingSweep(context, { senderPosition, receivers: headReceivers([...channels]), continuation: circuitMlps })
        : emptyGrid(nLayers, nHeads),
    );
    const embed = heads.length
      ? pathPatch(context, {
          sender: { kind: "embed", pos: senderPosition },
          receivers: headReceivers([...channels]),
          continuation: circuitMlps,
        })
      : null;
    headInputs.push({
      channel,
      sender_position: senderPosition,
      embed,
      receivers: heads.map((h) => `${componentLabel({ kind: "head", ...h })}.${channel}`),
      continuation: circuitMlps.map(componentName),
      grid: grid.grid,
    });
    if (channel === "kv") {
      embedKv = embed;
      kvGrid = grid.grid;
      if (given?.yySenders) {
        yySenders.push(...given.yySenders.map((c): NodeAt => ({ ...c, pos: YY })));
      } else {
        for (const head of importantHeads(grid, nHeads, headFraction, minEffect)) yySenders.push({ kind: "head", ...head, pos: YY });
        for (let layer = 0; layer < nLayers; layer++) {
          if ((grid.grid[layer]![nHeads] ?? 0) <= -minEffect) yySenders.push({ kind: "mlp", layer, pos: YY });
        }
      }
    }
  }

  const circuitNodes: NodeAt[] = [...heads.map((h): NodeAt => ({ kind: "head", ...h, pos: END })), ...circuitMlps, ...yySenders];
  const lowerSteps = 2 + yySenders.filter((n) => n.kind === "mlp").length;
  let lowerDone = 0;
  const lower = lowerCircuit({
    context, heads, circuitMlps, yySenders, embedKv, kvGrid, yy: YY, end: END, minEffect,
    ...(options.kvThreshold === undefined ? {} : { kvThreshold: options.kvThreshold }),
    onStep: () => progress("lower circuit at YY", lowerDone++, lowerSteps),
  });
  progress("lower circuit at YY", lowerSteps, lowerSteps);
  let evaluationsDone = 0;
  const { report: evaluations, paper: paperRun } = circuitEvaluationRuns({
    context,
    source,
    heads: heads.map((h) => ({ kind: "head", ...h })),
    mlps: mlpLayers.map((layer) => ({ kind: "mlp", layer })),
    fullCircuitNodes: circuitNodes,
    lower: lowerCircuitNodes({ yySenders, embedKv, yy: YY, minEffect }),
    yearTokens,
    yy: data.yy,
    end: END,
    yyPosition: YY,
    onStep: () => progress("circuit evaluations and heatmaps", evaluationsDone++, 4),
  });
  progress("circuit evaluations and heatmaps", 4, 4);

  progress("attention, logit lens, neurons", 0, 3);
  const attention = attentionToYy();
  progress("attention, logit lens, neurons", 1, 3);
  const lens = logitLenses();
  progress("attention, logit lens, neurons", 2, 3);
  const mostImportant = mostImportantMlp(logitsGrid, nHeads, lastMlps);
  const topNeuronCount = options.topNeuronCount ?? 10;
  // Ranked as long as component_analyses.neurons needs when it analyses the same MLP: one ranking for both.
  const rankingLength = options.neuronMlp === undefined || options.neuronMlp === mostImportant
    ? Math.max(topNeuronCount, Math.min(CUMULATIVE_MAX, dMlp))
    : topNeuronCount;
  // Made once: component_analyses.neurons reuses them when it analyses the same MLP.
  const rankedCaches = mostImportant === null ? null : neuronCaches(model.model, clean, corrupted, mostImportant);
  const neuronRanking = rankedCaches === null
    ? null
    : topNeuronsOfMlp(model.model, clean, corrupted, data.yy, rankedCaches.layer, END, yearTokens, rankingLength, rankedCaches);
  const topNeurons = neuronRanking && { ...neuronRanking, neurons: neuronRanking.neurons.slice(0, topNeuronCount) };
  progress("attention, logit lens, neurons", 3, 3);

  const componentAnalyses = runComponentAnalyses({
    model, clean, corrupted, yy: data.yy, yearTokens, logitsGrid, senderGrids: [logitsGrid, ...mlpGrids], heads, circuitMlps: circuitMlpLayers, candidateMlps: lastMlps,
    neuronMlp: options.neuronMlp,
    neuronRanking,
    neuronCaches: rankedCaches,
    onStep: (done, total) => progress("component analyses", done, total),
  });

  const headComponents = heads.map((h): HeadComponent => ({ kind: "head", ...h }));
  const paperCircuit = { heads: headComponents, mlps: mlpLayers.map((layer): MlpComponent => ({ kind: "mlp", layer })), position: END };
  progress("statistics: the circuit per prompt", 0, 1);
  const circuitPaperStats = paperCircuitStatistics(paperRun, data.yy, cleanProbs, bootstrap);
  progress("statistics: the circuit per prompt", 1, 1);
  const selectionSweeps = greaterThanSelectionSweeps({
    logits: logitsGrid, circuitMlpLayers, mlpLayers: lastMlps, mlpSweeps, mlpGrids, end: END, yy: YY,
    select: (grid) => importantHeads(grid, nHeads, headFraction, minEffect),
    kv: heads.length
      ? { receivers: headReceivers(["k", "v"]), continuation: circuitMlps, values: headInputs.find((h) => h.channel === "kv")!.grid, senders: yySenders }
      : null,
  });
  const selectionCells = options.cellStatistics === false
    ? []
    : selectionCellStatistics(context, selectionSweeps, probabilityDifferenceRowMetric(yearTokens, data.yy), bootstrap,
      (done, total) => progress("statistics: path-patching cells per prompt", done, total));
  const randomSettings = options.randomCircuits ?? null;
  const randomControl = randomSettings === null || heads.length === 0
    ? null
    : randomCircuitControl(context, {
      ...paperCircuit, k: randomSettings.k, seed: randomSettings.seed, mlpChoice: randomSettings.mlps, circuitProbDiff: paperRun.metric,
      onStep: (done, total) => progress("random-circuit control", done, total),
    });

  return {
    ...common,
    // Receivers named like the continuations ("blocks.L.mlp"); all sit at END.
    path_patching: [logitsGrid, ...mlpGrids].map(({ continuation, grid }, i) => ({
      receiver: i === 0 ? "logits" : componentName({ kind: "mlp", layer: lastMlps[i - 1]! }),
      continuation,
      grid,
    })),
    head_input_patching: headInputs,
    attention_end_to_yy: attention,
    mlp_logit_lens: lens,
    top_neurons: topNeurons,
    circuit: {
      heads: heads.map((h: SelectedHead) => componentLabel({ kind: "head", ...h })),
      mlps: circuitMlps.map(componentName),
      yy_senders: yySenders.map((n) => `${componentLabel(n)}@YY`),
      // The stricter rule's numbers (circuit_evaluation.full_circuit), computed once.
      prob_diff: evaluations.full_circuit.prob_diff,
      fraction_of_baseline: evaluations.full_circuit.fraction_of_baseline,
      recovered: evaluations.full_circuit.recovered,
      source,
    },
    component_analyses: componentAnalyses,
    circuit_evaluation: evaluations,
    lower_circuit: lower,
    statistics: { bootstrap: bootstrapSettings(bootstrap), baseline: baselineStats, circuit_paper: circuitPaperStats, selection_cells: selectionCells },
    random_circuit_control: randomControl,
    probability_slice: probabilitySlice(sliceYy, data.yy, cleanHeatmap, { yy: evaluations.yy, mean_probability: evaluations.paper.mean_probability }),
    edge_attribution: edge ? { ...edge.report, comparison: edgeComparison(edge.scores, logitsGrid, mlpGrids, lastMlps, headInputs, heads) } : null,
  };
}

/** The path-patching grids' cells beside the summed edge scores of the same senders → receivers. */
function edgeComparison(
  scores: Parameters<typeof scoreComparison>[0], logitsGrid: PathPatchingGrid, mlpGrids: PathPatchingGrid[], mlpLayers: readonly number[],
  headInputs: readonly HeadInputPatching[], heads: readonly SelectedHead[],
): EdgeAttributionReport["comparison"] {
  return scoreComparison(scores, [
    { receiver: "logits", grid: logitsGrid.grid, receivers: [{ component: null, channels: ["in"] }] },
    ...mlpGrids.map((g, i) => ({ receiver: `MLP${mlpLayers[i]}`, grid: g.grid, receivers: [{ component: { kind: "mlp", layer: mlpLayers[i]! } as const, channels: ["in"] as const }] })),
    ...headInputs.map((h) => ({
      receiver: `circuit heads' ${h.channel}`,
      grid: h.grid,
      receivers: heads.map((head) => ({ component: { kind: "head", ...head } as const, channels: h.channel === "q" ? ["q"] as const : ["k", "v"] as const })),
    })),
  ]);
}

function emptyGrid(nLayers: number, nHeads: number): Pick<PathPatchingGrid, "grid"> {
  return { grid: Array.from({ length: nLayers }, () => new Array(nHeads + 1).fill(null)) };
}

