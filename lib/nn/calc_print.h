/* calc_print: what ekn-calc reports about a spec, and its three printers
 * (ekn-calc(1)): the per-layer table, the shell variables that
 * ekn_patch_geom_from_calc (data/batch_geom.c) reads back, and JSON.
 *
 * ekn_calc_report_build resolves the options against the spec: the valid
 * input sizes per axis, the nearest valid size to --desired, and the input
 * size to analyse (--shape, else the spec's, else --desired's nearest,
 * else the smallest valid input).  The printers write to stdout. */
#ifndef EKN_CALC_PRINT_H
#define EKN_CALC_PRINT_H
#include "calc.h"
#include "diag.h"
#include "opt.h"
#include "spec.h"

#define EKN_CALC_NVALID 8 /* valid sizes listed per axis */

/* ekn-calc's command line. */
typedef struct ekn_calc_opts {
    ekn_zyx shape;       /* --shape: per spatial axis (features for vect-scalar); n 0: not given */
    ekn_zyx desired;     /* --desired */
    int mfp;             /* --mfp: max fragment pooling on the pools with mfp = 1 */
    long batch;          /* --batch: examples, for the memory figures */
    const char *format;  /* --format: table|shell|json */
} ekn_calc_opts;

typedef struct ekn_calc_report {
    const ekn_spec *spec;
    const char *path;
    long batch;
    ekn_calc c;
    ekn_calc_dim dim[3];
    int d0;                  /* first used axis: 3 - ndim */
    const char *shape_from;  /* "the spec", "--shape", "--desired", "the smallest valid input" */
    int ndesired, desired[3], nearest[3];
    int valid[3][EKN_CALC_NVALID], nvalid[3];
} ekn_calc_report;

/* Fills r for spec (loaded from path; both must outlive r).  Errors: a
 * list that does not fit the spec's axes, or a vect-scalar spec without
 * shape and --shape (EKN_EXIT_USAGE); the calculator's (EKN_EXIT_SPEC).
 * Warns when --mfp meets no mfp = 1 pool. */
int ekn_calc_report_build(ekn_calc_report *r, const ekn_spec *spec, const char *path, const ekn_calc_opts *o,
                          ekn_err *err);

void ekn_calc_print_table(const ekn_calc_report *r);
void ekn_calc_print_shell(const ekn_calc_report *r);
void ekn_calc_print_json(const ekn_calc_report *r);
#endif
