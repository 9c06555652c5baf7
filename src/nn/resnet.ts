// ResNet-18/34/50 encoders with torchvision's structure and tensor names (conv1, bn1, layer1.0.conv1,
// layer2.0.downsample.0, ...), without the classifier: forward returns the globally pooled features
// [N, outDim]. Two stems: "imagenet" (7x7 stride-2 conv + 3x3 stride-2 max-pool, as torchvision) and
// "small" (3x3 stride-1 conv, no max-pool, the usual choice for 28–32 px images). A width multiplier
// scales every stage (0.25 → 16, 32, 64, 128 channels) for small machines; explicit stage widths
// (e.g. 16, 32, 64, 256) widen only the late, low-resolution stages, where channels are cheap.
// The normalisation can be switched (src/nn/norm.ts): GroupNorm with weight-standardised convolutions
// sits where torchvision's `norm_layer` argument puts it (bn1, layer1.0.bn2, downsample.1, ...), and
// "none" leaves an Identity there (no tensors).
import * as T from "../torch/index.js";
import { UserError } from "../util/errors.js";
import { kaimingNormal_ } from "./init.js";
import { BatchNormBase } from "./layers/batchnorm.js";
import { GroupNorm } from "./layers/groupnorm.js";
import { convFor, normLayer, type NormKind } from "./norm.js";
import { Conv2d } from "./layers/conv.js";
import { AdaptiveAvgPool2d, MaxPool2d } from "./layers/pooling.js";
import { Identity, ReLU } from "./layers/activation.js";
import { Sequential } from "./layers/sequential.js";
import { Module } from "./module.js";

/** "imagenet": 7x7 stride-2 conv and max-pool, as torchvision; "small": one 3x3 conv and no max-pool, for 28-32 px images. */
export type Stem = "imagenet" | "small";

/** Input channels, stem and width of a ResNet encoder. */
export interface ResNetOptions {
  /** Input channels (3 for RGB, 1 for grayscale). Default 3. */
  inChannels?: number;
  /** Default "imagenet". */
  stem?: Stem;
  /** Scales every stage's width (default 1). */
  widthMultiplier?: number;
  /**
   * Channels of layer1..layer4 (before a bottleneck's expansion), replacing 64, 128, 256, 512 ×
   * widthMultiplier. The last stage's width sets the representation's size.
   */
  stageWidths?: readonly number[] | null;
  /**
   * Stride of the small stem's 3x3 conv (default 1). 2 halves the resolution before the first stage:
   * a quarter of the compute on 28x28 inputs, for training on a CPU. The imagenet stem ignores it.
   */
  stemStride?: number;
  /** Convert inputs (and the weights, via toChannelsLast) to channels-last memory format. */
  channelsLast?: boolean;
  /** "batchnorm" (default, torchvision's), "groupnorm-ws" or "none". */
  norm?: NormKind;
}

/** Two 3x3 convolutions with a shortcut (ResNet-18/34). */
export class BasicBlock extends Module {
  static readonly expansion = 1;
  readonly conv1: Conv2d;
  readonly bn1: Module;
  readonly relu: ReLU;
  readonly conv2: Conv2d;
  readonly bn2: Module;
  readonly downsample: Sequential | null;

  constructor(inplanes: number, planes: number, stride = 1, downsample: Sequential | null = null, norm: NormKind = "batchnorm") {
    super();
    this.conv1 = this.registerModule("conv1", convFor(norm, inplanes, planes, 3, { stride, padding: 1, bias: false }));
    this.bn1 = this.registerModule("bn1", normLayer(norm, planes, true));
    this.relu = this.registerModule("relu", new ReLU(true));
    this.conv2 = this.registerModule("conv2", convFor(norm, planes, planes, 3, { padding: 1, bias: false }));
    this.bn2 = this.registerModule("bn2", normLayer(norm, planes, true));
    this.downsample = downsample ? this.registerModule("downsample", downsample) : null;
  }

  forward(x: T.Tensor): T.Tensor {
    return T.tidy(() => {
      const out = this.bn2.forward(this.conv2.forward(this.bn1.forward(this.conv1.forward(x)).relu_()));
      // In place like torchvision: batch-norm's backward does not need its output.
      return out.add_(this.downsample ? this.downsample.forward(x) : x).relu_();
    });
  }
}

