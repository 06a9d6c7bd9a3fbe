export { SafetensorsError, type SafetensorsDType, type TensorInfo } from "./safetensors-format.ts";
export {
  decodeFloat32Tensor,
  parseSafetensors,
  parseSafetensorsHeader,
  safetensorsHeaderSize,
  type Float32TensorSource,
  type ParseSafetensorsOptions,
  type SafetensorsFile,
  type SafetensorsHeader,
} from "./safetensors-read.ts";
export { serializeSafetensors, type TensorToWrite } from "./safetensors-write.ts";
