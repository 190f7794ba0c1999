#!/usr/bin/python3
"""Reference cases from PyTorch for tests/unit/test_torch_ref.c.

Run once, with Debian's python3 (packages python3-torch, python3-numpy):

    /usr/bin/python3 tests/torch/make_refs.py [OUTDIR]

OUTDIR defaults to tests/fixtures/torch.  The outputs are committed, so the
tests need no torch.  For each case (unet, ae) it writes, under OUTDIR/CASE/:

    x.npy            the input batch, float32, (N, C, Y, X) or (N, F)
    labels.npy       unet: per-pixel classes, int32 (N, Y, X), -1 = ignored
    lr.npy           the SGD learning rate, float64 (1,)
    out.npy          the net's output: softmax probabilities (unet) or the
                     reconstruction (ae), float32
    loss.npy         the loss, float64 (1,)
    init/T.npy       every tensor T before the step, float32, named as
                     ekn_net_tensors names them ("c1.w", "bn1.running_var")
    grad/T.npy       dL/dT of every trainable tensor, float32
    after/T.npy      every tensor after one step of plain SGD (no momentum,
                     no weight decay), BN running statistics included

The same nets are tests/fixtures/torch/unet.spec and ae.spec.  Torch runs
in float64 on the float32 values that are stored (so the references are
exact to float32 rounding; ekn's float32 arithmetic is what the test
measures).  The losses are matched to ekn's kernels (kernels/loss.h):
  unet  NLLLoss(ignore_index=-1), the mean over the counted pixels, as
        ekn's softmax_nll (no class weights);
  ae    ekn's mse is sum (y - t)^2 / (2 m) over the m elements, i.e.
        0.5 * MSELoss(reduction='mean').
"""
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

SEED = 20261127
LR = 0.1


def crop_to(t, shape):
    """Centre crop of t's spatial axes to shape (the U-Net's crop-and-copy)."""
    dy = (t.shape[2] - shape[0]) // 2
    dx = (t.shape[3] - shape[1]) // 2
    return t[:, :, dy:dy + shape[0], dx:dx + shape[1]]


class UNet(nn.Module):
    """unet.spec: conv-BN-relu, pool, conv-BN-relu, residual block of two
    same convs, 2x2 up-convolution, crop-and-concat, 1x1 conv, softmax."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 4, 3)
        self.bn1 = nn.BatchNorm2d(4, eps=1e-3, momentum=0.1)
        self.c2 = nn.Conv2d(4, 8, 3)
        self.bn2 = nn.BatchNorm2d(8, eps=1e-5, momentum=0.2)
        self.r1 = nn.Conv2d(8, 8, 3, padding=1)
        self.r2 = nn.Conv2d(8, 8, 3, padding=1)
        self.up = nn.ConvTranspose2d(8, 4, 2, stride=2)
        self.out = nn.Conv2d(8, 2, 1)
        self.probe = {}

    def forward(self, x):
        p = self.probe
        p["c1"] = z = self.c1(x)
        p["bn1"] = z = self.bn1(z)
        a1 = F.relu(z)
        p["pool"] = a1
        z = F.max_pool2d(a1, 2)
        p["c2"] = z = self.c2(z)
        p["bn2"] = z = self.bn2(z)
        a2 = F.relu(z)
        p["r1"] = z = self.r1(a2)
        z = F.relu(z)
        z = self.r2(z)
        p["res"] = z = a2 + z
        z = F.relu(z)
        u = self.up(z)
        z = torch.cat([u, crop_to(a1, u.shape[2:])], dim=1)
        return self.out(z)  # logits


class TiedAE(nn.Module):
    """ae.spec: 16-8-4, decoders with the encoders' weights transposed and
    biases of their own."""

    def __init__(self):
        super().__init__()
        self.e1 = nn.Linear(16, 8)
        self.e2 = nn.Linear(8, 4)
        self.d2_b = nn.Parameter(torch.zeros(8))
        self.d1_b = nn.Parameter(torch.zeros(16))

    def forward(self, x):
        h = torch.tanh(self.e1(x))
        h = torch.tanh(self.e2(h))
        h = torch.tanh(h @ self.e2.weight + self.d2_b)
        return h @ self.e1.weight + self.d1_b


def f32(t):
    """float32 values (what is stored) held in float64 for the computation."""
    return torch.from_numpy(t.detach().numpy().astype(np.float32).astype(np.float64))


def unet_tensors(m):
    """ekn tensor name -> torch tensor, in ekn_net_tensors' order."""
    t = {}
    for name in ("c1", "bn1", "c2", "bn2", "r1", "r2", "up", "out"):
        mod = getattr(m, name)
        if isinstance(mod, nn.BatchNorm2d):
            t[name + ".gamma"] = mod.weight
            t[name + ".beta"] = mod.bias
            t[name + ".running_mean"] = mod.running_mean
            t[name + ".running_var"] = mod.running_var
        else:
            t[name + ".w"] = mod.weight
            t[name + ".b"] = mod.bias
    return t


def ae_tensors(m):
    return {"e1.w": m.e1.weight, "e1.b": m.e1.bias, "e2.w": m.e2.weight, "e2.b": m.e2.bias,
            "d2.b": m.d2_b, "d1.b": m.d1_b}


def save(d, name, a, dtype=np.float32):
    os.makedirs(os.path.dirname(os.path.join(d, name)), exist_ok=True)
    np.save(os.path.join(d, name), np.ascontiguousarray(np.asarray(a, dtype=dtype)))