/** 1x1 → 3x3 (stride here, torchvision's "v1.5") → 1x1 with 4x expansion (ResNet-50). */
export class Bottleneck extends Module {
  static readonly expansion = 4;
  readonly conv1: Conv2d;
  readonly bn1: Module;
  readonly conv2: Conv2d;
  readonly bn2: Module;
  readonly conv3: Conv2d;
  readonly bn3: Module;
  readonly relu: ReLU;
  readonly downsample: Sequential | null;

  constructor(inplanes: number, planes: number, stride = 1, downsample: Sequential | null = null, norm: NormKind = "batchnorm") {
    super();
    const width = planes;
    this.conv1 = this.registerModule("conv1", convFor(norm, inplanes, width, 1, { bias: false }));
    this.bn1 = this.registerModule("bn1", normLayer(norm, width, true));
    this.conv2 = this.registerModule("conv2", convFor(norm, width, width, 3, { stride, padding: 1, bias: false }));
    this.bn2 = this.registerModule("bn2", normLayer(norm, width, true));
    this.conv3 = this.registerModule("conv3", convFor(norm, width, planes * Bottleneck.expansion, 1, { bias: false }));
    this.bn3 = this.registerModule("bn3", normLayer(norm, planes * Bottleneck.expansion, true));
    this.relu = this.registerModule("relu", new ReLU(true));
    this.downsample = downsample ? this.registerModule("downsample", downsample) : null;
  }

  forward(x: T.Tensor): T.Tensor {
    return T.tidy(() => {
      let out = this.bn1.forward(this.conv1.forward(x)).relu_();
      out = this.bn2.forward(this.conv2.forward(out)).relu_();
      out = this.bn3.forward(this.conv3.forward(out));
      return out.add_(this.downsample ? this.downsample.forward(x) : x).relu_();
    });
  }
}

/** The four stages' widths: explicit ones when given, else torchvision's 64, 128, 256, 512 × the multiplier. */
export function resnetStageWidths(widthMultiplier: number, stageWidths?: readonly number[] | null): number[] {
  if (stageWidths != null) {
    if (!Array.isArray(stageWidths) || stageWidths.length !== 4 || !stageWidths.every((w) => Number.isInteger(w) && w >= 1 && w <= 4096)) {
      throw new UserError(`ResNet: stageWidths must be 4 integers in [1, 4096], got ${JSON.stringify(stageWidths)}`);
    }
    return [...stageWidths];
  }
  return [64, 128, 256, 512].map((w) => Math.max(1, Math.round(w * widthMultiplier)));
}

type BlockClass = (typeof BasicBlock | typeof Bottleneck) & { expansion: number };

/** A ResNet encoder with torchvision's structure and tensor names, without the classifier: forward returns pooled features [N, outDim]. */
export class ResNet extends Module {
  /** Size of the representation y returned by forward. */
  readonly outDim: number;
  readonly stem: Stem;
  readonly inChannels: number;
  readonly widthMultiplier: number;
  readonly stemStride: number;
  readonly widths: number[];
  readonly norm: NormKind;
  channelsLast: boolean;
  private readonly stages: Sequential[];

