"""The PyTorch side of bench/vs-pytorch.js: the same training step in PyTorch eager.

    python3 bench/pytorch_step.py MODEL BATCH THREADS

MODEL is one of vit_mini_patch4_28, vit_small_patch16_224, resnet18, resnet18_small_28. ViTs use
timm's VisionTransformer when timm is importable (PyPI's torch 2.x), else the same architecture
written in plain torch in timm's form (Debian's PyTorch 1.13 has no timm); both with the default
NoisyNN noise (optimal, along the batch, on the last block's norm1 output, patch tokens) while
training. ResNets are torchvision's (the small variant: 3x3 stride-1 stem, no max-pool, 1
channel). AdamW (lr 1e-3, weight decay 0.05 except on 1-d parameters, cls_token and pos_embed),
cross-entropy, on one preloaded batch (the data loader is not part of this comparison).

Protocol on stdin/stdout, one JSON line per answer: "run N" times N steps and answers
{"seconds": [...]} (per step); "quit" ends. It prints {"ready": ..., "torch": ...} first.
"""
import json
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

try:
    import timm
except ImportError:
    timm = None
import torchvision


def optimal_batch(t):
    return (t + t.sum(0, keepdim=True)) / (t.shape[0] + 1)


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)
        self.scale = (dim // heads) ** -0.5

    def forward(self, x):
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        attn = ((q * self.scale) @ k.transpose(-2, -1)).softmax(-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, c))


class Block(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PlainViT(nn.Module):
    """timm's VisionTransformer in plain torch (class token, learned position embedding)."""

    def __init__(self, img, patch, chans, classes, dim, depth, heads):
        super().__init__()
        self.patch_embed = nn.Conv2d(chans, dim, patch, patch)
        grid = img // patch
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.randn(1, grid * grid + 1, dim) * 0.02)
        self.blocks = nn.ModuleList([Block(dim, heads) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        x = self.patch_embed(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], 1) + self.pos_embed
        for blk in self.blocks:
            x = blk(x)
        return self.head(self.norm(x)[:, 0])


VITS = {
    'vit_mini_patch4_28': dict(img=28, patch=4, chans=1, classes=10, dim=64, depth=4, heads=4),
    'vit_small_patch16_224': dict(img=224, patch=16, chans=3, classes=1000, dim=384, depth=12, heads=6),
}


def build(name):
    if name in VITS:
        c = VITS[name]
        if timm is not None:
            from timm.models.vision_transformer import VisionTransformer

            m = VisionTransformer(img_size=c['img'], patch_size=c['patch'], in_chans=c['chans'],
                                  num_classes=c['classes'], embed_dim=c['dim'], depth=c['depth'],
                                  num_heads=c['heads'])
            impl = f'timm {timm.__version__}'
        else:
            m = PlainViT(**c)
            impl = 'timm-form ViT in plain torch'

        def noise(module, _inputs, output):
            if not module.training:
                return output
            return torch.cat([output[:, :1], optimal_batch(output[:, 1:])], dim=1)

        m.blocks[-1].norm1.register_forward_hook(noise)
        shape = (c['chans'], c['img'], c['img'])
        classes = c['classes']
    elif name == 'resnet18':
        m, impl, shape, classes = torchvision.models.resnet18(), f'torchvision {torchvision.__version__}', (3, 224, 224), 1000
    elif name == 'resnet18_small_28':
        m = torchvision.models.resnet18(num_classes=10)
        m.conv1 = nn.Conv2d(1, 64, 3, 1, 1, bias=False)
        m.maxpool = nn.Identity()
        impl, shape, classes = f'torchvision {torchvision.__version__}, small stem', (1, 28, 28), 10
    else:
        raise SystemExit(f'unknown model {name}')
    return m, impl, shape, classes


def main():
    name, batch, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model, impl, shape, classes = build(name)
    model.train()
    decay = [p for n, p in model.named_parameters() if p.ndim > 1 and not n.endswith(('cls_token', 'pos_embed'))]
    no_decay = [p for n, p in model.named_parameters() if not (p.ndim > 1 and not n.endswith(('cls_token', 'pos_embed')))]
    opt = torch.optim.AdamW([{'params': decay, 'weight_decay': 0.05}, {'params': no_decay, 'weight_decay': 0.0}], lr=1e-3)
    x = torch.randn(batch, *shape)
    y = torch.randint(0, classes, (batch,))

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    print(json.dumps({'ready': True, 'torch': torch.__version__, 'impl': impl, 'threads': torch.get_num_threads()}), flush=True)
    for line in sys.stdin:
        cmd = line.split()
        if not cmd or cmd[0] == 'quit':
            break
        times = []
        for _ in range(int(cmd[1])):
            t0 = time.perf_counter()
            loss = step()
            times.append(time.perf_counter() - t0)
            if not math.isfinite(loss):
                raise SystemExit('the loss is not finite')
        print(json.dumps({'seconds': times}), flush=True)


if __name__ == '__main__':
    main()
