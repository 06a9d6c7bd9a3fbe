import { Gpt2LensError } from "../errors.ts";

export class PatchingError extends Gpt2LensError {
  constructor(code: string, message: string) {
    super(code, message);
  }
}
