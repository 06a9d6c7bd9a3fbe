import { referenceGeluNewBackward } from "../../backend/reference/gelu-backward.ts";
import { Tensor } from "../../tensor/tensor.ts";
import type { BackwardKernels } from "../../tensor/backward-kernels.ts";

/**
 * ∂/∂`mlp.hook_pre` from ∂/∂`mlp.hook_post` through gelu_new (see referenceGeluNewBackward), on the
 * backend's kernel when it has one; into `into` when given (it may be dPost's own array).
 */
export function geluNewBackward(dPost: Tensor, pre: Tensor, kernels?: BackwardKernels, into?: Float32Array): Tensor {
  const out = into ?? new Float32Array(pre.size);
  (kernels?.geluNewBackward ?? referenceGeluNewBackward)(pre.data, dPost.data, out);
  return new Tensor(out, pre.shape);
}
