// Hue rotation of RGB batches through HSV, with torchvision's conventions (hue in [0, 1), a full turn
// = 1, ties between maximal channels resolved R, then G). Hue stays in sextants h6 ∈ [−1, 5) and the
// way back uses the closed form
//   c_n = min + chroma · clamp(|((h6 + n) mod 6) − 2| − 1, 0, 1),   n = 5, 3, 1 for R, G, B,
// which is the six-sector table of HSV→RGB written as a few batched element-wise ops: no per-sector
// gather, and a rotation by `shift` turns is just n + 6·shift. The full-size mod is avoided too (it is
// not vectorised on CPUs): with o = (n + 6·shift) mod 6 − 5 computed per image, k = h6 + o lies in
// [−6, 6) and clamp(||k| − 3| − 1, 0, 1) is the same periodic ramp.
import * as T from "../torch/index.js";

// Smallest divisor used for grey pixels (chroma 0), whose numerators are 0 anyway. Images with
// a chroma below this are grey for every practical purpose.
const TINY = 1e-30;

interface Hue {
  h6: T.Tensor; // [N, 1, H, W], hue in sextants
  min: T.Tensor; // [N, 1, H, W]
  chroma: T.Tensor; // max − min
}

function hueOf(x: T.Tensor): Hue {
  const r = x.narrow(1, 0, 1);
  const g = x.narrow(1, 1, 1);
  const b = x.narrow(1, 2, 1);
  const max = x.amax(1, true);
  const min = x.amin(1, true);
  const chroma = max.sub(min);
  const rIsMax = max.eq(r);
  const gIsMax = max.eq(g);
  // Numerator per sector (plus the sector offset times chroma), then a single division.
  const num = T.where(rIsMax, g.sub(b), T.where(gIsMax, b.sub(r).add_(chroma, 2), r.sub(g).add_(chroma, 4)));
  return { h6: num.div(chroma.clamp(TINY)), min, chroma };
}

/** RGB from hue in sextants and offsets o [N or 1, 3, 1, 1] in [−5, 1) (see above). */
function rgbOf(h6: T.Tensor, offset: T.Tensor, min: T.Tensor, chroma: T.Tensor): T.Tensor {
  const ramp = h6.add(offset);
  T.callOp("abs_", "", ramp);
  ramp.add_(-3);
  T.callOp("abs_", "", ramp);
  ramp.add_(-1).clamp_(0, 1);
  return ramp.mul_(chroma).add_(min).clamp_(0, 1);
}

/** o = n mod 6 − 5 for n = 5, 3, 1: [1, 3, 1, 1] (the offsets of a zero shift). */
function offsets(device: string): T.Tensor {
  return T.arange(5, 0, -2, { dtype: "float32", device }).view(1, 3, 1, 1).remainder(6).add(-5);
}

/** RGB [N, 3, H, W] in [0, 1] → HSV [N, 3, H, W] (hue in [0, 1)). */
export function rgbToHsv(x: T.Tensor): T.Tensor {
  return T.tidy(() => {
    const { h6, chroma } = hueOf(x);
    const v = x.amax(1, true);
    const h = h6.div(6).add(1).remainder(1);
    return T.cat([h, chroma.div(v.clamp(TINY)), v], 1);
  });
}

/** HSV [N, 3, H, W] → RGB. */
export function hsvToRgb(hsv: T.Tensor): T.Tensor {
  return T.tidy(() => {
    const v = hsv.narrow(1, 2, 1);
    const chroma = hsv.narrow(1, 1, 1).mul(v);
    return rgbOf(hsv.narrow(1, 0, 1).mul(6), offsets(hsv.device), v.sub(chroma), chroma);
  });
}

/** (5, 3, 1) [1, 3, 1]: the n of each output channel R, G, B in the closed form above. */
export function hueChannelIds(device: string): T.Tensor {
  return T.tensor(Float32Array.from([5, 3, 1]), [1, 3, 1], { device });
}

/** o = (n + 6·shift) mod 6 − 5 [N, 3, 1] for shifts [N, 1, 1] in turns; ids from hueChannelIds. */
export function hueOffsets(shift: T.Tensor, ids: T.Tensor): T.Tensor {
  return ids.add(shift, 6).remainder(6).add_(-5);
}

// Cyclic channel differences (g − b, b − r, r − g): the hue numerator of the sector whose maximum is
// r, g or b respectively.
const CYCLIC_DIFF = [0, 1, -1, -1, 0, 1, 1, -1, 0];

/** The [1, 3, 3] matrix of the cyclic differences, for hueRotate. */
export function hueDiffMatrix(device: string): T.Tensor {
  return T.tensor(Float32Array.from(CYCLIC_DIFF), [1, 3, 3], { device });
}

/**
 * Hue rotation of RGB pixels x [N, 3, P] in [0, 1] by per-image offsets [N, 3, 1] (hueOffsets), in a
 * fixed, small number of batched ops and without a division: the closed form is homogeneous in the
 * chroma c, so c·ramp(h6 + o) = clamp(||num + o·c| − 3c| − c, 0, c) with num = c·h6 taken from the
 * cyclic differences of the maximal channel (ties give the same numerator, whichever channel wins).
 */
export function hueRotate(x: T.Tensor, offsets: T.Tensor, diff: T.Tensor): T.Tensor {
  const [max, argmax] = x.maxDim(1, true);
  const min = x.amin(1, true);
  const chroma = max.sub(min);
  // Sector k = argmax adds 2k·chroma to its numerator (r: 0, g: 2, b: 4).
  const num = diff.matmul(x).gather(1, argmax).addcmul_(argmax, chroma, 2);
  const z = T.callOp("addcmul", "", num, offsets, chroma, 1) as T.Tensor;
  T.callOp("abs_", "", z);
  z.sub_(chroma, 3);
  T.callOp("abs_", "", z);
  z.sub_(chroma).relu_();
  T.callOp("clamp_max_", "Tensor", z, chroma);
  return z.add_(min).clamp_(0, 1);
}

/** Rotates the hue of each image of x [N, C, H, W] by shift [N] (fractions of a turn; any real value). */
export function adjustHue(x: T.Tensor, shift: T.Tensor): T.Tensor {
  if (x.size(1) === 1) return x.clone();
  return T.tidy(() => {
    const [n, c, h, w] = x.shape as [number, number, number, number];
    const o = hueOffsets(shift.view(n, 1, 1), hueChannelIds(x.device));
    return hueRotate(x.reshape(n, c, h * w), o, hueDiffMatrix(x.device)).view(n, c, h, w);
  });
}
