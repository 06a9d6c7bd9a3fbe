import { fileURLToPath } from "node:url";

/** The greater-than-trained GPT-2 shipped in the package (models/greater-than-gpt2). */
export const BUNDLED_MODEL_DIR = fileURLToPath(new URL("../../models/greater-than-gpt2", import.meta.url));
