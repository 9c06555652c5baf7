// Module tree → ONNX nodes. Each module class the exporter knows has one translation, written from
// what that class's forward computes in eval mode (BatchNorm with its running statistics). Classes
// are matched exactly, not by instanceof: a subclass may override forward, and exporting what the
// parent computes instead would be silently wrong. A module without a translation is refused with
// one line that names it, its class and where it sits in the tree.
import * as T from "../../torch/index.js";
import { UserError } from "../../util/errors.js";
import type { Module } from "../module.js";
import { Conv2d } from "../layers/conv.js";
import { Linear } from "../layers/linear.js";
import { BatchNorm1d, BatchNorm2d, type BatchNormBase } from "../layers/batchnorm.js";
import { Flatten, Identity, ReLU } from "../layers/activation.js";
import { AdaptiveAvgPool2d, AvgPool2d, MaxPool2d } from "../layers/pooling.js";
import { Sequential } from "../layers/sequential.js";
import { BasicBlock, Bottleneck, ResNet } from "../resnet.js";
import { floatAttr, intAttr, intsAttr, type OnnxGraph } from "./graph.js";

/** How the walk writes the graph. */
export interface TranslateOptions {
  /** Fold each BatchNorm that follows a convolution into the convolution's weight and bias (default true). */
  foldBatchNorm: boolean;
}

type Translate = (m: any, x: string, path: string, cx: Context) => string;

interface Context {
  g: OnnxGraph;
  opts: TranslateOptions;
}

const pair = (v: number | [number, number]): [number, number] => (typeof v === "number" ? [v, v] : v);

/** A parameter or buffer as float32 host values in row-major (contiguous) order. */
function hostValues(t: T.Tensor): Float32Array {
  return T.tidy(() => T.noGrad(() => t.detach().to("cpu").to("float32").contiguous().toFloat32Array()));
}

/** BatchNorm in eval mode as y = x·scale + shift per channel (float64 while folding). */
function bnAffine(bn: BatchNormBase, path: string): { scale: Float64Array; shift: Float64Array } {
  const mean = bn.runningMean;
  const variance = bn.runningVar;
  if (!mean || !variance) {
    throw new UserError(`ONNX export: ${path} (${bn.constructor.name}) keeps no running statistics, so its eval-mode output depends on the batch; ONNX export needs running statistics`);
  }
  const m = hostValues(mean);
  const v = hostValues(variance);
  const w = bn.weight ? hostValues(bn.weight) : null;
  const b = bn.bias ? hostValues(bn.bias) : null;
  const scale = new Float64Array(m.length);
  const shift = new Float64Array(m.length);
  for (let c = 0; c < m.length; c++) {
    scale[c] = (w ? w[c] : 1) / Math.sqrt(v[c] + bn.eps);
    shift[c] = (b ? b[c] : 0) - m[c] * scale[c];
  }
  return { scale, shift };
}

function convAttrs(conv: Conv2d) {
  const [ph, pw] = conv.padding;
  return [
    intsAttr("kernel_shape", conv.kernelSize),
    intsAttr("strides", conv.stride),
    intsAttr("pads", [ph, pw, ph, pw]),
    intsAttr("dilations", conv.dilation),
    intAttr("group", conv.groups),
  ];
}

function conv(conv: Conv2d, x: string, path: string, cx: Context): string {
  const w = cx.g.constant(`${path}.weight`, conv.weight.shape, hostValues(conv.weight));
  const inputs = [x, w];
  if (conv.bias) inputs.push(cx.g.constant(`${path}.bias`, conv.bias.shape, hostValues(conv.bias)));
  return cx.g.node("Conv", inputs, convAttrs(conv), path);
}

function batchNorm(bn: BatchNormBase, x: string, path: string, cx: Context): string {
  const c = bn.numFeatures;
  const mean = bn.runningMean;
  const variance = bn.runningVar;
  if (!mean || !variance) bnAffine(bn, path); // throws the one-line refusal
  const scale = bn.weight ? hostValues(bn.weight) : new Float32Array(c).fill(1);
  const shift = bn.bias ? hostValues(bn.bias) : new Float32Array(c);
  const g = cx.g;
  return g.node(
    "BatchNormalization",
    [x, g.constant(`${path}.weight`, [c], scale), g.constant(`${path}.bias`, [c], shift), g.constant(`${path}.running_mean`, [c], hostValues(mean!)), g.constant(`${path}.running_var`, [c], hostValues(variance!))],
    [floatAttr("epsilon", bn.eps)],
    path,
  );
}

