#!/usr/bin/python3
"""The PyTorch peer for `make bench`: trains the same net, batch and thread
count as ekn-train on random data of the same shape and prints one line:
    torch <net> <examples/s> <output voxels/s>
Run with Debian's /usr/bin/python3 (python3-torch)."""
import sys, time
import torch
import torch.nn as nn

def fmnist_cnn():
    return nn.Sequential(
        nn.Conv2d(1, 32, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 4 * 4, 256), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(256, 10)), (1, 28, 28), 10

def aniso_3d():
    return nn.Sequential(
        nn.Conv3d(1, 20, (1, 4, 4)), nn.ReLU(), nn.MaxPool3d((1, 2, 2)),
        nn.Conv3d(20, 30, (1, 3, 3)), nn.ReLU(), nn.MaxPool3d((1, 2, 2)),
        nn.Conv3d(30, 40, 3), nn.ReLU(),
        nn.Conv3d(40, 40, 3), nn.ReLU(),
        nn.Conv3d(40, 2, (1, 2, 2))), (1, 23, 127, 127), 2

def main():
    net_name, batch, threads, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    net, shape, classes = {"fmnist-cnn": fmnist_cnn, "aniso-3d": aniso_3d}[net_name]()
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    x = torch.rand(batch, *shape)
    with torch.no_grad():
        out_shape = net(x).shape
    y = torch.randint(0, classes, (batch,) + tuple(out_shape[2:]))
    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()
    for _ in range(3):
        step()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        step()
        n += 1
    dt = time.perf_counter() - t0
    vox = 1
    for d in out_shape[2:]:
        vox *= d
    print(f"torch {net_name} {n * batch / dt:.1f} {n * batch * vox / dt:.0f}")

main()
