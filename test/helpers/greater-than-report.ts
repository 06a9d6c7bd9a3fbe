import { type GreaterThanCircuitReport, type GreaterThanReport, reportHasCircuit } from "../../src/tasks/greater-than/pipeline.ts";

/** The report, narrowed to one with a circuit; a report whose task check failed is an error saying why. */
export function withCircuit(report: GreaterThanReport): GreaterThanCircuitReport {
  if (!reportHasCircuit(report)) throw new Error(`expected a report with a circuit, but: ${report.task_check.reason}`);
  return report;
}