/** A convolution followed by a BatchNorm: one Conv with the BatchNorm folded in, or the two nodes. */
function convBn(c: Conv2d, cPath: string, bn: BatchNormBase, bnPath: string, x: string, cx: Context): string {
  if (!cx.opts.foldBatchNorm) return batchNorm(bn, conv(c, x, cPath, cx), bnPath, cx);
  if (!(bn instanceof BatchNorm2d) || bn.numFeatures !== c.outChannels) {
    throw new UserError(`ONNX export: ${bnPath} (${bn.constructor.name}(${bn.numFeatures})) cannot follow ${cPath} (${c.outChannels} output channels)`);
  }
  const { scale, shift } = bnAffine(bn, bnPath);
  const w = hostValues(c.weight);
  const perOut = w.length / c.outChannels;
  const folded = new Float32Array(w.length);
  for (let o = 0; o < c.outChannels; o++) for (let k = 0; k < perOut; k++) folded[o * perOut + k] = w[o * perOut + k] * scale[o];
  const b = c.bias ? hostValues(c.bias) : null;
  const bias = Float32Array.from(shift, (s, o) => (b ? b[o] * scale[o] : 0) + s);
  const g = cx.g;
  return g.node("Conv", [x, g.constant(`${cPath}.weight+${bnPath}`, c.weight.shape, folded), g.constant(`${cPath}.bias+${bnPath}`, [c.outChannels], bias)], convAttrs(c), bnPath);
}

const relu = (x: string, path: string, cx: Context) => cx.g.node("Relu", [x], [], path);
const join = (path: string, name: string) => (path ? `${path}.${name}` : name);

/** child(name) of m, translated under its dotted path. */
function sub(m: Module, name: string, x: string, path: string, cx: Context): string {
  return translate(m.child(name), x, join(path, name), cx);
}

function convBnChild(m: Module, convName: string, bnName: string, x: string, path: string, cx: Context): string {
  return convBn(m.child<Conv2d>(convName), join(path, convName), m.child<BatchNormBase>(bnName), join(path, bnName), x, cx);
}

function shortcut(block: BasicBlock | Bottleneck, x: string, path: string, cx: Context): string {
  return block.downsample ? translate(block.downsample, x, join(path, "downsample"), cx) : x;
}

