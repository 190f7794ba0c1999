/* Fast CPU convolution: the batch is lowered (vol2col) chunk by chunk, one
 * SGEMM set per chunk, spread over threads that each own whole chunks.
 *
 * vol2col builds col (K x M), K = Cin*kz*ky*kx rows indexed (ci,dz,dy,dx),
 * M = N*S columns indexed (n,oz,oy,ox) with S = outZ*outY*outX.  Then
 *     forward   Y'  = W col              (Cout x M), scattered into y + bias
 *     backward  dW += dY' col^T          dY' = dy transposed to (Cout x M)
 *               dcol = W^T dY'           then col2vol-accumulated into dx
 * Why chunks: col for a whole batch is tens of MB (aniso-3d conv2: 60 MB),
 * so it was written to DRAM and read back by the GEMM.  Lowering a few
 * hundred columns at a time keeps each col block in the core's L2 between
 * the copy and the GEMM.  When a chunk lies inside one example, Y' and dY'
 * of the chunk are blocks of y and dy themselves (rows S apart), so the
 * GEMMs write y and read dy in place and the transposes go ("direct");
 * that is done for batch 1 and for examples of >= 256 outputs.
 * Why threads of our own: the copies are a large share of the time and ran
 * on one core while OpenBLAS threaded only the GEMMs.  Each thread now runs
 * the whole pipeline (copies and single-threaded SGEMMs) on its own range
 * of chunks, so nothing is serial and threads meet only at the end.  The
 * threads and their count are cpu_threads.h's (ekn-train -j), which also
 * says why OpenBLAS runs one thread.  A layer whose batch is one chunk runs
 * as one task whose GEMMs split themselves over the threads instead.
 * Races: dW and db of threads other than 0 go to private buffers summed at
 * the end; dx too, for a thread whose first chunk starts inside an example
 * (its inputs overlap its predecessor's); thread ranges are cut at example
 * boundaries when the batch has enough examples, so usually none is needed.
 *
 * Stride and padding: conv_lower.c lowers such a geometry by its general
 * path, one unit per output row; the chunks, threads and GEMMs here are
 * the same, and a stride-1, pad-0 geometry takes the tuned copies as before.
 *
 * Workspace: the documented size (K + Cout) * M is kept as an upper bound
 * that the plan never exceeds (fewer threads if need be), so lib/nn/calc.c's
 * estimate is unchanged; the chunks use a small part of it. */
#include "conv.h"

#include <cblas.h>
#include <string.h>

#include "conv_lower.h"
#include "cpu_threads.h"

enum { MAX_THREADS = EKN_CPU_MAX_THREADS, DIRECT_MIN_COLUMNS = 256 };

/* 128 Ki floats = 512 KiB of col per chunk, half the 1 MiB L2 of the
 * machine measured on; 64 Ki to 512 Ki floats measured alike there */
static size_t chunk_floats = (size_t)1 << 17;
static int thread_override;

void ekn_conv_cpu_tune(size_t col_floats, int threads)
{
    chunk_floats = col_floats ? col_floats : (size_t)1 << 17;
    thread_override = threads > 0 ? (threads < MAX_THREADS ? threads : MAX_THREADS) : 0;
}

typedef struct {
    const ekn_conv_geom *g;
    ekn_conv_units u;
    size_t K, S, M, xsize;
    size_t chunk_units, ldc;
    int direct; /* chunks within one example: GEMMs read dy, write y in place */
    int threads;
    size_t begin[MAX_THREADS + 1]; /* unit ranges of the threads */
    int private_dx[MAX_THREADS + 1];
} plan;

typedef struct {
    const plan *p;
    int t;
    const float *x, *w, *b, *dy;
    float *y, *dx, *dw, *db;
    float *col, *mat;          /* K x ldc, Cout x ldc */
    float *dw_t, *db_t, *dx_t; /* private accumulators of threads > 0 */
} task;

static size_t plan_floats(const plan *p, int threads)
{
    size_t per = (p->K + (size_t)p->g->cout) * p->ldc, total = per * threads;
    for (int t = 1; t < threads; t++)
        total += (size_t)p->g->cout * (p->K + 1) + (p->private_dx[t] ? p->xsize : 0);
    return total;
}

static void split(plan *p, int threads)
{
    const size_t n = (size_t)p->g->n;
    p->threads = threads;
    for (int t = 0; t <= threads; t++) {
        p->begin[t] = n >= (size_t)threads ? n * t / threads * p->u.per_example
                                           : p->u.count * t / threads;
        p->private_dx[t] = t > 0 && t < threads && p->begin[t] % p->u.per_example;
    }
}

