/* views: what each party may see (SPEC section 4, need-to-know).
 *
 * Listings: a party's own objects, plus units and operations of parties
 * that shared them with it, plus sites disclosed to all. In a conflict, the
 * other side's conflicting object (its geometry, time and kind) and
 * nothing else of that party. */
#include <math.h>
#include <string.h>

#include "engine_int.h"

static json_t *time_or_null(dc_time t, int present)
{
    char b[DC_TIME_BUFLEN];
    return present ? json_string(dc_time_format(t, b)) : json_null();
}

static double round1(double d)
{
    return round(d * 10) / 10;
}

json_t *view_site(const site *s)
{
    json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:O,s:f,s:f,s:s}", "id", s->h.id, "party",
                          s->h.owner->id, "name", s->name, "category",
                          dc_category_names[s->category], "geometry", s->geometry, "radius_m",
                          s->radius_m, "standoff_m", s->standoff_m, "disclose",
                          s->disclose_all ? "all" : "conflicts");
    if (s->has_from)
        json_object_set_new(j, "valid_from", time_or_null(s->valid_from, 1));
    if (s->has_to)
        json_object_set_new(j, "valid_to", time_or_null(s->valid_to, 1));
    return j;
}

static json_t *position_json(const unit *u)
{
    if (!u->has_pos)
        return json_null();
    char b[DC_TIME_BUFLEN];
    json_t *p = json_pack("{s:f,s:f,s:f,s:s}", "lon", u->lon, "lat", u->lat, "ce_m",
                          u->ce_m, "time", dc_time_format(u->t, b));
    if (!isnan(u->alt_m))
        json_object_set_new(p, "alt_m", json_real(u->alt_m));
    return p;
}

json_t *view_unit(const dc_engine *e, const unit *u, dc_time now)
{
    (void)e;
    int stale = u->has_pos && now - u->t > u->h.owner->stale_after_us;
    return json_pack("{s:s,s:s,s:s,s:s,s:o,s:b}", "id", u->h.id, "party", u->h.owner->id,
                     "callsign", u->callsign, "domain", dc_domain_names[u->domain], "position",
                     position_json(u), "stale", stale);
}

static json_t *volumes_json(const op *o)
{
    json_t *a = json_array();
    for (int i = 0; i < o->nvol; i++) {
        const volume *v = &o->vols[i];
        char s[DC_TIME_BUFLEN], t[DC_TIME_BUFLEN];
        json_t *j = json_pack("{s:O,s:s,s:s}", "geometry", v->geometry, "start",
                              dc_time_format(v->start, s), "end", dc_time_format(v->end, t));
        if (shape_is_disc(v->shape))
            json_object_set_new(j, "radius_m", json_real(v->radius_m));
        if (v->has_lo)
            json_object_set_new(j, "alt_lower_m", json_real(v->alt_lo));
        if (v->has_hi)
            json_object_set_new(j, "alt_upper_m", json_real(v->alt_hi));
        json_array_append_new(a, j);
    }
    return a;
}

json_t *view_op(const op *o)
{
    json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:f,s:f,s:s,s:o}", "id", o->h.id, "party",
                          o->h.owner->id, "name", o->name, "kind", dc_kind_names[o->kind],
                          "hazard_m", o->hazard_m, "warning_m", o->warning_m, "state",
                          dc_state_names[o->state], "volumes", volumes_json(o));
    if (o->override_reason)
        json_object_set_new(j, "override", json_pack("{s:s}", "reason", o->override_reason));
    return j;
}

/* The geometry of an operation as one GeoJSON geometry. */
static json_t *op_geometry(const op *o)
{
    if (o->nvol == 1)
        return json_incref(o->vols[0].geometry);
    json_t *g = json_array();
    for (int i = 0; i < o->nvol; i++)
        json_array_append(g, o->vols[i].geometry);
    return json_pack("{s:s,s:o}", "type", "GeometryCollection", "geometries", g);
}

/* other_facts fills the "other" part of f: the other side of a conflict,
 * as much of it as need-to-know allows. The rules for what a side sees of
 * the other are here and in dc_conflict_facts_get below, once: the JSON
 * views (dc_conflict_view, view_object_for_conflict) and the service's
 * direct event writer (evbody.c) both render these facts. */
