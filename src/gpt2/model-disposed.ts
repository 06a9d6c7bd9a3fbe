import { Gpt2LensError } from "../errors.ts";

/** A model (or hooked model) used after dispose(): its weights were returned to the backend. */
export class ModelDisposedError extends Gpt2LensError {
  constructor(where: string) {
    super("disposed", `${where}: the model was disposed (its weights were released); load it again to use it`);
  }
}
