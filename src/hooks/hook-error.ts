import { Gpt2LensError } from "../errors.ts";

export class HookError extends Gpt2LensError {
  readonly hookName: string | undefined;
  constructor(code: string, message: string, hookName?: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.hookName = hookName;
  }
}
