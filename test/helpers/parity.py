"""The Python side of test/parity.test.ts: the real timm and torchvision models.

    python parity.py export DIR        random-init models, their weights and logits on a fixed input
    python parity.py check DIR NAME    load DIR/NAME.node.safetensors strictly, print logits' file
    python parity.py site DIR          the official noise sites applied by hooks on timm / torchvision

Models are made with random init (no downloads). Everything runs on the CPU in float32; the input
batch and every logit tensor go through safetensors files that the Node side reads.
"""
import json
import os
import sys

import timm
import torch
import torchvision
from safetensors.torch import load_file, save_file

MODELS = {
    'vit_tiny_patch16_224': lambda: timm.create_model('vit_tiny_patch16_224', pretrained=False),
    'vit_small_patch16_224': lambda: timm.create_model('vit_small_patch16_224', pretrained=False),
    'vit_base_patch16_224': lambda: timm.create_model('vit_base_patch16_224', pretrained=False),
    'resnet18': lambda: torchvision.models.resnet18(weights=None),
    'resnet50': lambda: torchvision.models.resnet50(weights=None),
}


def model(name):
    torch.manual_seed(list(MODELS).index(name) + 1)
    m = MODELS[name]()
    # Non-trivial BatchNorm statistics, so the eval-mode path that reads them is checked too.
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.running_mean.uniform_(-0.1, 0.1)
                mod.running_var.uniform_(0.5, 1.5)
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.1, 0.1)
    return m.eval()


def batch(n=2):
    g = torch.Generator().manual_seed(1234)
    return torch.randn(n, 3, 224, 224, generator=g)


def export(out):
    x = batch()
    save_file({'x': x}, os.path.join(out, 'input.safetensors'))
    for name in MODELS:
        m = model(name)
        with torch.no_grad():
            logits = m(x)
        state = {k: v.contiguous() for k, v in m.state_dict().items()}
        save_file(state, os.path.join(out, f'{name}.safetensors'))
        save_file({'logits': logits}, os.path.join(out, f'{name}.logits.safetensors'))


def check(out, name):
    m = MODELS[name]().eval()
    state = load_file(os.path.join(out, f'{name}.node.safetensors'))
    m.load_state_dict(state, strict=True)
    with torch.no_grad():
        logits = m(load_file(os.path.join(out, 'input.safetensors'))['x'])
    save_file({'logits': logits}, os.path.join(out, f'{name}.node.python-logits.safetensors'))


def optimal_batch(t):
    # out_i = (t_i + sum_j t_j) / (k + 1) along the batch (the official OptimalQ, k = B).
    return (t + t.sum(0, keepdim=True)) / (t.shape[0] + 1)


def linear_batch_detached(t, a):
    # out_i = t_i + a (t_{(i+1) mod k} - t_i) along the batch, the noise term detached (CNNs.py).
    return t + (a * (torch.roll(t, shifts=-1, dims=0) - t)).detach()


def site(out):
    """The official sites: ViT-Ti last block's norm1 output (patch tokens, batch axis, optimal);
    ResNet-50's input of layer4[2] (linear along the batch, a = 0.4, detached)."""
    x = batch(4)
    save_file({'x': x}, os.path.join(out, 'site-input.safetensors'))
    results = {}

    vit = model('vit_tiny_patch16_224')
    save_file({k: v.contiguous() for k, v in vit.state_dict().items()}, os.path.join(out, 'site-vit.safetensors'))

    def noise_norm1(_module, _inputs, output):
        return torch.cat([output[:, :1], optimal_batch(output[:, 1:])], dim=1)

    hook = vit.blocks[-1].norm1.register_forward_hook(noise_norm1)
    with torch.no_grad():
        results['vit'] = vit(x)
    hook.remove()

    cnn = model('resnet50')
    save_file({k: v.contiguous() for k, v in cnn.state_dict().items()}, os.path.join(out, 'site-cnn.safetensors'))

    def noise_input(_module, inputs):
        return (linear_batch_detached(inputs[0], 0.4),)

    hook = cnn.layer4[2].register_forward_pre_hook(noise_input)
    with torch.no_grad():
        results['cnn'] = cnn(x)
    hook.remove()
    save_file(results, os.path.join(out, 'site-logits.safetensors'))


if __name__ == '__main__':
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    command, directory = sys.argv[1], sys.argv[2]
    if command == 'export':
        export(directory)
    elif command == 'check':
        check(directory, sys.argv[3])
    elif command == 'site':
        site(directory)
    else:
        raise SystemExit(f'unknown command {command}')
    print(json.dumps({'torch': torch.__version__, 'timm': timm.__version__, 'torchvision': torchvision.__version__}))