static void other_facts(const dc_engine *e, int type, const party *p, const char *id, int open,
                        dc_conflict_facts *f)
{
    f->other_party = p->id;
    f->other_type = dc_objtype_names[type];
    f->other_id = id;
    /* Once a conflict is resolved its other side is no longer need-to-know:
     * the live object (a unit's new position, a replaced plan) is not shown,
     * only what identifies it. */
    obj *o = open ? engine_lookup(e, type, p, id) : NULL;
    if (!o) {
        f->other_shows = DC_FACTS_NONE;
        return;
    }
    if (type == OBJ_OP) {
        const op *x = (const op *)o;
        f->other_shows = DC_FACTS_OP;
        f->other_kind = dc_kind_names[x->kind];
        f->op_state = dc_state_names[x->state];
        f->nvol = x->nvol;
        f->op_ = x;
    } else if (type == OBJ_SITE) {
        const site *s = (const site *)o;
        f->other_shows = DC_FACTS_SITE;
        f->other_kind = dc_category_names[s->category];
        f->site_geometry = s->geometry;
        f->site_radius_m = s->radius_m;
        f->site_standoff_m = s->standoff_m;
        f->site_has_from = s->has_from;
        f->site_valid_from = s->valid_from;
        f->site_has_to = s->has_to;
        f->site_valid_to = s->valid_to;
    } else {
        const unit *u = (const unit *)o;
        f->other_shows = DC_FACTS_UNIT;
        f->other_kind = dc_domain_names[u->domain];
        f->unit_has_pos = u->has_pos;
        if (u->has_pos) {
            f->unit_lon = u->lon;
            f->unit_lat = u->lat;
            f->unit_ce_m = u->ce_m;
            f->unit_time = u->t;
            f->unit_has_alt = !isnan(u->alt_m);
            f->unit_alt_m = u->alt_m;
        }
    }
}

/* other_json: the "other" object of a conflict view, from other_facts. */
static json_t *other_json(const dc_conflict_facts *f)
{
    json_t *j = json_pack("{s:s,s:s,s:s}", "party", f->other_party, "type", f->other_type, "id",
                          f->other_id);
    if (f->other_shows == DC_FACTS_NONE) {
        json_object_set_new(j, "geometry", json_null());
        return j;
    }
    json_object_set_new(j, "kind", json_string(f->other_kind));
    if (f->other_shows == DC_FACTS_OP) {
        const op *x = f->op_;
        json_object_set_new(j, "geometry", op_geometry(x));
        json_object_set_new(j, "volumes", volumes_json(x));
        json_object_set_new(j, "state", json_string(f->op_state));
    } else if (f->other_shows == DC_FACTS_SITE) {
        json_object_set_new(j, "geometry", json_incref((json_t *)f->site_geometry));
        json_object_set_new(j, "radius_m", json_real(f->site_radius_m));
        json_object_set_new(j, "standoff_m", json_real(f->site_standoff_m));
        if (f->site_has_from)
            json_object_set_new(j, "valid_from", time_or_null(f->site_valid_from, 1));
        if (f->site_has_to)
            json_object_set_new(j, "valid_to", time_or_null(f->site_valid_to, 1));
    } else if (f->unit_has_pos) {
        char b[DC_TIME_BUFLEN];
        json_object_set_new(j, "geometry",
                            json_pack("{s:s,s:[f,f]}", "type", "Point", "coordinates",
                                      f->unit_lon, f->unit_lat));
        json_object_set_new(j, "ce_m", json_real(f->unit_ce_m));
        json_object_set_new(j, "time", json_string(dc_time_format(f->unit_time, b)));
        if (f->unit_has_alt)
            json_object_set_new(j, "alt_m", json_real(f->unit_alt_m));
    } else {
        json_object_set_new(j, "geometry", json_null());
    }
    return j;
}

json_t *view_object_for_conflict(const dc_engine *e, int type, const party *p, const char *id,
                                 int open)
{
    dc_conflict_facts f;
    memset(&f, 0, sizeof f);
    other_facts(e, type, p, id, open, &f);
    return other_json(&f);
}

const char *dc_conflict_id(const dc_conflict *c)
{
    return c->id;
}

void dc_conflict_sides(const dc_conflict *c, const char **a, const char **b)
{
    *a = c->pa->id;
    *b = c->pb->id;
}

int dc_conflict_is_open(const dc_conflict *c)
{
    return c->open;
}

