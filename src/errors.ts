/**
 * Every error this library throws on purpose is a Gpt2LensError: callers can tell "you gave me bad
 * input" (a typed error with a code and a message that names the culprit) from a genuine bug.
 */
export class Gpt2LensError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Wrong shapes, out-of-range indices, bad arguments to tensor or model functions. */
export class InputError extends Gpt2LensError {
  constructor(message: string, code = "bad_input") {
    super(code, message);
  }
}
