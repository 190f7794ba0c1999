#!/usr/bin/python3
"""The PyTorch peer of bench/conv_bench_cuda.c: the same conv layers, forward
plus backward (dx, dw, db) on the GPU, FP32 without TF32 (as ekn's cuDNN
path) and with cudnn.benchmark on (PyTorch's best case), one line per layer:
    torch <name> <ms per fwd+bwd> <TFLOP/s>
Exits 77 when torch or its CUDA is not there.  Usage: torch_conv_cuda.py [seconds]"""
import sys, time

try:
    import torch
except ImportError:
    print("torch_conv_cuda: torch is not importable", file=sys.stderr)
    sys.exit(77)
if not torch.cuda.is_available():
    print("torch_conv_cuda: torch has no CUDA device", file=sys.stderr)
    sys.exit(77)

LAYERS = [  # name, n, cin, cout, in (z, y, x), k (z, y, x); as conv_bench_cuda.c
    ("fmnist-conv1", 64, 1, 32, (1, 28, 28), (1, 5, 5)),
    ("fmnist-conv2", 64, 32, 64, (1, 12, 12), (1, 5, 5)),
    ("aniso3d-conv1", 1, 1, 20, (23, 127, 127), (1, 4, 4)),
    ("aniso3d-conv2", 1, 20, 30, (23, 62, 62), (1, 3, 3)),
    ("aniso3d-conv3", 1, 30, 40, (23, 30, 30), (3, 3, 3)),
    ("aniso3d-conv4", 1, 40, 40, (21, 28, 28), (3, 3, 3)),
]

def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = True
    dev = torch.device("cuda")
    for name, n, cin, cout, size, k in LAYERS:
        if size[0] == 1 and k[0] == 1:
            conv = torch.nn.Conv2d(cin, cout, k[1:]).to(dev)
            x = torch.randn(n, cin, *size[1:], device=dev, requires_grad=True)
        else:
            conv = torch.nn.Conv3d(cin, cout, k).to(dev)
            x = torch.randn(n, cin, *size, device=dev, requires_grad=True)
        y = conv(x)
        dy = torch.randn_like(y)
        outs = y.numel()
        flops = 3.0 * 2.0 * outs * cin * k[0] * k[1] * k[2]
        for _ in range(3):
            conv(x).backward(dy)
        torch.cuda.synchronize()
        reps, t0 = 0, time.perf_counter()
        while True:
            for _ in range(10):
                conv(x).backward(dy)
            reps += 10
            torch.cuda.synchronize()
            t = time.perf_counter() - t0
            if t >= seconds:
                break
        print(f"torch {name:<14} {1e3 * t / reps:9.4f} ms {flops * reps / t / 1e12:8.2f} TFLOP/s", flush=True)

main()