static void make_plan(plan *p, const ekn_conv_geom *g)
{
    p->g = g;
    ekn_conv_units_of(g, &p->u);
    p->K = (size_t)g->cin * g->k[0] * g->k[1] * g->k[2];
    p->S = (size_t)g->out[0] * g->out[1] * g->out[2];
    p->M = (size_t)g->n * p->S;
    p->xsize = (size_t)g->n * g->cin * g->in[0] * g->in[1] * g->in[2];
    size_t cu = chunk_floats / (p->K * p->u.run);
    if (cu < 1) cu = 1;
    if (cu > p->u.count) cu = p->u.count;
    /* Chunks that stay inside one example can use y and dy as they are,
     * (Cout, S) blocks, saving the transposes; worth it unless an example
     * is so small that its chunk would make the GEMMs inefficient. */
    p->direct = p->S >= DIRECT_MIN_COLUMNS || g->n == 1;
    if (p->direct && cu > p->u.per_example) cu = p->u.per_example;
    p->chunk_units = cu;
    p->ldc = cu * p->u.run;
    size_t chunks = (p->u.count + cu - 1) / cu;
    int threads = thread_override ? thread_override : ekn_cpu_threads();
    if (threads > MAX_THREADS) threads = MAX_THREADS;
    if ((size_t)threads > chunks) threads = (int)chunks;
    if (threads < 1) threads = 1;
    for (;; threads--) {
        split(p, threads);
        if (threads == 1 || plan_floats(p, threads) <= ekn_conv_workspace_floats(g)) break;
    }
}

static void carve(const plan *p, float *work, task *tasks)
{
    const size_t per = (p->K + (size_t)p->g->cout) * p->ldc;
    float *extra = work + per * p->threads;
    for (int t = 0; t < p->threads; t++) {
        tasks[t].p = p;
        tasks[t].t = t;
        tasks[t].col = work + per * t;
        tasks[t].mat = tasks[t].col + p->K * p->ldc;
        tasks[t].dw_t = tasks[t].db_t = tasks[t].dx_t = NULL;
        if (t == 0) continue;
        tasks[t].dw_t = extra, extra += (size_t)p->g->cout * p->K;
        tasks[t].db_t = extra, extra += (size_t)p->g->cout;
        if (p->private_dx[t]) tasks[t].dx_t = extra, extra += p->xsize;
    }
}

typedef struct {
    task *tasks;
    void *(*fn)(void *);
} task_set;

static void run_task(void *arg, int i)
{
    task_set *s = arg;
    s->fn(&s->tasks[i]);
}

/* Calls fn on every task, tasks 1.. on threads of their own.  In a process
 * that never set the threads (cpu_threads.h), OpenBLAS threads its calls,
 * so it is held to one thread while the tasks run. */
static void run_tasks(const plan *p, task *tasks, void *(*fn)(void *))
{
    int hold = p->threads > 1 && !ekn_cpu_threads_owned();
    int saved = hold ? openblas_get_num_threads() : 1;
    if (hold) openblas_set_num_threads(1);
    task_set s = {tasks, fn};
    ekn_cpu_run(p->threads, run_task, &s);
    if (hold) openblas_set_num_threads(saved);
}

/* A single task's GEMMs may split themselves over the threads; each of
 * several tasks runs its own on its thread alone. */
#define GEMM(p, ...) ((p)->threads > 1 ? cblas_sgemm(CblasRowMajor, __VA_ARGS__) : ekn_sgemm_cpu(__VA_ARGS__))

/* Columns [c, c1) that lie in one example, from column c on: y's or dy's
 * run for that example starts at *s.  Returns their count. */
static size_t example_piece(const plan *p, size_t c, size_t c1, size_t *n, size_t *s)
{
    *n = c / p->S;
    *s = c % p->S;
    size_t end = (*n + 1) * p->S;
    return (c1 < end ? c1 : end) - c;
}

/* End of the chunk starting at unit u0 of thread t's range; in direct
 * mode a chunk also ends at an example boundary. */
static size_t chunk_end(const plan *p, int t, size_t u0)
{
    size_t u1 = u0 + p->chunk_units;
    if (u1 > p->begin[t + 1]) u1 = p->begin[t + 1];
    if (p->direct) {
        size_t next = (u0 / p->u.per_example + 1) * p->u.per_example;
        if (u1 > next) u1 = next;
    }
    return u1;
}

