#!/usr/bin/env python3
"""An independent BYOL in plain PyTorch on Fashion-MNIST, for checking what the CPU preset's encoder can
learn in a few epochs and for sweeping settings faster than a full run (docs/cpu-recipe.md, "What else was tried").

Same encoder as the CPU preset (ResNet-18 with a 3x3 stride-2 stem, widths 64..512 divided by widthdiv),
heads Linear-BN-ReLU-Linear, SGD with momentum 0.9 and weight decay off biases and BatchNorm, warm-up
then cosine learning rate, the cosine tau schedule, independent online/target initialisations. Its
views are simpler than the gray28 preset's: random resized crop (bilinear) with flip by one affine
resampling per image, and brightness/contrast jitter with p 0.8; no blur, no solarize. Evaluation on
the full test split: kNN (cosine, k 200, T 0.1) and a linear probe on standardised features (AdamW,
30 epochs, cosine), as byol-ts does.

Usage: /usr/bin/python3 bench/torch_byol_fmnist.py [epochs=2] [batch=256] [lr=0.3] [wd=1e-4] [tau=0.99]
       [minscale=0.2] [jitter=0.4] [widthdiv=4] [stemstride=2 (1, or 0 = 7x7 stem and max-pool)]
       [predlr=1] [hid=1024] [bf16=1] [copy=0 (1: target starts as a copy)] [evalinit=0]
Prints progress lines and one JSON line with the test accuracies.
"""
import sys, time, math, gzip, glob, json, os, numpy as np, torch, torch.nn as nn, torch.nn.functional as F
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_reference import BasicBlock
torch.set_num_threads(2); torch.manual_seed(0)
args = dict(a.split('=') for a in sys.argv[1:])
EPOCHS=float(args.get('epochs',1)); B=int(args.get('batch',256)); LR=float(args.get('lr',0.3)); WD=float(args.get('wd',1e-4))
TAU=float(args.get('tau',0.99)); MINS=float(args.get('minscale',0.2)); W=int(args.get('widthdiv',4)); BF=args.get('bf16','1')=='1'
SS=int(args.get('stemstride',2)); PREDLR=float(args.get('predlr',1.0)); HID=int(args.get('hid',1024)); JIT=float(args.get('jitter',0.4))
def idx(p):
    with gzip.open(p) as f: d=f.read()
    return np.frombuffer(d, np.uint8, offset=16 if d[3]==3 else 8)
D=os.environ.get('FASHION_MNIST_DIR','/usr/share/datasets/fashion-mnist')+'/'
def load(split):
    pre = 'train' if split=='train' else 't10k'
    xi=[p for p in glob.glob(D+pre+'-images*')][0]; li=[p for p in glob.glob(D+pre+'-labels*')][0]
    return torch.from_numpy(idx(xi).reshape(-1,1,28,28).copy()), torch.from_numpy(idx(li).astype(np.int64))