const TRANSLATIONS = new Map<Function, Translate>([
  [Conv2d, conv],
  [BatchNorm2d, batchNorm],
  [BatchNorm1d, batchNorm],
  [ReLU, (_m: ReLU, x, path, cx) => relu(x, path, cx)],
  [Identity, (_m: Identity, x) => x],
  [MaxPool2d, (m: MaxPool2d, x, path, cx) => {
    const [ph, pw] = pair(m.padding);
    return cx.g.node("MaxPool", [x], [intsAttr("kernel_shape", pair(m.kernelSize)), intsAttr("strides", pair(m.stride)), intsAttr("pads", [ph, pw, ph, pw])], path);
  }],
  [AvgPool2d, (m: AvgPool2d, x, path, cx) => {
    const [ph, pw] = pair(m.padding);
    // PyTorch counts padded zeros in the average (count_include_pad=True).
    return cx.g.node("AveragePool", [x], [intsAttr("kernel_shape", pair(m.kernelSize)), intsAttr("strides", pair(m.stride)), intsAttr("pads", [ph, pw, ph, pw]), intAttr("count_include_pad", 1)], path);
  }],
  [AdaptiveAvgPool2d, (m: AdaptiveAvgPool2d, x, path, cx) => {
    const [oh, ow] = pair(m.outputSize);
    if (oh !== 1 || ow !== 1) throw new UserError(`ONNX export: ${path} is AdaptiveAvgPool2d(${oh}x${ow}); only global average pooling (output size 1) is exported`);
    return cx.g.node("GlobalAveragePool", [x], [], path);
  }],
  [Flatten, (m: Flatten, x, path, cx) => {
    if (m.startDim !== 1 || m.endDim !== -1) throw new UserError(`ONNX export: ${path} is Flatten(${m.startDim}, ${m.endDim}); only Flatten(1, -1) is exported`);
    return cx.g.node("Flatten", [x], [intAttr("axis", 1)], path);
  }],
  [Linear, (m: Linear, x, path, cx) => {
    // x·Wᵀ (+ b) as MatMul with the transposed weight, which works for inputs of any rank.
    const w = hostValues(m.weight);
    const wt = new Float32Array(w.length);
    for (let o = 0; o < m.outFeatures; o++) for (let i = 0; i < m.inFeatures; i++) wt[i * m.outFeatures + o] = w[o * m.inFeatures + i];
    const y = cx.g.node("MatMul", [x, cx.g.constant(`${path}.weight_t`, [m.inFeatures, m.outFeatures], wt)], [], path);
    return m.bias ? cx.g.node("Add", [y, cx.g.constant(`${path}.bias`, [m.outFeatures], hostValues(m.bias))], [], `${path}.add`) : y;
  }],
  [Sequential, (m: Sequential, x, path, cx) => {
    const kids = m.namedChildren();
    let h = x;
    for (let i = 0; i < kids.length; i++) {
      const [name, child] = kids[i];
      const next = kids[i + 1]?.[1];
      if (cx.opts.foldBatchNorm && child.constructor === Conv2d && next?.constructor === BatchNorm2d) {
        h = convBn(child as Conv2d, join(path, name), next as BatchNorm2d, join(path, kids[i + 1][0]), h, cx);
        i++;
      } else {
        h = translate(child, h, join(path, name), cx);
      }
    }
    return h;
  }],
  [BasicBlock, (m: BasicBlock, x, path, cx) => {
    let h = relu(convBnChild(m, "conv1", "bn1", x, path, cx), join(path, "relu1"), cx);
    h = convBnChild(m, "conv2", "bn2", h, path, cx);
    return relu(cx.g.node("Add", [h, shortcut(m, x, path, cx)], [], join(path, "add")), join(path, "relu2"), cx);
  }],
  [Bottleneck, (m: Bottleneck, x, path, cx) => {
    let h = relu(convBnChild(m, "conv1", "bn1", x, path, cx), join(path, "relu1"), cx);
    h = relu(convBnChild(m, "conv2", "bn2", h, path, cx), join(path, "relu2"), cx);
    h = convBnChild(m, "conv3", "bn3", h, path, cx);
    return relu(cx.g.node("Add", [h, shortcut(m, x, path, cx)], [], join(path, "add")), join(path, "relu3"), cx);
  }],
  [ResNet, (m: ResNet, x, path, cx) => {
    let h = relu(convBnChild(m, "conv1", "bn1", x, path, cx), join(path, "relu"), cx);
    h = sub(m, "maxpool", h, path, cx);
    for (const stage of ["layer1", "layer2", "layer3", "layer4"]) h = sub(m, stage, h, path, cx);
    h = sub(m, "avgpool", h, path, cx);
    return cx.g.node("Flatten", [h], [intAttr("axis", 1)], join(path, "flatten"));
  }],
]);

/** The class names the exporter translates (for messages and docs). */
export const EXPORTABLE_MODULES = [...TRANSLATIONS.keys()].map((k) => k.name);

/** Adds the nodes computing `m` (in eval mode) on the value `x` to the graph; returns the output's name. */
export function translate(m: Module, x: string, path: string, cx: Context): string {
  const fn = TRANSLATIONS.get(m.constructor);
  if (!fn) {
    throw new UserError(`ONNX export: module ${path ? `"${path}"` : "(the root)"} is a ${m.constructor.name}, which has no ONNX translation (known: ${EXPORTABLE_MODULES.join(", ")})`);
  }
  return fn(m, x, path, cx);
}

export type { Context as TranslateContext };
