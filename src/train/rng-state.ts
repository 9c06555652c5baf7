// The random generators' state in a checkpoint. Views draw their random parameters on the batch's
// device, so a run on a GPU draws from the CUDA generator: its state is saved beside the CPU one
// ("rng.cuda", the generator of the training device) and restored on resume, so that a resumed run
// draws the views an uninterrupted one would.
import * as T from "../torch/index.js";

type GetState = (device: string) => T.Tensor;
type SetState = (state: T.Tensor, device: string) => void;

/** The generator states to save for a run on `device`: "rng.cpu", and "rng.cuda" on a GPU. */
export function rngStateTensors(device: string, getState: GetState = T.getRngState): Record<string, T.Tensor> {
  const out: Record<string, T.Tensor> = { "rng.cpu": getState("cpu") };
  if (device.startsWith("cuda")) out["rng.cuda"] = getState(device);
  return out;
}

/**
 * Restores the states rngStateTensors saved. A checkpoint without "rng.cuda" (written on a CPU, or by
 * an older version) leaves the CUDA generator as seeded; "rng.cuda" is ignored on a CPU run.
 */
export function restoreRngStates(tensors: Record<string, T.Tensor>, device: string, setState: SetState = T.setRngState): void {
  if (tensors["rng.cpu"]) setState(tensors["rng.cpu"], "cpu");
  if (device.startsWith("cuda") && tensors["rng.cuda"]) setState(tensors["rng.cuda"], device);
}
