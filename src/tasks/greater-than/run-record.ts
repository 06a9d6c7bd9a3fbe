/**
 * How a greater-than report was made, as report.json's "run" records it (documented field by field in
 * schema/greater-than-report.schema.json): the prompts, the model and its weights' hash, the package
 * and the time each stage took.
 */
import type { GreaterThanReport } from "./pipeline.ts";

export interface StageTiming {
  readonly stage: string;
  readonly seconds: number;
}

export interface GreaterThanRunRecord {
  /** Prompts the report rests on. */
  readonly prompts: number;
  /** --n as given (or its default); null when the prompts came from --dataset. */
  readonly n: number | null;
  /** --seed as given (or its default); null with --dataset. */
  readonly seed: number | null;
  readonly dataset: {
    /** "generated" (makeGreaterThanDataset with n and seed) or "file" (--dataset). */
    readonly source: "generated" | "file";
    readonly path: string | null;
    readonly sha256: string | null;
  };
  readonly model: {
    readonly directory: string;
    readonly weights_file: string;
    readonly weights_sha256: string;
    /** --processing: "none" or "transformer-lens". */
    readonly processing: string;
    /** The circuit --circuit gave, as written; null when the selection rule found it. */
    readonly circuit_option: string | null;
  };
  readonly package: { readonly name: string; readonly version: string };
  readonly timings: {
    readonly load_seconds: number;
    readonly stages: StageTiming[];
    /** From the command's start to the report's assembly (writing the files comes after). */
    readonly total_seconds: number;
  };
}

/** report.json: the run record first, then the pipeline's report. */
export type GreaterThanReportFile = { readonly run: GreaterThanRunRecord } & GreaterThanReport;