  constructor(block: BlockClass, layers: number[], opts: ResNetOptions = {}) {
    super();
    this.inChannels = opts.inChannels ?? 3;
    this.stem = opts.stem ?? "imagenet";
    this.widthMultiplier = opts.widthMultiplier ?? 1;
    this.channelsLast = opts.channelsLast ?? false;
    this.stemStride = opts.stemStride ?? 1;
    this.norm = opts.norm ?? "batchnorm";
    if (!["batchnorm", "groupnorm-ws", "none"].includes(this.norm)) throw new UserError(`ResNet: norm must be batchnorm, groupnorm-ws or none, got "${opts.norm}"`);
    const norm = this.norm;
    if (this.stemStride !== 1 && this.stemStride !== 2) throw new UserError(`ResNet: stemStride must be 1 or 2, got ${opts.stemStride}`);
    if (!Number.isInteger(this.inChannels) || this.inChannels < 1) throw new UserError(`ResNet: inChannels must be a positive integer, got ${opts.inChannels}`);
    if (this.stem !== "imagenet" && this.stem !== "small") throw new UserError(`ResNet: stem must be "imagenet" or "small", got "${opts.stem}"`);
    if (!(this.widthMultiplier > 0) || !Number.isFinite(this.widthMultiplier)) throw new UserError(`ResNet: widthMultiplier must be a positive number, got ${opts.widthMultiplier}`);
    this.widths = resnetStageWidths(this.widthMultiplier, opts.stageWidths);
    let inplanes = this.widths[0];
    const small = this.stem === "small";
    this.registerModule("conv1", convFor(norm, this.inChannels, inplanes, small ? 3 : 7, { stride: small ? this.stemStride : 2, padding: small ? 1 : 3, bias: false }));
    this.registerModule("bn1", normLayer(norm, inplanes, true));
    this.registerModule("relu", new ReLU(true));
    this.registerModule("maxpool", small ? new Identity() : new MaxPool2d(3, 2, 1));
    this.stages = layers.map((blocks, i) => {
      const planes = this.widths[i];
      const stride = i === 0 ? 1 : 2;
      let downsample: Sequential | null = null;
      if (stride !== 1 || inplanes !== planes * block.expansion) {
        downsample = new Sequential(convFor(norm, inplanes, planes * block.expansion, 1, { stride, bias: false }), normLayer(norm, planes * block.expansion, true));
      }
      const stage = new Sequential(new block(inplanes, planes, stride, downsample, norm));
      inplanes = planes * block.expansion;
      for (let b = 1; b < blocks; b++) stage.append(new block(inplanes, planes, 1, null, norm));
      return this.registerModule(`layer${i + 1}`, stage);
    });
    this.registerModule("avgpool", new AdaptiveAvgPool2d(1));
    this.outDim = inplanes;
    this.initWeights();
    if (this.channelsLast) this.toChannelsLast();
  }

  // torchvision's ResNet init: convolutions He-normal (fan_out, relu), BatchNorm/GroupNorm weight 1 and bias 0.
  private initWeights(): void {
    for (const m of this.modules()) {
      if (m instanceof Conv2d) kaimingNormal_(m.weight, 0, "fan_out", "relu");
      else if (m instanceof BatchNormBase || m instanceof GroupNorm) {
        T.noGrad(() => {
          m.weight?.fill_(1);
          m.bias?.zero_();
        });
      }
    }
  }

  override resetParameters(): this {
    super.resetParameters();
    this.initWeights();
    return this;
  }

  override toChannelsLast(): this {
    this.channelsLast = true;
    return super.toChannelsLast();
  }

  forward(x: T.Tensor): T.Tensor {
    const shape = x.shape;
    if (shape.length !== 4 || shape[1] !== this.inChannels) {
      throw new UserError(`ResNet: expected images [N, ${this.inChannels}, H, W], got shape [${shape}]`);
    }
    return T.tidy(() => {
      let h = this.channelsLast ? x.contiguous("channelsLast") : x;
      h = this.child("bn1").forward(this.child("conv1").forward(h)).relu_();
      h = this.child("maxpool").forward(h);
      for (const s of this.stages) h = s.forward(h);
      return this.child("avgpool").forward(h).flatten(1);
    });
  }
}

/** ResNet-18 (basic blocks 2, 2, 2, 2). */
export function resnet18(opts: ResNetOptions = {}): ResNet {
  return new ResNet(BasicBlock, [2, 2, 2, 2], opts);
}

/** ResNet-34 (basic blocks 3, 4, 6, 3). */
export function resnet34(opts: ResNetOptions = {}): ResNet {
  return new ResNet(BasicBlock, [3, 4, 6, 3], opts);
}

/** ResNet-50 (bottleneck blocks 3, 4, 6, 3). */
export function resnet50(opts: ResNetOptions = {}): ResNet {
  return new ResNet(Bottleneck, [3, 4, 6, 3], opts);
}

/** The ResNet constructors by name. */
export const RESNETS = { resnet18, resnet34, resnet50 } as const;
/** resnet18, resnet34 or resnet50. */
export type ResNetName = keyof typeof RESNETS;
