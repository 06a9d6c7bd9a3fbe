/**
 * The content check `gpt2-lens fetch` gives the downloader for files the hub sends no hash for:
 * config.json must parse as a GPT-2 config, and model.safetensors as safetensors holding every
 * tensor that config implies, with its shape and a float dtype.
 */
import { readFile } from "node:fs/promises";
import type { ContentCheck } from "../io/hub-download.ts";
import { SafetensorsFileSource } from "../io/node-safetensors-source.ts";
import { parseConfigSource } from "./load.ts";
import { loadGpt2Weights } from "./load-weights.ts";

/** `dir` is where the download lands (config.json, downloaded first, is read from there). */
export function gpt2ContentCheck(dir: string): ContentCheck {
  return async (file, path) => {
    if (file === "config.json") {
      const config = parseConfigSource(await readFile(path, "utf8"));
      return `checked by content (the hub sent no hash): a GPT-2 config, ${config.nLayers} layers, d_model ${config.dModel}`;
    }
    if (file === "model.safetensors") {
      const config = parseConfigSource(await readFile(`${dir}/config.json`, "utf8"));
      const source = SafetensorsFileSource.open(path);
      try {
        loadGpt2Weights(source, config); // checks every tensor's presence, shape and dtype
      } finally {
        source.close();
      }
      return `checked by content (the hub sent no hash): safetensors with every tensor config.json implies`;
    }
    throw new Error(`no content check is known for ${file}`);
  };
}
