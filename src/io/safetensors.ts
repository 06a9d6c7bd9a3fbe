export { SafetensorsError, type SafetensorsDType, type TensorInfo } from "./safetensors-format.ts";
export { parseSafetensors, type ParseSafetensorsOptions, type SafetensorsFile } from "./safetensors-read.ts";
export { serializeSafetensors, type TensorToWrite } from "./safetensors-write.ts";
