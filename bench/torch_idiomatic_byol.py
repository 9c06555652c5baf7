#!/usr/bin/env python3
"""A BYOL training step written the way popular PyTorch implementations write it, for a side-by-side
speed comparison with byol-ts's step (bench/gpu.ts). Unlike bench/torch_reference.py (fixed views, engine
only), this one includes the augmentation, the online linear probe and the data upload:

- a uint8 batch is uploaded from pinned host memory with non_blocking=True, as a DataLoader with
  pin_memory=True delivers it;
- the two views come from torchvision.transforms.v2 applied to the whole batch on the GPU: v2 draws ONE
  set of random parameters per call, so every image of a batch gets the same crop, flip, jitter, ...
  (what lightly's and byol-pytorch's GPU augmentation do; byol-ts draws per image, which is more work);
  the view pair is BYOL's (crop 0.08-1, flip, colour jitter 0.4/0.4/0.2/0.1 with p 0.8, grayscale 0.2,
  blur 1.0 / 0.1, solarize 0 / 0.2, normalise);
- ResNet-18 from torchvision with the small (CIFAR) stem: 3x3 conv, stride 1, no max-pool, fc removed;
  projector and predictor Linear(512, 4096) -> BatchNorm -> ReLU -> Linear(4096, 256); the target is a
  deep copy of the online network (no gradients), updated by an EMA loop over parameters;
- the optimizer is LARS-like: SGD with momentum 0.9 whose update of each weight matrix is scaled by
  the trust ratio eta*|w|/|g + wd*w| (eta 1e-3, wd 1e-6), biases and BatchNorm parameters excluded from
  both, computed in a Python loop over parameters as common LARS wrappers do;
- the online linear probe: Linear(512, 10) on the detached representation of view 1, with its own AdamW;
- bf16 autocast, channels-last, cudnn.benchmark; no .item() per step (the loss is read once at the end).

Prints one JSON line: {"impl": "pytorch-idiomatic", "batch": ..., "img_per_s": ..., "ms_per_step": ...}.
Usage: python3 torch_idiomatic_byol.py [--batch 256] [--steps 30] [--warmup 8] [--device cuda]
"""
import argparse, copy, json, time
import torch
import torch.nn as nn
import torch.nn.functional as F


def resnet18_small_stem():
    import torchvision
    net = torchvision.models.resnet18()
    net.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
    net.maxpool = nn.Identity()
    net.fc = nn.Identity()
    return net


def mlp(din, hidden=4096, dout=256):
    return nn.Sequential(nn.Linear(din, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True), nn.Linear(hidden, dout))


def views(size, blur_p, solarize_p):
    from torchvision.transforms import v2
    return v2.Compose([
        v2.RandomResizedCrop(size, scale=(0.08, 1.0), antialias=True),
        v2.RandomHorizontalFlip(),
        v2.RandomApply([v2.ColorJitter(0.4, 0.4, 0.2, 0.1)], p=0.8),
        v2.RandomGrayscale(p=0.2),
        v2.RandomApply([v2.GaussianBlur(3, sigma=(0.1, 2.0))], p=blur_p),
        v2.ToDtype(torch.float32, scale=True),
        v2.RandomSolarize(0.5, p=solarize_p),
        v2.Normalize([0.4914, 0.4822, 0.4465], [0.247, 0.243, 0.261]),
    ])


class LARSLike(torch.optim.Optimizer):
    """SGD with momentum; each parameter of a group with lars=True gets the trust ratio eta*|w|/|u|."""

    def __init__(self, groups, lr, momentum=0.9, eta=1e-3):
        super().__init__(groups, dict(lr=lr, momentum=momentum, eta=eta, weight_decay=0.0, lars=True))

    @torch.no_grad()
    def step(self):
        for g in self.param_groups:
            for p in g["params"]:
                if p.grad is None:
                    continue
                u = p.grad.add(p, alpha=g["weight_decay"]) if g["weight_decay"] else p.grad
                if g["lars"]:
                    wn, un = torch.norm(p), torch.norm(u)
                    u = u * torch.where((wn > 0) & (un > 0), g["eta"] * wn / un, torch.ones_like(wn))
                st = self.state[p]
                if "mom" not in st:
                    st["mom"] = torch.zeros_like(p)
                st["mom"].mul_(g["momentum"]).add_(u)
                p.add_(st["mom"], alpha=-g["lr"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=8)
    a = ap.parse_args()
    dev = torch.device(a.device)
    torch.backends.cudnn.benchmark = True
    torch.manual_seed(0)
    online = nn.ModuleDict(dict(encoder=resnet18_small_stem(), projector=mlp(512))).to(dev, memory_format=torch.channels_last)
    predictor = mlp(256).to(dev)
    target = copy.deepcopy(online)
    for p in target.parameters():
        p.requires_grad_(False)
    probe = nn.Linear(512, 10).to(dev)
    named = list(online.named_parameters()) + [("predictor." + n, p) for n, p in predictor.named_parameters()]
    decay = [p for n, p in named if p.ndim > 1]
    plain = [p for n, p in named if p.ndim <= 1]
    opt = LARSLike([dict(params=decay, weight_decay=1e-6), dict(params=plain, lars=False)], lr=0.3 * a.batch / 256)
    probe_opt = torch.optim.AdamW(probe.parameters(), lr=1e-2, weight_decay=0)
    t1, t2 = views(32, 1.0, 0.0), views(32, 0.1, 0.2)
    host = [torch.randint(0, 256, (a.batch, 3, 32, 32), dtype=torch.uint8).pin_memory() for _ in range(4)]
    labels = [torch.randint(0, 10, (a.batch,)).pin_memory() for _ in range(4)]
    online_p = list(online.parameters())
    target_p = list(target.parameters())

    def loss_fn(p, z):
        return 2 - 2 * F.cosine_similarity(p, z.detach(), dim=-1)

    def step(i, tau=0.99):
        x = host[i % 4].to(dev, non_blocking=True)
        y = labels[i % 4].to(dev, non_blocking=True)
        v1 = t1(x).contiguous(memory_format=torch.channels_last)
        v2 = t2(x).contiguous(memory_format=torch.channels_last)
        with torch.autocast(dev.type, dtype=torch.bfloat16):
            y1 = online["encoder"](v1)
            p1 = predictor(online["projector"](y1))
            p2 = predictor(online["projector"](online["encoder"](v2)))
            with torch.no_grad():
                z1 = target["projector"](target["encoder"](v1))
                z2 = target["projector"](target["encoder"](v2))
            loss = (loss_fn(p1.float(), z2.float()) + loss_fn(p2.float(), z1.float())).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            for po, pt in zip(online_p, target_p):
                pt.mul_(tau).add_(po, alpha=1 - tau)
        probe_loss = F.cross_entropy(probe(y1.detach().float()), y)
        probe_opt.zero_grad(set_to_none=True)
        probe_loss.backward()
        probe_opt.step()
        return loss

    for i in range(a.warmup):
        step(i)
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for i in range(a.steps):
        loss = step(i)
    torch.cuda.synchronize()
    dt = (time.perf_counter() - t0) / a.steps
    import torchvision
    print(json.dumps(dict(impl="pytorch-idiomatic", torch=torch.__version__, torchvision=torchvision.__version__, device=dev.type,
                          batch=a.batch, precision="bf16", channels_last=True, ms_per_step=round(dt * 1e3, 2),
                          img_per_s=round(a.batch / dt, 1), loss=round(float(loss), 4))))


if __name__ == "__main__":
    main()
