/** The shipped JSON Schema of greater-than's report.json, compiled with Ajv (draft 2020-12, strict mode). */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv2020 } from "ajv/dist/2020.js";
import { ROOT } from "./cli.ts";

export const REPORT_SCHEMA_PATH = join(ROOT, "schema", "greater-than-report.schema.json");

export function readReportSchema(): Record<string, unknown> {
  return JSON.parse(readFileSync(REPORT_SCHEMA_PATH, "utf8")) as Record<string, unknown>;
}

const validate = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true }).compile(readReportSchema());

/** The schema's complaints about `report` ("instancePath message"), none when it conforms. */
export function reportSchemaErrors(report: unknown): string[] {
  if (validate(report)) return [];
  return (validate.errors ?? []).map((error) => `${error.instancePath || "/"} ${error.message ?? ""}${error.params ? ` ${JSON.stringify(error.params)}` : ""}`);
}
