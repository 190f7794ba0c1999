#!/usr/bin/python3
"""The PyTorch peer of bench/gpu_train_bench.sh on the GPU: the nets of
bench/torch_peer.py (the CPU peer), trained with the same batch, SGD with
momentum, FP32 without TF32 (as ekn's CUDA path) and cudnn.benchmark on
(PyTorch's best case), then applied for prediction.  Prints
    torch <net> train <examples/s> <output voxels/s>
    torch <net> predict <examples/s> <output voxels/s>
Training: fmnist-cnn batch 64 of 28x28, aniso-3d batch 1 patch 23x127x127
(19x25x25 output voxels at stride 1x4x4), random data held on the GPU.
Prediction: fmnist-cnn batches of 256 images; aniso-3d one 30x160x160
volume predicted densely (every voxel where the field of view fits, as
ekn-predict --dense), through the dilated net equivalent to max-fragment
pooling: pools of stride 1 and every later conv dilated by the pools'
stride so far.  Exits 77 when torch or its CUDA is not there.
Usage: torch_train_cuda.py [seconds per figure]"""
import sys, time

try:
    import torch
    import torch.nn as nn
except ImportError:
    print("torch_train_cuda: torch is not importable", file=sys.stderr)
    sys.exit(77)
if not torch.cuda.is_available():
    print("torch_train_cuda: torch has no CUDA device", file=sys.stderr)
    sys.exit(77)

def fmnist_cnn():
    return nn.Sequential(
        nn.Conv2d(1, 32, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 4 * 4, 256), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(256, 10))

def aniso_3d(dense=False):
    # dense: the same weights' shapes, pools of stride 1, convs dilated by the stride so far
    d1, d2 = ((1, 2, 2), (1, 4, 4)) if dense else (1, 1)
    pool = (lambda dil: nn.MaxPool3d((1, 2, 2), stride=1, dilation=dil)) if dense else \
        (lambda dil: nn.MaxPool3d((1, 2, 2)))
    return nn.Sequential(
        nn.Conv3d(1, 20, (1, 4, 4)), nn.ReLU(), pool(1),
        nn.Conv3d(20, 30, (1, 3, 3), dilation=d1), nn.ReLU(), pool(d1),
        nn.Conv3d(30, 40, 3, dilation=d2), nn.ReLU(),
        nn.Conv3d(40, 40, 3, dilation=d2), nn.ReLU(),
        nn.Conv3d(40, 2, (1, 2, 2), dilation=d2))

def timed(fn, seconds):
    """Runs fn until `seconds` have passed after 3 warm-up calls; calls per second."""
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fn()
        n += 1
        if n % 8 == 0:
            torch.cuda.synchronize()
    torch.cuda.synchronize()
    return n / (time.perf_counter() - t0)

def voxels(shape):
    v = 1
    for d in shape[2:]:
        v *= d
    return v

def train(name, net, batch, in_shape, classes, seconds, dev):
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    x = torch.rand(batch, *in_shape, device=dev)
    with torch.no_grad():
        out_shape = net(x).shape
    y = torch.randint(0, classes, (batch,) + tuple(out_shape[2:]), device=dev)
    def step():
        opt.zero_grad(set_to_none=True)
        loss_fn(net(x), y).backward()
        opt.step()
    rate = timed(step, seconds) * batch
    print(f"torch {name} train {rate:.1f} {rate * voxels(out_shape):.0f}", flush=True)

def predict(name, net, batch, in_shape, seconds, dev):
    net.eval()
    x = torch.rand(batch, *in_shape, device=dev)
    with torch.no_grad():
        out_shape = net(x).shape
        rate = timed(lambda: net(x), seconds) * batch
    print(f"torch {name} predict {rate:.1f} {rate * voxels(out_shape):.0f}", flush=True)

def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = True
    torch.manual_seed(0)
    dev = torch.device("cuda")
    train("fmnist-cnn", fmnist_cnn().to(dev), 64, (1, 28, 28), 10, seconds, dev)
    predict("fmnist-cnn", fmnist_cnn().to(dev), 256, (1, 28, 28), seconds, dev)
    train("aniso-3d", aniso_3d().to(dev), 1, (1, 23, 127, 127), 2, seconds, dev)
    predict("aniso-3d", aniso_3d(dense=True).to(dev), 1, (1, 30, 160, 160), seconds, dev)

main()