static void *forward_task(void *arg)
{
    task *k = arg;
    const plan *p = k->p;
    const int cout = p->g->cout;
    for (size_t u0 = p->begin[k->t], u1; u0 < p->begin[k->t + 1]; u0 = u1) {
        u1 = chunk_end(p, k->t, u0);
        size_t c0 = u0 * p->u.run, c1 = u1 * p->u.run, mc = c1 - c0;
        ekn_vol2col_units(p->g, &p->u, u0, u1, k->x, k->col, p->ldc);
        if (p->direct) {
            /* the chunk's (Cout, mc) block of y, rows S apart */
            /* the chunk's (Cout, mc) block of y, rows S apart, holds the
             * bias and the GEMM adds to it: with beta = 0 OpenBLAS would
             * clear the block in a pass of its own */
            float *yb = k->y + c0 / p->S * cout * p->S + c0 % p->S;
            for (int co = 0; co < cout; co++) {
                const float bias = k->b[co];
                float *row = yb + (size_t)co * p->S;
                for (size_t i = 0; i < mc; i++) row[i] = bias;
            }
            GEMM(p, CblasNoTrans, CblasNoTrans, cout, (int)mc, (int)p->K, 1.0f,
                        k->w, (int)p->K, k->col, (int)p->ldc, 1.0f, yb, (int)p->S);
            continue;
        }
        GEMM(p, CblasNoTrans, CblasNoTrans, cout, (int)mc, (int)p->K, 1.0f, k->w,
                    (int)p->K, k->col, (int)p->ldc, 0.0f, k->mat, (int)p->ldc);
        /* (Cout, columns) -> (N, Cout, S), bias fused into the copy */
        for (int co = 0; co < cout; co++) {
            const float bias = k->b[co];
            const float *src = k->mat + (size_t)co * p->ldc;
            for (size_t c = c0, n, s, len; c < c1; c += len) {
                len = example_piece(p, c, c1, &n, &s);
                float *restrict dst = k->y + (n * cout + co) * p->S + s;
                const float *restrict from = src + (c - c0);
                for (size_t i = 0; i < len; i++) dst[i] = from[i] + bias;
            }
        }
    }
    return NULL;
}

/* to[0..len) = from[0..len) (unless to is NULL); returns their sum, in
 * double because a db row can hold millions of terms */
static double copy_sum(float *restrict to, const float *restrict from, size_t len)
{
    /* eight independent partial sums so the loop vectorises */
    float part[8] = {0};
    double acc = 0;
    size_t i = 0;
    if (to)
        for (; i + 8 <= len; i += 8)
            for (int j = 0; j < 8; j++) {
                to[i + j] = from[i + j];
                part[j] += from[i + j];
            }
    else
        for (; i + 8 <= len; i += 8)
            for (int j = 0; j < 8; j++) part[j] += from[i + j];
    for (; i < len; i++) {
        if (to) to[i] = from[i];
        acc += from[i];
    }
    for (int j = 0; j < 8; j++) acc += part[j];
    return acc;
}

static void *backward_task(void *arg)
{
    task *k = arg;
    const plan *p = k->p;
    const int cout = p->g->cout;
    float *dw = k->t ? k->dw_t : k->dw, *db = k->t ? k->db_t : k->db;
    float *dx = k->dx_t ? k->dx_t : k->dx;
    if (k->t) {
        memset(dw, 0, (size_t)cout * p->K * sizeof *dw);
        memset(db, 0, (size_t)cout * sizeof *db);
    }
    if (k->dx_t) memset(k->dx_t, 0, p->xsize * sizeof *k->dx_t);
    for (size_t u0 = p->begin[k->t], u1; u0 < p->begin[k->t + 1]; u0 = u1) {
        u1 = chunk_end(p, k->t, u0);
        size_t c0 = u0 * p->u.run, c1 = u1 * p->u.run, mc = c1 - c0;
        /* dY' for the chunk: in direct mode dy's own block, rows S apart;
         * otherwise (N, Cout, S) -> (Cout, columns) into mat.  db summed
         * on the way. */
        const float *dyt = k->mat;
        size_t lddyt = p->ldc;
        if (p->direct) {
            dyt = k->dy + c0 / p->S * cout * p->S + c0 % p->S;
            lddyt = p->S;
            for (int co = 0; co < cout; co++) db[co] += (float)copy_sum(NULL, dyt + co * p->S, mc);
        } else {
            for (int co = 0; co < cout; co++) {
                double acc = 0;
                for (size_t c = c0, n, s, len; c < c1; c += len) {
                    len = example_piece(p, c, c1, &n, &s);
                    acc += copy_sum(k->mat + (size_t)co * p->ldc + (c - c0),
                                    k->dy + (n * cout + co) * p->S + s, len);
                }
                db[co] += (float)acc;
            }
        }
        /* col is rebuilt rather than kept from forward so that the
         * workspace can be shared between layers. */
        ekn_vol2col_units(p->g, &p->u, u0, u1, k->x, k->col, p->ldc);
        GEMM(p, CblasNoTrans, CblasTrans, cout, (int)p->K, (int)mc, 1.0f, dyt,
                    (int)lddyt, k->col, (int)p->ldc, 1.0f, dw, (int)p->K);
        if (!k->dx) continue;
        GEMM(p, CblasTrans, CblasNoTrans, (int)p->K, (int)mc, cout, 1.0f, k->w,
                    (int)p->K, dyt, (int)lddyt, 0.0f, k->col, (int)p->ldc);
        ekn_col2vol_units(p->g, &p->u, u0, u1, k->col, p->ldc, dx);
    }
    return NULL;
}

