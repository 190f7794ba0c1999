// ekn_vec_cuda (kernels/vec.h): the optimisers' vector operations on device memory.
#include "cuda_check.h"
extern "C" {
#include "optim_cuda.h"
#include "vec.h"
}

extern "C" const ekn_vec_ops ekn_vec_cuda = {
    "cuda",
    ekn_dot_cuda,
};
