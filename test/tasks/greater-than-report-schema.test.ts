/**
 * The shipped schema of report.json documents every field and leaves none optional or open; the
 * reports the command writes are validated against it in test/cli/greater-than-cli.test.ts.
 */
import { describe, expect, it } from "vitest";
import { readReportSchema } from "../helpers/report-schema.ts";

type Schema = Record<string, unknown>;

/** Every schema object below `schema`, with the path that leads to it. */
function walk(schema: unknown, path: string, visit: (node: Schema, path: string) => void): void {
  if (typeof schema !== "object" || schema === null) return;
  if (Array.isArray(schema)) {
    schema.forEach((entry, i) => walk(entry, `${path}[${i}]`, visit));
    return;
  }
  visit(schema as Schema, path);
  for (const [key, value] of Object.entries(schema)) walk(value, `${path}/${key}`, visit);
}

describe("schema/greater-than-report.schema.json", () => {
  const schema = readReportSchema();

  it("is draft 2020-12 and describes itself", () => {
    expect(schema.$schema).toBe("https://json-schema.org/draft/2020-12/schema");
    expect(typeof schema.title).toBe("string");
    expect(typeof schema.description).toBe("string");
  });

  it("documents every field, requires it, and allows no other", () => {
    let objects = 0;
    let fields = 0;
    walk(schema, "", (node, path) => {
      const properties = node.properties as Record<string, Schema> | undefined;
      if (!properties) return;
      objects++;
      expect(node.additionalProperties, `${path} is closed`).toBe(false);
      expect([...(node.required as string[])].sort(), `${path} requires every field`).toEqual(Object.keys(properties).sort());
      for (const [name, field] of Object.entries(properties)) {
        fields++;
        expect(typeof field.description === "string" && field.description.length > 2, `${path}/${name} has a description`).toBe(true);
      }
    });
    expect(objects).toBeGreaterThan(20);
    expect(fields).toBeGreaterThan(100);
    const top = Object.keys(schema.properties as object);
    expect(top.slice(0, 1)).toEqual(["run"]);
    for (const section of ["model", "dataset", "baseline", "path_patching", "circuit", "circuit_evaluation", "lower_circuit"]) expect(top).toContain(section);
  });
});
