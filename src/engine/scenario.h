/* scenario: loading a scenario file (SPEC section 6) into an engine. Used
 * by `deconflict check`, by `deconflict serve --scenario` and by tests. */
#ifndef DC_SCENARIO_H
#define DC_SCENARIO_H

#include "engine.h"

/* dc_scenario_load validates and applies scenario (a parsed JSON object)
 * at its "clock": parties, sharing, sites, units, positions, operations,
 * in that order. *clock_out receives the clock. On error, err->field is a
 * path into the scenario ("sites[1].geometry.coordinates[0]") and the
 * message names the object ("site OCHA/school-1: ..."); the engine may
 * then hold part of the scenario. */
dc_status dc_scenario_load(dc_engine *e, const json_t *scenario, dc_time *clock_out,
                           dc_changes *ch, dc_error *err);

#endif
