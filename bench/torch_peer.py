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

class UNetISBI(nn.Module):
    """examples/nets/unet-isbi.spec: three levels, valid 3x3 convolutions each
    followed by batch normalisation and relu, 2x2 max pooling, 2x2
    up-convolutions, the skip centre-cropped and concatenated after the
    up-convolution's channels, 16 filters at the top; 117410 parameters."""
    def __init__(self):
        super().__init__()
        def block(cin, cout):
            return nn.Sequential(nn.Conv2d(cin, cout, 3), nn.BatchNorm2d(cout), nn.ReLU(),
                                 nn.Conv2d(cout, cout, 3), nn.BatchNorm2d(cout), nn.ReLU())
        self.down0, self.down1, self.down2 = block(1, 16), block(16, 32), block(32, 64)
        self.up1, self.up0 = nn.ConvTranspose2d(64, 32, 2, stride=2), nn.ConvTranspose2d(32, 16, 2, stride=2)
        self.conv1, self.conv0 = block(64, 32), block(32, 16)
        self.out = nn.Conv2d(16, 2, 1)
        self.pool = nn.MaxPool2d(2)

    @staticmethod
    def crop_cat(up, skip):
        d = (skip.shape[-1] - up.shape[-1]) // 2
        return torch.cat([up, skip[..., d:d + up.shape[-2], d:d + up.shape[-1]]], 1)

    def forward(self, x):
        s0 = self.down0(x)
        s1 = self.down1(self.pool(s0))
        y = self.down2(self.pool(s1))
        y = self.conv1(self.crop_cat(self.up1(y), s1))
        y = self.conv0(self.crop_cat(self.up0(y), s0))
        return self.out(y)

def unet_isbi():
    return UNetISBI(), (1, 92, 92), 2

def main():
    net_name, batch, threads, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    net, shape, classes = {"fmnist-cnn": fmnist_cnn, "aniso-3d": aniso_3d, "unet-isbi": unet_isbi}[net_name]()
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
