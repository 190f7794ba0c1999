/* conv_layers.h: the conv layers of the example nets that the CPU and the
 * CUDA conv benchmarks time, so both measure the same shapes. */
#ifndef EKN_BENCH_CONV_LAYERS_H
#define EKN_BENCH_CONV_LAYERS_H

typedef struct {
    const char *name; /* short, as bench/torch_conv_cuda.py names it */
    const char *desc;
    int n, cin, cout, in[3], k[3];
} bench_conv_layer;

static const bench_conv_layer bench_conv_layers[] = {
    {"fmnist-conv1", "fmnist conv1 1->32 5x5 on 28x28, batch 64", 64, 1, 32, {1, 28, 28}, {1, 5, 5}},
    {"fmnist-conv2", "fmnist conv2 32->64 5x5 on 12x12, batch 64", 64, 32, 64, {1, 12, 12}, {1, 5, 5}},
    {"aniso3d-conv1", "aniso3d conv1 1->20 1x4x4 on 23x127x127, batch 1", 1, 1, 20, {23, 127, 127}, {1, 4, 4}},
    {"aniso3d-conv2", "aniso3d conv2 20->30 1x3x3 on 23x62x62, batch 1", 1, 20, 30, {23, 62, 62}, {1, 3, 3}},
    {"aniso3d-conv3", "aniso3d conv3 30->40 3x3x3 on 23x30x30, batch 1", 1, 30, 40, {23, 30, 30}, {3, 3, 3}},
    {"aniso3d-conv4", "aniso3d conv4 40->40 3x3x3 on 21x28x28, batch 1", 1, 40, 40, {21, 28, 28}, {3, 3, 3}},
};
#define BENCH_CONV_NLAYERS (sizeof bench_conv_layers / sizeof *bench_conv_layers)
#endif
