// The view pairs (T, T′) BYOL trains with: the paper's ImageNet pair, a CIFAR-style pair for 32x32
// colour images and a pair for 28x28 grey images such as Fashion-MNIST. Each returns fresh objects that
// callers may edit; every field is a parameter.
import { UserError } from "../util/errors.js";
import type { ViewConfig } from "./config.js";

export const IMAGENET_MEAN = [0.485, 0.456, 0.406];
export const IMAGENET_STD = [0.229, 0.224, 0.225];
export const CIFAR10_MEAN = [0.4914, 0.4822, 0.4465];
export const CIFAR10_STD = [0.247, 0.2435, 0.2616];
export const FASHION_MNIST_MEAN = [0.286];
export const FASHION_MNIST_STD = [0.353];

const ASPECT: [number, number] = [3 / 4, 4 / 3];

/** The paper's T and T′ (SPEC §1): identical but for blur (1.0 vs 0.1) and solarize (0 vs 0.2). */
export function byolPresets(size = 224, mean: number[] = IMAGENET_MEAN, std: number[] = IMAGENET_STD): [ViewConfig, ViewConfig] {
  const base = (blurP: number, solarizeP: number): ViewConfig => ({
    outputSize: size,
    crop: { scale: [0.08, 1], ratio: [...ASPECT], interpolation: "bicubic" },
    flipP: 0.5,
    jitter: { p: 0.8, brightness: 0.4, contrast: 0.4, saturation: 0.2, hue: 0.1 },
    grayscaleP: 0.2,
    blur: { p: blurP, sigma: [0.1, 2.0], kernelFraction: 0.1 },
    solarize: { p: solarizeP, threshold: 0.5 },
    mean: [...mean],
    std: [...std],
  });
  return [base(1.0, 0.0), base(0.1, 0.2)];
}

/**
 * CIFAR-style pair (solo-learn's and lightly's BYOL on 32x32): the paper's pair without blur, since a
 * 3-tap Gaussian on a 32-pixel image wipes out most of what is left after an 8% crop.
 */
export function cifarPresets(size = 32, mean: number[] = CIFAR10_MEAN, std: number[] = CIFAR10_STD): [ViewConfig, ViewConfig] {
  const [t1, t2] = byolPresets(size, mean, std);
  t1.blur.p = 0;
  t2.blur.p = 0;
  return [t1, t2];
}

/**
 * Pair for 28x28 grey images (Fashion-MNIST). Choices, against the paper's pair:
 * - crop area from 20%, not 8%: at 28 pixels an 8% crop is an 8x8 patch, too little of a garment to
 *   tell its class from; 20% still forces part-to-whole matching;
 * - bilinear resampling: bicubic overshoot rings around the hard garment/background edges;
 * - flip as in the paper (garments are left-right symmetric classes);
 * - brightness and contrast jitter as in the paper; saturation, hue and grayscale do nothing on one
 *   channel (left at the paper's values so the config reads the same; the pipeline skips them);
 * - blur weak (σ up to 1, p 0.5 / 0.1): the 3-tap kernel at 28 px blurs the texture that separates
 *   shirts from T-shirts, but some blur keeps the network from keying on pixel-exact edges;
 * - solarize as T′ (p 0.2): on dark-background images it inverts the garment, a strong cue-remover.
 */
export function grayscale28Presets(size = 28, mean: number[] = FASHION_MNIST_MEAN, std: number[] = FASHION_MNIST_STD): [ViewConfig, ViewConfig] {
  const base = (blurP: number, solarizeP: number): ViewConfig => ({
    outputSize: size,
    crop: { scale: [0.2, 1], ratio: [...ASPECT], interpolation: "bilinear" },
    flipP: 0.5,
    jitter: { p: 0.8, brightness: 0.4, contrast: 0.4, saturation: 0.2, hue: 0.1 },
    grayscaleP: 0.2,
    blur: { p: blurP, sigma: [0.1, 1.0], kernelFraction: 0.1 },
    solarize: { p: solarizeP, threshold: 0.5 },
    mean: [...mean],
    std: [...std],
  });
  return [base(0.5, 0.0), base(0.1, 0.2)];
}

/** Names of the view-pair presets: "byol" (the paper's, ImageNet-sized), "cifar" (32 px), "gray28" (28 px grey, Fashion-MNIST). */
export type PresetName = "byol" | "cifar" | "gray28";
/** Every view-pair preset name. */
export const PRESET_NAMES: readonly PresetName[] = ["byol", "cifar", "gray28"];

/** The pair called `name`; size, mean and std default to the preset's own. */
export function presetByName(name: PresetName, size?: number, mean?: number[], std?: number[]): [ViewConfig, ViewConfig] {
  switch (name) {
    case "byol": return byolPresets(size, mean, std);
    case "cifar": return cifarPresets(size, mean, std);
    case "gray28": return grayscale28Presets(size, mean, std);
    default: throw new UserError(`augment: unknown preset "${String(name)}" (expected ${PRESET_NAMES.join(", ")})`);
  }
}

/**
 * The view pair that suits images of `channels` channels and side `side` (the shorter side, in pixels):
 * grey images up to 28 px get gray28, any up to 32 px cifar, larger ones the paper's pair. `byol
 * preview` and training (the "auto" recipe, src/train/recipe.ts) both decide with this function.
 */
export function chooseViewPreset(channels: number, side: number): PresetName {
  if (channels === 1 && side <= 28) return "gray28";
  return side <= 32 ? "cifar" : "byol";
}
