/*
 * sim_gen_plant.h - planting the discrepancies of SPEC 6 into a generated day.
 */
#ifndef WXR_SIM_GEN_PLANT_H
#define WXR_SIM_GEN_PLANT_H

#include "sim/sim_gen_rows.h"

struct planted *gen_plant_add(struct gen *g, enum plant_kind kind, const char *date);
void gen_plant_amounts(struct planted *pl, int has_ledger, int64_t ledger, int has_bill,
                       int64_t bill);
int64_t gen_plant_at(struct gen *g, enum plant_kind kind, int64_t i);
int gen_plant_prev_day(struct gen *g);

#endif
