/** parseCommandArgs: each command-line mistake is a one-line UsageError naming the option and value. */
import { describe, expect, it } from "vitest";
import { parseCommandArgs } from "../../src/cli/args.ts";
import { UsageError } from "../../src/cli/usage-error.ts";

const OPTIONS = { batch: { type: "string" }, prompt: { type: "string", multiple: true }, quiet: { type: "boolean" } } as const;
const parse = (argv: string[]) => parseCommandArgs("bench", argv, OPTIONS);

function usageMessage(argv: string[]): string {
  try {
    parse(argv);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as UsageError).message;
  }
  throw new Error(`expected ${JSON.stringify(argv)} to be refused`);
}

describe("parseCommandArgs", () => {
  it.each([
    [["--bogus"], "bench: unknown option --bogus; bench takes --batch, --prompt, --quiet and --help"],
    [["--bogus=3"], "bench: unknown option --bogus; bench takes --batch, --prompt, --quiet and --help"],
    [["-b", "2"], "bench: unknown option -b; bench takes --batch, --prompt, --quiet and --help"],
    [["--batch"], "bench: --batch needs a value"],
    [["--batch", "--quiet"], 'bench: --batch needs a value, but "--quiet" looks like an option; write --batch=--quiet if that is the value'],
    [["--prompt", "-x"], 'bench: --prompt needs a value, but "-x" looks like an option; write --prompt=-x if that is the value'],
    [["--quiet=yes"], 'bench: --quiet takes no value, got "yes"'],
  ])("%j: %s", (argv, message) => {
    expect(usageMessage(argv)).toBe(message);
  });

  it("takes a separate value that looks like a negative number, for the option's own check to judge", () => {
    expect(parse(["--batch", "-1"]).values.batch).toBe("-1");
    expect(parse(["--batch", "-.5"]).values.batch).toBe("-.5");
    expect(parse(["--batch=-x"]).values.batch).toBe("-x");
  });

  it("parses good arguments as parseArgs does", () => {
    const { values, positionals } = parse(["--batch", "2", "--prompt", "a", "--prompt=b", "--quiet", "x", "--", "--batch"]);
    expect(values).toEqual({ batch: "2", prompt: ["a", "b"], quiet: true });
    expect(positionals).toEqual(["x", "--batch"]);
  });
});
