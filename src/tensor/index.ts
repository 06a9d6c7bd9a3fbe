export { Tensor, shapeSize, shapeToString, sameShape, type Shape } from "./tensor.ts";
export { add, sub, mul, scale, addInPlace, addBias } from "./elementwise.ts";
export { geluNew } from "./activation.ts";
export { layerNorm, layerNormScale, layerNormNormalize, layerNormAffine } from "./layer-norm.ts";
export { softmaxLastAxis, applyCausalMaskInPlace } from "./softmax.ts";
export { batchedMatmul, referenceBackend, linear, type MatmulBackend, type PreparedWeight } from "./matmul.ts";
export { gatherRows, sliceAxis, selectAxis, takeAxis, permute, stack, concatRows } from "./indexing.ts";
