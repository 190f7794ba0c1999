/* seg_score: scoring a membrane segmentation as the ISBI 2012 challenge
 * does, on 2D slices (ekn-predict --eval, ekn-predict(1) SEGMENTATION).
 *
 * A slice's segmentation is the 4-connected regions of its non-membrane
 * pixels: in the truth, the pixels labelled as anything but the boundary
 * class; in the prediction, the pixels whose boundary probability is at
 * most a threshold.  The truth's membrane pixels are left out of both
 * scores (foreground-restricted); the prediction's membrane pixels count as
 * one region of their own.  These are the definitions of scikit-image's
 * adapted_rand_error and variation_of_information (truth first, its label 0
 * ignored; the latter returns H(pred | truth) first), which the tests
 * compare against.
 *
 * With n_ij the pixels in truth region i and predicted region j, a_i and
 * b_j the marginals and N their total, over pairs of pixels:
 *   rand_split = (sum n_ij^2 - N) / (sum a_i^2 - N)   (1 when no truth region is split)
 *   rand_merge = (sum n_ij^2 - N) / (sum b_j^2 - N)   (1 when no two are merged)
 *   v_rand     = their harmonic mean; the Rand error is 1 - v_rand
 * and with p = n / N, entropies in bits:
 *   vi_split = H(pred | truth), vi_merge = H(truth | pred)  (0 is perfect)
 *   v_info   = 2 I(truth; pred) / (H(truth) + H(pred))      (1 is perfect)
 * A ratio with a zero denominator (a slice of one region, or none) is 1 by
 * convention: there is no pair to get wrong. */
#ifndef EKN_SEG_SCORE_H
#define EKN_SEG_SCORE_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct ekn_seg_metrics {
    double rand_split, rand_merge, v_rand;
    double vi_split, vi_merge, v_info;
    size_t pixels; /* N: the truth's non-membrane pixels */
} ekn_seg_metrics;

/* label[i] = the 4-connected region (1, 2, ... in raster order of their
 * first pixel) of pixel i where fg[i] != 0, else 0; an H x W slice.
 * Returns the number of regions. */
int32_t ekn_seg_regions(const uint8_t *fg, int H, int W, int32_t *label);

/* The metrics of test against truth over n pixels (labels >= 0, truth's 0
 * ignored).  scratch: n uint64 values.  Returns 0, or -1 when a label is
 * negative. */
int ekn_seg_compare(const int32_t *truth, const int32_t *test, size_t n, uint64_t *scratch, ekn_seg_metrics *m);

/* Accumulates slices for a report: the mean of each metric over slices. */
typedef struct ekn_seg_score {
    double threshold;  /* a pixel is membrane when its boundary probability exceeds it */
    int boundary;      /* the class that marks membranes */
    size_t slices;
    ekn_seg_metrics sum;
    int32_t *lt, *lp;  /* scratch of one slice */
    uint8_t *ft, *fp;
    uint64_t *keys;
    size_t cap;
} ekn_seg_score;

/* Scores one H x W slice: lab[i] the truth's class of pixel i (< 0: no
 * label, left out like membrane), prob[i] the predicted probability of the
 * boundary class.  Returns 0, or -1 when out of memory. */
int ekn_seg_score_slice(ekn_seg_score *s, const int32_t *lab, const float *prob, int H, int W);
/* The report's lines (nothing when no slice was scored). */
void ekn_seg_score_print(const ekn_seg_score *s, FILE *f);
void ekn_seg_score_free(ekn_seg_score *s);
#endif