size_t ekn_conv_workspace_floats(const ekn_conv_geom *g)
{
    size_t kvol = (size_t)g->k[0] * g->k[1] * g->k[2];
    size_t m = (size_t)g->n * g->out[0] * g->out[1] * g->out[2];
    return ((size_t)g->cin * kvol + (size_t)g->cout) * m;
}

void ekn_conv_forward_cpu(const ekn_conv_geom *g, const float *x, const float *w, const float *b,
                          float *y, float *work)
{
    plan p;
    task tasks[MAX_THREADS];
    make_plan(&p, g);
    carve(&p, work, tasks);
    for (int t = 0; t < p.threads; t++) {
        tasks[t].x = x, tasks[t].w = w, tasks[t].b = b, tasks[t].y = y;
        tasks[t].dy = NULL, tasks[t].dx = tasks[t].dw = tasks[t].db = NULL;
    }
    run_tasks(&p, tasks, forward_task);
}

/* The passes around the backward tasks, element-wise over the thread pool
 * (ekn_cpu_for): clearing dx, and adding the private dW and dx of threads
 * 1.. in thread order, so every element's sum is as on one thread. */
typedef struct {
    const plan *p;
    const task *tasks;
    float *dx, *dw, *db;
} sum_job;

static void clear_dx(void *arg, size_t b, size_t e)
{
    const sum_job *j = arg;
    memset(j->dx + b, 0, (e - b) * sizeof *j->dx);
}

static void sum_dw(void *arg, size_t b, size_t e)
{
    const sum_job *j = arg;
    for (int t = 1; t < j->p->threads; t++) {
        const float *restrict from = j->tasks[t].dw_t;
        float *restrict to = j->dw;
        for (size_t i = b; i < e; i++) to[i] += from[i];
    }
}

static void sum_dx(void *arg, size_t b, size_t e)
{
    const sum_job *j = arg;
    for (int t = 1; t < j->p->threads; t++) {
        const float *restrict from = j->tasks[t].dx_t;
        float *restrict to = j->dx;
        if (from)
            for (size_t i = b; i < e; i++) to[i] += from[i];
    }
}

void ekn_conv_backward_cpu(const ekn_conv_geom *g, const float *x, const float *w, const float *dy,
                           float *dx, float *dw, float *db, float *work)
{
    plan p;
    task tasks[MAX_THREADS];
    make_plan(&p, g);
    carve(&p, work, tasks);
    for (int t = 0; t < p.threads; t++) {
        tasks[t].x = x, tasks[t].w = w, tasks[t].dy = dy;
        tasks[t].dx = dx, tasks[t].dw = dw, tasks[t].db = db;
        tasks[t].b = NULL, tasks[t].y = NULL;
        if (!dx) tasks[t].dx_t = NULL;
    }
    sum_job j = {&p, tasks, dx, dw, db};
    if (dx) ekn_cpu_for(p.xsize, 16, EKN_CPU_SPLIT_MIN, clear_dx, &j);
    run_tasks(&p, tasks, backward_task);
    if (p.threads > 1) {
        ekn_cpu_for((size_t)g->cout * p.K, 16, EKN_CPU_SPLIT_MIN, sum_dw, &j);
        for (int t = 1; t < p.threads; t++)
            for (int i = 0; i < g->cout; i++) db[i] += tasks[t].db_t[i];
        ekn_cpu_for(p.xsize, 16, EKN_CPU_SPLIT_MIN, sum_dx, &j);
    }
}