Xtr,Ytr=load('train'); Xte,Yte=load('test')
MEAN,STD=0.286,0.353
class Enc(nn.Module):
    def __init__(s):
        super().__init__(); w=[64//W,128//W,256//W,512//W]
        s.conv1=nn.Conv2d(1,w[0],7,2,3,bias=False) if SS==0 else nn.Conv2d(1,w[0],3,SS,1,bias=False); s.pool=nn.MaxPool2d(3,2,1) if SS==0 else nn.Identity(); s.bn1=nn.BatchNorm2d(w[0]); L=[]; c=w[0]
        for i,o in enumerate(w): L.append(nn.Sequential(BasicBlock(c,o,1 if i==0 else 2),BasicBlock(o,o,1))); c=o
        s.layers=nn.Sequential(*L); s.dim=w[3]
    def forward(s,x): return torch.flatten(F.adaptive_avg_pool2d(s.layers(s.pool(F.relu(s.bn1(s.conv1(x))))),1),1)
def mlp(i,h,o): return nn.Sequential(nn.Linear(i,h),nn.BatchNorm1d(h),nn.ReLU(True),nn.Linear(h,o))
enc=Enc(); proj=mlp(enc.dim,HID,128); pred=mlp(128,HID,128)
tenc=Enc(); tproj=mlp(enc.dim,HID,128)
for m in (enc,proj,pred,tenc,tproj): m.to(memory_format=torch.channels_last)
def aug(x):
    n=x.shape[0]; x=x.float()/255
    area=torch.empty(n).uniform_(MINS,1); logr=torch.empty(n).uniform_(math.log(3/4),math.log(4/3)); r=torch.exp(logr)
    w=torch.sqrt(area*r).clamp(max=1); h=torch.sqrt(area/r).clamp(max=1)
    cx=(torch.rand(n)*2-1)*(1-w); cy=(torch.rand(n)*2-1)*(1-h)
    flip=torch.where(torch.rand(n)<0.5,-1.0,1.0)
    th=torch.zeros(n,2,3); th[:,0,0]=w*flip; th[:,0,2]=cx; th[:,1,1]=h; th[:,1,2]=cy
    g=F.affine_grid(th,(n,1,28,28),align_corners=False); x=F.grid_sample(x,g,mode='bilinear',padding_mode='border',align_corners=False)
    apply=(torch.rand(n,1,1,1)<0.8).float()
    b=1+(torch.rand(n,1,1,1)*2-1)*JIT; c=1+(torch.rand(n,1,1,1)*2-1)*JIT
    m=x.mean((1,2,3),keepdim=True)
    xj=((x*b-m*b)*c+m*b).clamp(0,1); x=apply*xj+(1-apply)*x
    return ((x-MEAN)/STD).contiguous(memory_format=torch.channels_last)
params=[{'params':[p for m in (enc,proj) for p in m.parameters() if p.ndim>1],'weight_decay':WD},
        {'params':[p for m in (enc,proj) for p in m.parameters() if p.ndim<=1],'weight_decay':0},
        {'params':[p for p in pred.parameters() if p.ndim>1],'weight_decay':WD,'k':PREDLR},
        {'params':[p for p in pred.parameters() if p.ndim<=1],'weight_decay':0,'k':PREDLR}]
opt=torch.optim.SGD(params,lr=LR,momentum=0.9)
spe=60000//B; K=int(EPOCHS*spe); warm=int(0.2*spe)
def loss_fn(p,z): return 2-2*F.cosine_similarity(p.float(),z.float(),dim=1)
@torch.no_grad()
def feats(m,X):
    m.eval(); out=[]
    for i in range(0,len(X),1000):
        x=((X[i:i+1000].float()/255-MEAN)/STD).contiguous(memory_format=torch.channels_last)
        with torch.autocast('cpu',dtype=torch.bfloat16,enabled=BF): out.append(m(x).float())
    m.train(); return torch.cat(out)
def knn(ftr,ytr,fte,yte,k=200,t=0.1):
    ftr=F.normalize(ftr,dim=1); fte=F.normalize(fte,dim=1); correct=0
    for i in range(0,len(fte),500):
        s=fte[i:i+500]@ftr.T; v,ix=s.topk(k,1); w=(v/t).exp(); oh=F.one_hot(ytr[ix],10).float()
        correct+=((w.unsqueeze(2)*oh).sum(1).argmax(1)==yte[i:i+500]).sum().item()
    return correct/len(fte)
def linear(ftr,ytr,fte,yte,ep=30):
    mu=ftr.mean(0); sd=ftr.std(0)+1e-6; a=(ftr-mu)/sd; b=(fte-mu)/sd
    lin=nn.Linear(a.shape[1],10); o=torch.optim.AdamW(lin.parameters(),3e-3,weight_decay=1e-4); n=len(a); steps=ep*math.ceil(n/512); s=0
    for e in range(ep):
        perm=torch.randperm(n)
        for i in range(0,n,512):
            for g in o.param_groups: g['lr']=3e-3*0.5*(1+math.cos(math.pi*s/steps))
            ix=perm[i:i+512]; l=F.cross_entropy(lin(a[ix]),ytr[ix]); o.zero_grad(); l.backward(); o.step(); s+=1
    return (lin(b).argmax(1)==yte).float().mean().item()
def evaluate(tag):
    ftr=feats(enc,Xtr); fte=feats(enc,Xte)
    print(json_dump(tag=tag, knn=knn(ftr,Ytr,fte,Yte), linear=linear(ftr,Ytr,fte,Yte)), flush=True)
def json_dump(**k): return json.dumps(k)
if args.get('copy')=='1':
    tenc.load_state_dict(enc.state_dict()); tproj.load_state_dict(proj.state_dict())
if args.get('evalinit')=='1': evaluate('init')
t0=time.time(); step=0
while step<K:
    perm=torch.randperm(60000)
    for i in range(0,60000-B+1,B):
        if step>=K: break
        lr=LR*(step+1)/warm if step<warm else LR*0.5*(1+math.cos(math.pi*(step-warm)/(K-warm)))
        for g in opt.param_groups: g['lr']=lr*g.get('k',1)
        tau=1-(1-TAU)*(math.cos(math.pi*step/K)+1)/2
        x=Xtr[perm[i:i+B]]; v1=aug(x); v2=aug(x)
        with torch.autocast('cpu',dtype=torch.bfloat16,enabled=BF):
            p1=pred(proj(enc(v1))); p2=pred(proj(enc(v2)))
            with torch.no_grad(): z1=tproj(tenc(v1)); z2=tproj(tenc(v2))
        loss=(loss_fn(p1,z2)+loss_fn(p2,z1)).mean()
        opt.zero_grad(); loss.backward(); opt.step()
        with torch.no_grad():
            for t,o in zip(list(tenc.parameters())+list(tproj.parameters()), list(enc.parameters())+list(proj.parameters())): t.mul_(tau).add_(o,alpha=1-tau)
        step+=1
        if step%100==0: print(f'step {step}/{K} loss {loss.item():.4f} {B*step/(time.time()-t0):.0f} img/s', flush=True)
print('train_s', time.time()-t0, 'img/s', step*B/(time.time()-t0))
evaluate(f'byol ep{EPOCHS}')
