/* wl_json: request bodies (SPEC section 2) for the workload's objects, as
 * jansson values. Shared by bench_engine and the HTTP load client. */
#ifndef DC_BENCH_WL_JSON_H
#define DC_BENCH_WL_JSON_H

#include <jansson.h>

#include "dctime.h"
#include "workload.h"

static json_t *wl_ring_json(const wl_vol *v)
{
    json_t *ring = json_array();
    for (int i = 0; i <= v->nv; i++) {
        int k = i % v->nv;
        json_array_append_new(ring, json_pack("[f,f]", v->xy[2 * k], v->xy[2 * k + 1]));
    }
    return json_pack("{s:s,s:[o]}", "type", "Polygon", "coordinates", ring);
}

static json_t *wl_site_json(const wl_theatre *w, int i, const char *id)
{
    const wl_site *s = &w->sites[i];
    json_t *o = json_pack("{s:s,s:s,s:s,s:f}", "id", id, "name", id, "category",
                          wl_cat_names[s->category], "standoff_m", s->standoff);
    if (s->poly) {
        json_object_set_new(o, "geometry", wl_ring_json(&s->g));
    } else {
        json_object_set_new(o, "geometry", json_pack("{s:s,s:[f,f]}", "type", "Point",
                                                     "coordinates", s->g.clon, s->g.clat));
        json_object_set_new(o, "radius_m", json_real(s->radius));
    }
    if (s->has_to) {
        char buf[DC_TIME_BUFLEN];
        json_object_set_new(o, "valid_to", json_string(dc_time_format(s->valid_to, buf)));
    }
    return o;
}

static json_t *wl_unit_json(const wl_theatre *w, int i, const char *id)
{
    return json_pack("{s:s,s:s}", "callsign", id, "domain", wl_domain_names[w->units[i].domain]);
}

static json_t *wl_op_json(const wl_op *o, const char *id)
{
    json_t *vols = json_array();
    char b1[DC_TIME_BUFLEN], b2[DC_TIME_BUFLEN];
    for (int k = 0; k < o->nvol; k++) {
        const wl_vol *v = &o->vol[k];
        json_t *jv = json_pack("{s:o,s:s,s:s}", "geometry", wl_ring_json(v), "start",
                               dc_time_format(v->start, b1), "end", dc_time_format(v->end, b2));
        if (v->has_lo)
            json_object_set_new(jv, "alt_lower_m", json_real(v->alt_lo));
        if (v->has_hi)
            json_object_set_new(jv, "alt_upper_m", json_real(v->alt_hi));
        json_array_append_new(vols, jv);
    }
    json_t *j = json_pack("{s:s,s:s,s:s,s:f,s:o}", "id", id, "name", id, "kind",
                          wl_kind_names[o->kind], "hazard_m", o->hazard, "volumes", vols);
    if (o->warning_given)
        json_object_set_new(j, "warning_m", json_real(o->warning));
    return j;
}

#endif