/* Which side of c party_id is: 0 (a), 1 (b), or -1 for neither. */
static int conflict_side(const dc_conflict *c, const char *party_id)
{
    if (strcmp(party_id, c->pa->id) == 0)
        return 0;
    if (strcmp(party_id, c->pb->id) == 0)
        return 1;
    return -1;
}

/* dc_conflict_facts_get: what party_id may see of c (the need-to-know
 * rules, with other_facts above). dc_conflict_view renders it as JSON, the
 * service's evbody.c as event text; tests/unit/test_evbody.c compares the
 * two renderings on many conflicts. */
int dc_conflict_facts_get(const dc_engine *e, const dc_conflict *c, const char *party_id,
                          dc_conflict_facts *f)
{
    int side = conflict_side(c, party_id);
    if (side < 0)
        return -1;
    memset(f, 0, sizeof *f);
    int mine_type = side ? c->b_type : c->a_type, other_type = side ? c->a_type : c->b_type;
    f->id = c->id;
    f->open = c->open;
    f->critical = c->severity == 2;
    f->stale = c->stale;
    f->distance_m = round1(c->dist);
    f->window_start = c->wstart;
    f->window_end = c->wend;
    f->opened_at = c->opened_at;
    f->resolved_at = c->resolved_at;
    f->mine_type = dc_objtype_names[mine_type];
    f->mine_id = side ? c->b_id : c->a_id;
    /* one object, keyed by party: b's entry replaces a's when they are one */
    f->ack_party[0] = c->pa->id;
    f->ack_at[0] = c->ack_a;
    if (strcmp(c->pa->id, c->pb->id) == 0) {
        f->nacks = 1;
        f->ack_at[0] = c->ack_b;
    } else {
        f->nacks = 2;
        f->ack_party[1] = c->pb->id;
        f->ack_at[1] = c->ack_b;
    }
    f->note = side ? c->note_b : c->note_a; /* the viewer's own note only */
    other_facts(e, other_type, side ? c->pa : c->pb, side ? c->a_id : c->b_id, c->open, f);
    return 0;
}

json_t *dc_conflict_view(const dc_engine *e, const dc_conflict *c, const char *party_id)
{
    dc_conflict_facts f;
    if (dc_conflict_facts_get(e, c, party_id, &f) != 0)
        return NULL;
    char ws[DC_TIME_BUFLEN], we[DC_TIME_BUFLEN], oa[DC_TIME_BUFLEN];
    json_t *acks = json_object();
    for (int i = 0; i < f.nacks; i++)
        json_object_set_new(acks, f.ack_party[i], time_or_null(f.ack_at[i], f.ack_at[i] != 0));
    json_t *j = json_pack(
        "{s:s,s:s,s:s,s:b,s:f,s:{s:s,s:s},s:s,s:o,s:{s:s,s:s},s:o,s:o}", "id", f.id, "state",
        f.open ? "open" : "resolved", "severity", f.critical ? "critical" : "warning", "stale",
        f.stale, "distance_m", f.distance_m, "window", "start",
        dc_time_format(f.window_start, ws), "end", dc_time_format(f.window_end, we), "opened_at",
        dc_time_format(f.opened_at, oa), "resolved_at", time_or_null(f.resolved_at, !f.open),
        "mine", "type", f.mine_type, "id", f.mine_id, "other", other_json(&f), "acks", acks);
    if (f.note)
        json_object_set_new(j, "note", json_string(f.note));
    return j;
}

void dc_conflict_facts_volume(const dc_conflict_facts *f, int i, dc_volume_facts *out)
{
    const volume *v = &((const op *)f->op_)->vols[i];
    out->geometry = v->geometry;
    out->start = v->start;
    out->end = v->end;
    out->has_radius = shape_is_disc(v->shape);
    out->radius_m = v->radius_m;
    out->has_lower = v->has_lo;
    out->alt_lower_m = v->alt_lo;
    out->has_upper = v->has_hi;
    out->alt_upper_m = v->alt_hi;
}

static int can_list(const party *viewer, const obj *o)
{
    if (o->owner == viewer)
        return 1;
    if (o->type == OBJ_UNIT)
        return o->owner->share_units[viewer->idx];
    if (o->type == OBJ_OP)
        return o->owner->share_ops[viewer->idx];
    return ((const site *)o)->disclose_all;
}