def randomise(tensors, g):
    """Every tensor to random float32-representable values: weights about
    He-sized, small non-zero biases, BN affine and running statistics away
    from their defaults (so a wrong convention cannot hide)."""
    with torch.no_grad():
        for name, t in tensors.items():
            kind = name.split(".")[1]
            if kind == "w":
                fan_in = t[0].numel() if t.dim() > 1 else 1
                if name.startswith("up."):   # (Cin, Cout, k, k): ConvTranspose's fan-in is Cin * k * k
                    fan_in = t.shape[0] * t.shape[2] * t.shape[3]
                v = torch.randn(t.shape, generator=g, dtype=torch.float64) * (2.0 / fan_in) ** 0.5
            elif kind in ("b", "beta"):
                v = (torch.rand(t.shape, generator=g, dtype=torch.float64) - 0.5) * 0.2
            elif kind == "gamma":
                v = 0.5 + torch.rand(t.shape, generator=g, dtype=torch.float64)
            elif kind == "running_mean":
                v = (torch.rand(t.shape, generator=g, dtype=torch.float64) - 0.5) * 0.2
            elif kind == "running_var":
                v = 0.5 + torch.rand(t.shape, generator=g, dtype=torch.float64)
            else:
                raise ValueError(name)
            t.copy_(f32(v))


def check_margin(what, v, low):
    """Refuses a case whose float32 evaluation could take another branch
    than torch's float64 one (a relu input or a pooling tie too close)."""
    m = float(v)
    if m < low:
        sys.exit(f"make_refs.py: {what} margin {m:.3g} below {low:g}: choose another SEED")
    print(f"  {what} margin {m:.3g}")


def pool_gap(a):
    """Smallest gap between the largest and second largest of each 2x2 window."""
    n, c, h, w = a.shape
    win = a.reshape(n, c, h // 2, 2, w // 2, 2).permute(0, 1, 2, 4, 3, 5).reshape(n, c, h // 2, w // 2, 4)
    top = torch.topk(win, 2, dim=-1).values
    gap = top[..., 0] - top[..., 1]
    return gap[top[..., 0] > 0].min()   # all-zero windows take no gradient (relu' = 0 below)


def step_and_save(out_dir, case, model, tensors, x, loss_fn, extra):
    d = os.path.join(out_dir, case)
    for name, t in tensors.items():
        save(d, f"init/{name}.npy", t.detach().numpy())
    save(d, "x.npy", x.numpy())
    for k, v in extra.items():
        save(d, k, v[0], v[1])
    save(d, "lr.npy", [LR], np.float64)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=0, weight_decay=0)
    opt.zero_grad()
    out, loss = loss_fn(model, x)
    loss.backward()
    save(d, "out.npy", out.detach().numpy())
    save(d, "loss.npy", [loss.item()], np.float64)
    for name, t in tensors.items():
        if t.requires_grad:
            save(d, f"grad/{name}.npy", t.grad.numpy())
    opt.step()
    for name, t in tensors.items():
        save(d, f"after/{name}.npy", t.detach().numpy())
    print(f"{case}: loss {loss.item():.10g}, {len(tensors)} tensors -> {d}")
    return model


def make_unet(out_dir, g):
    m = UNet().double()
    t = unet_tensors(m)
    randomise(t, g)
    x = f32(torch.randn((2, 1, 20, 20), generator=g, dtype=torch.float64))
    labels = torch.randint(0, 2, (2, 14, 14), generator=g)
    ignore = torch.rand((2, 14, 14), generator=g) < 0.15   # about 15% ignored pixels
    labels[ignore] = -1

    def loss_fn(model, x):
        logits = model(x)
        loss = F.nll_loss(F.log_softmax(logits, dim=1), labels, ignore_index=-1, reduction="mean")
        return F.softmax(logits, dim=1), loss

    # margins of the branches float32 could take differently
    with torch.no_grad():
        probe = UNet().double()
        probe.load_state_dict(m.state_dict())
        probe.train()
        probe(x)
        p = probe.probe
        check_margin("bn1 relu", p["bn1"].abs().min(), 1e-4)
        check_margin("bn2 relu", p["bn2"].abs().min(), 1e-4)
        check_margin("r1 relu", p["r1"].abs().min(), 1e-4)
        check_margin("res relu", p["res"].abs().min(), 1e-4)
        check_margin("pool tie", pool_gap(p["pool"]), 1e-4)
    step_and_save(out_dir, "unet", m, t, x, loss_fn, {"labels.npy": (labels.numpy(), np.int32)})


def make_ae(out_dir, g):
    m = TiedAE().double()
    t = ae_tensors(m)
    randomise(t, g)
    x = f32(torch.rand((5, 16), generator=g, dtype=torch.float64) * 2 - 1)

    def loss_fn(model, x):
        y = model(x)
        return y, 0.5 * F.mse_loss(y, x, reduction="mean")

    step_and_save(out_dir, "ae", m, t, x, loss_fn, {})


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.normpath(os.path.join(here, "..", "fixtures", "torch"))
    torch.manual_seed(SEED)
    g = torch.Generator().manual_seed(SEED)
    print(f"torch {torch.__version__}, numpy {np.__version__}, seed {SEED}")
    make_unet(out_dir, g)
    make_ae(out_dir, g)


if __name__ == "__main__":
    main()
