import { InputError } from "../errors.ts";
import { BACKEND_CHOICES } from "./choice.ts";
import type { Backend } from "./backend.ts";

function describe(value: unknown): string {
  if (typeof value === "string") return `the string "${value}"`;
  if (value === null || typeof value !== "object") return String(value);
  return "an object without a name, prepare, prepareTransposed and matmul";
}

/** Throws `bad_backend` unless `value` looks like a Backend; `where` names the argument. */
export function assertBackend(value: unknown, where: string): asserts value is Backend {
  const b = value as Partial<Backend> | null;
  if (
    typeof b === "object" && b !== null && typeof b.name === "string" &&
    typeof b.prepare === "function" && typeof b.prepareTransposed === "function" && typeof b.matmul === "function"
  ) {
    return;
  }
  const hint = (BACKEND_CHOICES as readonly unknown[]).includes(value) ? ` (for a choice, pass selectNodeBackend("${String(value)}"))` : "";
  throw new InputError(`${where} must be a MatmulBackend, got ${describe(value)}${hint}`, "bad_backend");
}
