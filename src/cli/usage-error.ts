import { Gpt2LensError } from "../errors.ts";

/** Wrong command-line arguments: printed with a hint to run --help, exit status 2. */
export class UsageError extends Gpt2LensError {
  constructor(message: string) {
    super("usage", message);
  }
}