/* Objects of a map in key order, so that listings are stable. */
static int objcmp(const void *a, const void *b)
{
    return strcmp((*(obj *const *)a)->key, (*(obj *const *)b)->key);
}

static json_t *list_json(const dc_engine *e, const hmap *m, const char *party_id, dc_time now,
                         const char *name)
{
    party *p = engine_party(e, party_id);
    json_t *a = json_array();
    obj **v = malloc(sizeof *v * (m->n + 1));
    size_t n = 0;
    for (size_t i = 0; v && p && i < m->cap; i++)
        if (hmap_at(m, i) && can_list(p, hmap_at(m, i)))
            v[n++] = hmap_at(m, i);
    if (n > 1)
        qsort(v, n, sizeof *v, objcmp);
    for (size_t i = 0; i < n; i++) {
        obj *o = v[i];
        json_array_append_new(a, o->type == OBJ_SITE   ? view_site((site *)o)
                                 : o->type == OBJ_UNIT ? view_unit(e, (unit *)o, now)
                                                       : view_op((op *)o));
    }
    free(v);
    return json_pack("{s:o}", name, a);
}

json_t *dc_sites_json(const dc_engine *e, const char *party)
{
    return list_json(e, &e->sites, party, 0, "sites");
}

json_t *dc_units_json(const dc_engine *e, const char *party, dc_time now)
{
    return list_json(e, &e->units, party, now, "units");
}

json_t *dc_operations_json(const dc_engine *e, const char *party)
{
    return list_json(e, &e->ops, party, 0, "operations");
}

static dc_status get_own(const dc_engine *e, int type, const char *party_id, const char *id,
                         obj **out, dc_error *err)
{
    party *p = engine_party(e, party_id);
    if (!p)
        return model_fail(err, DC_ERR_NOTFOUND, "party", "unknown party");
    *out = engine_lookup(e, type, p, id);
    if (!*out)
        return model_fail(err, DC_ERR_NOTFOUND, "id", "no %s '%.64s'", dc_objtype_names[type],
                          id ? id : "");
    return DC_OK;
}

dc_status dc_site_json(const dc_engine *e, const char *party, const char *id, json_t **out,
                       dc_error *err)
{
    obj *o;
    dc_status rc = get_own(e, OBJ_SITE, party, id, &o, err);
    *out = rc ? NULL : view_site((site *)o);
    return rc;
}

dc_status dc_operation_json(const dc_engine *e, const char *party, const char *id, json_t **out,
                            dc_error *err)
{
    obj *o;
    dc_status rc = get_own(e, OBJ_OP, party, id, &o, err);
    if (!rc) {
        *out = view_op((op *)o);
        json_t *cf = json_array();
        for (int i = 0; i < obj_ncf(o); i++)
            json_array_append_new(cf, dc_conflict_view(e, obj_cf(o, i), party));
        json_object_set_new(*out, "conflicts", cf);
    } else {
        *out = NULL;
    }
    return rc;
}

dc_status dc_unit_json(const dc_engine *e, const char *party, const char *id, dc_time now,
                       json_t **out, dc_error *err)
{
    obj *o;
    dc_status rc = get_own(e, OBJ_UNIT, party, id, &o, err);
    *out = rc ? NULL : view_unit(e, (unit *)o, now);
    return rc;
}

json_t *dc_conflicts_json(const dc_engine *e, const char *party_id, const char *state)
{
    json_t *a = json_array();
    party *p = engine_party(e, party_id);
    int want = !state ? -1 : strcmp(state, "open") == 0 ? 1 : 0;
    for (size_t i = 0; p && i < e->nconflicts; i++) {
        const dc_conflict *c = e->conflicts[i];
        if ((c->pa != p && c->pb != p) || (want >= 0 && c->open != want))
            continue;
        json_array_append_new(a, dc_conflict_view(e, c, party_id));
    }
    return json_pack("{s:o}", "conflicts", a);
}

json_t *dc_conflicts_pairs_json(const dc_engine *e)
{
    json_t *a = json_array();
    for (size_t i = 0; i < e->nconflicts; i++) {
        const dc_conflict *c = e->conflicts[i];
        if (!c->open)
            continue;
        json_array_append_new(
            a, json_pack("{s:s,s:{s:s,s:s,s:s},s:{s:s,s:s,s:s},s:s,s:f,s:b}", "id", c->id, "a",
                         "party", c->pa->id, "type", dc_objtype_names[c->a_type], "id", c->a_id,
                         "b", "party", c->pb->id, "type", dc_objtype_names[c->b_type], "id",
                         c->b_id, "severity", c->severity == 2 ? "critical" : "warning",
                         "distance_m", round1(c->dist), "stale", c->stale));
    }
    return json_pack("{s:o}", "conflicts", a);
}

