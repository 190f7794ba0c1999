/* ekn-predict's options: the rest of the command line into the config. */
#include <string.h>

#include "predict.h"

void ekn_predict_opts_resolve(ekn_predict_opts *o)
{
    ekn_predict_config *c = &o->c;
    const char *what = o->write ? o->write : "both", *pad = o->pad ? o->pad : "none";
    if (!c->output && !c->eval) c->output = "-";
    c->want_prob = strcmp(what, "class") != 0;
    c->want_class = strcmp(what, "prob") != 0;
    c->pad = !strcmp(pad, "mirror") ? EKN_PAD_MIRROR : !strcmp(pad, "zero") ? EKN_PAD_ZERO : EKN_PAD_NONE;
    for (int k = 0; k < 3; k++) c->tile[k] = 0;
    ekn_zyx_place(&o->tile, c->tile);
    c->max_bytes = o->max_mib * 1048576.0;
    c->max_memory = o->mem_given ? c->max_bytes : 0;
}
