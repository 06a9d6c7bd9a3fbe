import { InputError } from "../errors.ts";

/** The keys of RunOptions; anything else is most likely a misspelling. */
const RUN_OPTION_KEYS = ["hooks", "cache", "logitPositions", "start", "past", "attentionMask", "prependBos", "paddingSide", "padTokenId"] as const;

function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") return `the string ${JSON.stringify(value)}`;
  if (typeof value === "object") return `an object (${value.constructor?.name ?? "no class"})`;
  return `${typeof value} ${String(value)}`;
}

const bad = (message: string) => new InputError(message, "bad_option");

function checkHooks(hooks: unknown): void {
  if (!Array.isArray(hooks)) throw bad(`hooks must be an array of [name or filter, fn] pairs, got ${describe(hooks)}`);
  hooks.forEach((spec: unknown, i) => {
    if (!Array.isArray(spec) || spec.length !== 2) {
      throw bad(`hooks[${i}] must be a [name or filter, fn] pair, got ${describe(spec)}${Array.isArray(spec) ? ` of length ${spec.length}` : ""}`);
    }
    const [selector, fn] = spec as unknown[];
    if (typeof selector !== "string" && typeof selector !== "function") {
      throw bad(`hooks[${i}][0] must be a hook name or a filter (name) => boolean, got ${describe(selector)}`);
    }
    if (typeof fn !== "function") throw bad(`hooks[${i}][1] must be a hook function (activation, context) => …, got ${describe(fn)}`);
  });
}

function checkCache(cache: unknown): void {
  if (typeof cache === "boolean" || typeof cache === "function") return;
  if (!Array.isArray(cache)) {
    const hint = typeof cache === "string" ? ` (for one name, write [${JSON.stringify(cache)}])` : "";
    throw bad(`cache must be true, false, a list of hook names or a filter (name) => boolean, got ${describe(cache)}${hint}`);
  }
  cache.forEach((name: unknown, i) => {
    if (typeof name !== "string") throw bad(`cache[${i}] must be a hook name, got ${describe(name)}`);
  });
}

/**
 * Checks the types of run()'s and runUntil()'s options at the API boundary, so a wrong type is an
 * InputError (`bad_option`) saying what was expected instead of a TypeError from deep inside the
 * run. Values (hook names, positions, start, past) are checked where they are used.
 */
export function checkRunOptions(options: unknown): void {
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw bad(`run options must be an object { ${RUN_OPTION_KEYS.join(", ")} } (all optional), got ${describe(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!(RUN_OPTION_KEYS as readonly string[]).includes(key)) {
      throw bad(`unknown run option "${key}"; the options are ${RUN_OPTION_KEYS.join(", ")}`);
    }
  }
  const { hooks, cache, prependBos, padTokenId } = options as Record<string, unknown>;
  if (hooks !== undefined) checkHooks(hooks);
  if (cache !== undefined) checkCache(cache);
  if (prependBos !== undefined && typeof prependBos !== "boolean") throw bad(`prependBos must be true or false, got ${describe(prependBos)}`);
  if (padTokenId !== undefined && (typeof padTokenId !== "number" || !Number.isInteger(padTokenId))) {
    throw bad(`padTokenId must be a token id, got ${describe(padTokenId)}`);
  }
}

/** runUntil's stopAfter must be a hook name (a string); its value is checked against the model's names. */
export function checkStopAfter(stopAfter: unknown): void {
  if (typeof stopAfter !== "string") throw bad(`stopAfter must be a hook name, got ${describe(stopAfter)}`);
}
