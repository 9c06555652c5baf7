// The TypeScript face of libtorch. Knows nothing of BYOL.
export { native } from "./native.js";
export { countNativeCalls, startCountingNativeCalls, READ_BACK_FUNCTIONS, type NativeCallCounts, type NativeCallCounter } from "./call-count.js";
export * from "./dtype.js";
export { tidy, Scope, liveTensors } from "./scope.js";
export { Tensor, type Scalar, type TensorOrScalar } from "./tensor.js";
export * from "./creation.js";
export * from "./functional.js";
export * from "./autograd.js";
export * from "./device.js";
export { CudaGraph, cudaGraphsAvailable, graphPoolHandle, cudaIndex, onSideStream, type GraphPool } from "./cuda-graph.js";
export { callOp, opSchema } from "./generic.js";
export { hasOp } from "./op.js";
export { saveSafetensors, loadSafetensors, serializeTensors, deserializeTensors } from "./safetensors.js";
export { ProcessGroup, GradientBuckets, averageGradients, broadcastParameters, DEFAULT_DIST_TIMEOUT_MS, DEFAULT_BUCKET_MB, type DistBackend, type ReduceOp, type ProcessGroupOptions } from "./distributed.js";