static void add_feature(json_t *fc, json_t *geometry, json_t *props)
{
    if (!geometry || json_is_null(geometry)) {
        json_decref(geometry);
        json_decref(props);
        return;
    }
    json_array_append_new(fc, json_pack("{s:s,s:o,s:o}", "type", "Feature", "geometry", geometry,
                                        "properties", props));
}

json_t *dc_cop_json(const dc_engine *e, const char *party_id, dc_time now)
{
    party *p = engine_party(e, party_id);
    json_t *fs = json_array();
    if (!p)
        return json_pack("{s:s,s:o}", "type", "FeatureCollection", "features", fs);
    json_t *sites = dc_sites_json(e, party_id), *units = dc_units_json(e, party_id, now),
           *ops = dc_operations_json(e, party_id);
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(sites, "sites"), i, v)
    {
        json_t *props = json_deep_copy(v);
        json_object_del(props, "geometry");
        json_object_set_new(props, "layer",
                            json_string(strcmp(json_string_value(json_object_get(v, "party")),
                                               party_id) == 0
                                            ? "own-site"
                                            : "disclosed-site"));
        add_feature(fs, json_incref(json_object_get(v, "geometry")), props);
    }
    json_array_foreach(json_object_get(units, "units"), i, v)
    {
        json_t *pos = json_object_get(v, "position");
        if (json_is_null(pos))
            continue;
        json_t *props = json_deep_copy(v);
        json_object_set_new(props, "layer",
                            json_string(strcmp(json_string_value(json_object_get(v, "party")),
                                               party_id) == 0
                                            ? "own-unit"
                                            : "shared-unit"));
        add_feature(fs,
                    json_pack("{s:s,s:[O,O]}", "type", "Point", "coordinates",
                              json_object_get(pos, "lon"), json_object_get(pos, "lat")),
                    props);
    }
    json_array_foreach(json_object_get(ops, "operations"), i, v)
    {
        size_t k;
        json_t *vol;
        int own = strcmp(json_string_value(json_object_get(v, "party")), party_id) == 0;
        json_array_foreach(json_object_get(v, "volumes"), k, vol)
        {
            json_t *props = json_pack("{s:s,s:O,s:O,s:O,s:O,s:I,s:O,s:O}", "layer",
                                      own ? "own-operation" : "shared-operation", "party",
                                      json_object_get(v, "party"), "id", json_object_get(v, "id"),
                                      "kind", json_object_get(v, "kind"), "state",
                                      json_object_get(v, "state"), "volume", (json_int_t)k,
                                      "start", json_object_get(vol, "start"), "end",
                                      json_object_get(vol, "end"));
            if (json_object_get(vol, "radius_m"))
                json_object_set(props, "radius_m", json_object_get(vol, "radius_m"));
            add_feature(fs, json_incref(json_object_get(vol, "geometry")), props);
        }
    }
    for (size_t c = 0; c < e->nconflicts; c++) {
        const dc_conflict *cf = e->conflicts[c];
        if (!cf->open || (cf->pa != p && cf->pb != p))
            continue;
        json_t *view = dc_conflict_view(e, cf, party_id);
        json_t *other = json_object_get(view, "other");
        json_t *props = json_pack("{s:s,s:s,s:O,s:O,s:O,s:O,s:O}", "layer", "conflict-object",
                                  "conflict", cf->id, "severity", json_object_get(view, "severity"),
                                  "party", json_object_get(other, "party"), "type",
                                  json_object_get(other, "type"), "id",
                                  json_object_get(other, "id"), "kind",
                                  json_object_get(other, "kind"));
        json_t *r = json_object_get(other, "radius_m");
        if (!r)
            r = json_object_get(other, "ce_m");
        if (r)
            json_object_set(props, "radius_m", r);
        add_feature(fs, json_incref(json_object_get(other, "geometry")), props);
        json_decref(view);
    }
    json_decref(sites);
    json_decref(units);
    json_decref(ops);
    return json_pack("{s:s,s:o}", "type", "FeatureCollection", "features", fs);
}
