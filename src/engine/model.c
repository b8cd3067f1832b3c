/* model: validation of site, unit and operation bodies (SPEC section 2).
 *
 * Unknown fields are rejected rather than ignored: a misspelt "hazard"
 * silently defaulting hazard_m to 0 would be a false all-clear. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"

const char *const dc_kind_names[] = {"strike",      "artillery",  "demolition", "air-transit",
                                     "ground-move", "convoy",     "other",      NULL};
const char *const dc_domain_names[] = {"ground", "air", "sea", NULL};
const char *const dc_category_names[] = {"hospital",  "school",   "shelter", "humanitarian",
                                         "cultural",  "religious", "base",    "other", NULL};
const char *const dc_state_names[] = {"planned", "active", "ended", "cancelled", NULL};
const char *const dc_objtype_names[] = {"site", "unit", "operation", NULL};

dc_status model_fail(dc_error *err, dc_status code, const char *field, const char *fmt, ...)
{
    if (!err)
        return code;
    err->code = code;
    snprintf(err->field, sizeof err->field, "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return code;
}

int model_valid_id(const char *s, size_t maxlen)
{
    size_t n = strlen(s);
    if (n < 1 || n > maxlen)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == ':' || c == '-'))
            return 0;
    }
    return 1;
}

static int enum_index(const char *const *names, const char *s)
{
    for (int i = 0; names[i]; i++)
        if (strcmp(names[i], s) == 0)
            return i;
    return -1;
}

static dc_status check_fields(const json_t *body, const char *const *allowed, const char *prefix,
                              dc_error *err)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)body, k, v)
    {
        int ok = 0;
        for (int i = 0; allowed[i]; i++)
            if (strcmp(allowed[i], k) == 0)
                ok = 1;
        if (!ok) {
            char f[160];
            snprintf(f, sizeof f, "%s%s", prefix, k);
            return model_fail(err, DC_ERR_INVALID, f, "unknown field '%.60s'", k);
        }
    }
    return DC_OK;
}

/* A non-negative finite number, or the default when absent. */
static dc_status get_dist(const json_t *body, const char *key, const char *prefix, double def,
                          double *out, int *given, dc_error *err)
{
    const json_t *v = json_object_get(body, key);
    char f[160];
    snprintf(f, sizeof f, "%s%s", prefix, key);
    if (given)
        *given = v != NULL;
    if (!v) {
        *out = def;
        return DC_OK;
    }
    if (!json_is_number(v))
        return model_fail(err, DC_ERR_MALFORMED, f, "%s must be a number", key);
    double d = json_number_value(v);
    if (!isfinite(d) || d < 0)
        return model_fail(err, DC_ERR_INVALID, f, "%s must be a finite number >= 0", key);
    if (d > 1e6)
        return model_fail(err, DC_ERR_INVALID, f, "%s may be at most 1000000 m", key);
    *out = d;
    return DC_OK;
}

static dc_status get_alt(const json_t *body, const char *key, const char *prefix, double def,
                         double *out, int *given, dc_error *err)
{
    const json_t *v = json_object_get(body, key);
    char f[160];
    snprintf(f, sizeof f, "%s%s", prefix, key);
    *given = v != NULL && !json_is_null(v);
    if (!*given) {
        *out = def;
        return DC_OK;
    }
    if (!json_is_number(v))
        return model_fail(err, DC_ERR_MALFORMED, f, "%s must be a number", key);
    double d = json_number_value(v);
    if (!isfinite(d) || d < -20000 || d > 1e6)
        return model_fail(err, DC_ERR_INVALID, f, "%s must be within [-20000, 1000000] m", key);
    *out = d;
    return DC_OK;
}

static dc_status get_string(const json_t *body, const char *key, const char *prefix, int required,
                            size_t maxlen, const char **out, dc_error *err)
{
    const json_t *v = json_object_get(body, key);
    char f[160];
    snprintf(f, sizeof f, "%s%s", prefix, key);
    *out = NULL;
    if (!v || json_is_null(v)) {
        if (required)
            return model_fail(err, DC_ERR_INVALID, f, "%s is required", key);
        return DC_OK;
    }
    if (!json_is_string(v))
        return model_fail(err, DC_ERR_MALFORMED, f, "%s must be a string", key);
    if (strlen(json_string_value(v)) > maxlen)
        return model_fail(err, DC_ERR_INVALID, f, "%s is longer than %zu bytes", key, maxlen);
    *out = json_string_value(v);
    return DC_OK;
}

static dc_status get_time(const json_t *body, const char *key, const char *prefix, int required,
                          dc_time *out, int *given, dc_error *err)
{
    const char *s;
    dc_status rc = get_string(body, key, prefix, required, 64, &s, err);
    if (rc)
        return rc;
    if (given)
        *given = s != NULL;
    if (!s)
        return DC_OK;
    if (dc_time_parse(s, out)) {
        char f[160];
        snprintf(f, sizeof f, "%s%s", prefix, key);
        return model_fail(err, DC_ERR_INVALID, f, "%s must be an RFC 3339 time, got '%.40s'", key,
                          s);
    }
    return DC_OK;
}

static dc_status check_id(const json_t *body, const char *id, char **out, dc_error *err)
{
    const json_t *v = json_object_get(body, "id");
    if (v && !json_is_string(v))
        return model_fail(err, DC_ERR_MALFORMED, "id", "id must be a string");
    const char *bid = v ? json_string_value(v) : NULL;
    if (id && bid && strcmp(id, bid) != 0)
        return model_fail(err, DC_ERR_INVALID, "id", "id in the body differs from the path");
    const char *use = id ? id : bid;
    if (!use)
        return model_fail(err, DC_ERR_INVALID, "id", "id is required");
    if (!model_valid_id(use, 64))
        return model_fail(err, DC_ERR_INVALID, "id", "id must match [A-Za-z0-9_.:-]{1,64}");
    *out = strdup(use);
    return *out ? DC_OK : model_fail(err, DC_ERR_NOMEM, "", "out of memory");
}

/* A copy of a geometry as submitted. json_deep_copy guards against
 * reference loops with a table of every container it visits (a formatted
 * pointer key per array, one per position): that was a tenth of a submit.
 * A parsed document has no loops, and a depth limit bounds any that a
 * caller could build. Returns NULL when out of memory or too deep. */
static json_t *geometry_copy(const json_t *j, int depth)
{
    if (depth > 32)
        return NULL;
    switch (json_typeof(j)) {
    case JSON_ARRAY: {
        size_t n = json_array_size(j);
        json_t *a = json_array();
        for (size_t i = 0; a && i < n; i++) {
            json_t *c = geometry_copy(json_array_get(j, i), depth + 1);
            if (!c || json_array_append_new(a, c)) {
                json_decref(a);
                a = NULL;
            }
        }
        return a;
    }
    case JSON_OBJECT: {
        json_t *o = json_object();
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)j, k, v)
        {
            json_t *c = o ? geometry_copy(v, depth + 1) : NULL;
            if (!c || json_object_set_new(o, k, c)) {
                json_decref(o);
                return NULL;
            }
        }
        return o;
    }
    default:
        /* scalars: strings and numbers copy in O(1) */
        return json_copy((json_t *)j);
    }
}

static dc_status shape_status(int rc, const shape_error *se, dc_error *err)
{
    if (rc == -2)
        return model_fail(err, DC_ERR_NOMEM, "", "out of memory");
    return model_fail(err, DC_ERR_INVALID, se->field, "%s", se->message);
}

void model_site_clear(site *s)
{
    free(s->h.id);
    free(s->name);
    json_decref(s->geometry);
    shape_free(s->shape);
    memset(s, 0, sizeof *s);
}

dc_status model_site(const json_t *body, const char *id, site *s, dc_error *err)
{
    static const char *const allowed[] = {"id",         "owner",    "name",       "category",
                                          "geometry",   "radius_m", "standoff_m", "valid_from",
                                          "valid_to",   "disclose", "party",      NULL};
    memset(s, 0, sizeof *s);
    if (!json_is_object(body))
        return model_fail(err, DC_ERR_MALFORMED, "", "a site must be a JSON object");
    dc_status rc;
    const char *name, *cat, *disc;
    if ((rc = check_fields(body, allowed, "", err)) || (rc = check_id(body, id, &s->h.id, err)) ||
        (rc = get_string(body, "name", "", 0, DC_MAX_NAME, &name, err)) ||
        (rc = get_string(body, "category", "", 1, 32, &cat, err)) ||
        (rc = get_dist(body, "radius_m", "", 0, &s->radius_m, NULL, err)) ||
        (rc = get_dist(body, "standoff_m", "", 0, &s->standoff_m, NULL, err)) ||
        (rc = get_time(body, "valid_from", "", 0, &s->valid_from, &s->has_from, err)) ||
        (rc = get_time(body, "valid_to", "", 0, &s->valid_to, &s->has_to, err)) ||
        (rc = get_string(body, "disclose", "", 0, 32, &disc, err)))
        goto fail;
    s->name = strdup(name ? name : "");
    if ((s->category = enum_index(dc_category_names, cat)) < 0) {
        rc = model_fail(err, DC_ERR_INVALID, "category",
                        "category must be one of hospital, school, shelter, humanitarian, "
                        "cultural, religious, base, other");
        goto fail;
    }
    if (!s->has_from)
        s->valid_from = DC_TIME_MIN;
    if (!s->has_to)
        s->valid_to = DC_TIME_MAX;
    if (s->has_from && s->has_to && !(s->valid_from < s->valid_to)) {
        rc = model_fail(err, DC_ERR_INVALID, "valid_to", "valid_from must be before valid_to");
        goto fail;
    }
    if (disc && strcmp(disc, "all") != 0 && strcmp(disc, "conflicts") != 0) {
        rc = model_fail(err, DC_ERR_INVALID, "disclose", "disclose must be 'conflicts' or 'all'");
        goto fail;
    }
    s->disclose_all = disc && strcmp(disc, "all") == 0;
    const json_t *g = json_object_get(body, "geometry");
    if (!g) {
        rc = model_fail(err, DC_ERR_INVALID, "geometry", "geometry is required");
        goto fail;
    }
    shape_error se;
    int src = shape_from_geojson(g, s->radius_m, SHAPE_ALLOW_MULTI, "geometry", &s->shape, &se);
    if (src) {
        rc = shape_status(src, &se, err);
        goto fail;
    }
    s->geometry = geometry_copy(g, 0);
    if (!s->name || !s->geometry) {
        rc = model_fail(err, DC_ERR_NOMEM, "", "out of memory");
        goto fail;
    }
    return DC_OK;
fail:
    model_site_clear(s);
    return rc;
}

dc_status model_unit(const json_t *body, const char *id, unit *u, dc_error *err)
{
    static const char *const allowed[] = {"id", "owner", "callsign", "domain", "party", NULL};
    memset(u, 0, sizeof *u);
    if (!json_is_object(body))
        return model_fail(err, DC_ERR_MALFORMED, "", "a unit must be a JSON object");
    dc_status rc;
    const char *cs, *dom;
    if ((rc = check_fields(body, allowed, "", err)) || (rc = check_id(body, id, &u->h.id, err)) ||
        (rc = get_string(body, "callsign", "", 0, DC_MAX_NAME, &cs, err)) ||
        (rc = get_string(body, "domain", "", 1, 16, &dom, err)))
        goto fail;
    if ((u->domain = enum_index(dc_domain_names, dom)) < 0) {
        rc = model_fail(err, DC_ERR_INVALID, "domain", "domain must be ground, air or sea");
        goto fail;
    }
    u->callsign = strdup(cs ? cs : "");
    if (!u->callsign) {
        rc = model_fail(err, DC_ERR_NOMEM, "", "out of memory");
        goto fail;
    }
    return DC_OK;
fail:
    free(u->h.id);
    free(u->callsign);
    memset(u, 0, sizeof *u);
    return rc;
}

void model_op_clear(op *o)
{
    free(o->h.id);
    free(o->name);
    free(o->override_reason);
    for (int i = 0; i < o->nvol; i++) {
        json_decref(o->vols[i].geometry);
        shape_free(o->vols[i].shape);
    }
    free(o->vols);
    memset(o, 0, sizeof *o);
}

static dc_status model_volume(const json_t *v, int i, volume *vol, dc_error *err)
{
    static const char *const allowed[] = {"geometry", "radius_m", "alt_lower_m", "alt_upper_m",
                                          "start",    "end",      NULL};
    char prefix[48];
    snprintf(prefix, sizeof prefix, "volumes[%d].", i);
    if (!json_is_object(v))
        return model_fail(err, DC_ERR_MALFORMED, prefix, "a volume must be a JSON object");
    dc_status rc;
    if ((rc = check_fields(v, allowed, prefix, err)) ||
        (rc = get_dist(v, "radius_m", prefix, 0, &vol->radius_m, NULL, err)) ||
        (rc = get_alt(v, "alt_lower_m", prefix, -INFINITY, &vol->alt_lo, &vol->has_lo, err)) ||
        (rc = get_alt(v, "alt_upper_m", prefix, INFINITY, &vol->alt_hi, &vol->has_hi, err)) ||
        (rc = get_time(v, "start", prefix, 1, &vol->start, NULL, err)) ||
        (rc = get_time(v, "end", prefix, 1, &vol->end, NULL, err)))
        return rc;
    char f[160];
    if (!(vol->start < vol->end)) {
        snprintf(f, sizeof f, "%send", prefix);
        return model_fail(err, DC_ERR_INVALID, f, "start must be before end");
    }
    if (vol->alt_lo > vol->alt_hi) {
        snprintf(f, sizeof f, "%salt_upper_m", prefix);
        return model_fail(err, DC_ERR_INVALID, f, "alt_lower_m must not exceed alt_upper_m");
    }
    const json_t *g = json_object_get(v, "geometry");
    snprintf(f, sizeof f, "%sgeometry", prefix);
    if (!g)
        return model_fail(err, DC_ERR_INVALID, f, "geometry is required");
    shape_error se;
    int src = shape_from_geojson(g, vol->radius_m, SHAPE_POINT_NEEDS_RADIUS, f, &vol->shape, &se);
    if (src) {
        if (strcmp(se.field, "radius_m") == 0)
            snprintf(se.field, sizeof se.field, "%sradius_m", prefix);
        return shape_status(src, &se, err);
    }
    vol->geometry = geometry_copy(g, 0);
    if (!vol->geometry)
        return model_fail(err, DC_ERR_NOMEM, "", "out of memory");
    return DC_OK;
}

dc_status model_op(const json_t *body, const char *id, op *o, dc_error *err)
{
    static const char *const allowed[] = {"id",        "owner",   "name", "kind", "hazard_m",
                                          "warning_m", "volumes", "party", NULL};
    memset(o, 0, sizeof *o);
    if (!json_is_object(body))
        return model_fail(err, DC_ERR_MALFORMED, "", "an operation must be a JSON object");
    dc_status rc;
    const char *name, *kind;
    if ((rc = check_fields(body, allowed, "", err)) || (rc = check_id(body, id, &o->h.id, err)) ||
        (rc = get_string(body, "name", "", 0, DC_MAX_NAME, &name, err)) ||
        (rc = get_string(body, "kind", "", 1, 32, &kind, err)) ||
        (rc = get_dist(body, "hazard_m", "", 0, &o->hazard_m, NULL, err)) ||
        (rc = get_dist(body, "warning_m", "", o->hazard_m, &o->warning_m, &o->warning_given,
                       err)))
        goto fail;
    if ((o->kind = enum_index(dc_kind_names, kind)) < 0) {
        rc = model_fail(err, DC_ERR_INVALID, "kind",
                        "kind must be one of strike, artillery, demolition, air-transit, "
                        "ground-move, convoy, other");
        goto fail;
    }
    o->name = strdup(name ? name : "");
    if (!o->name) {
        rc = model_fail(err, DC_ERR_NOMEM, "", "out of memory");
        goto fail;
    }
    const json_t *vols = json_object_get(body, "volumes");
    if (!vols) {
        rc = model_fail(err, DC_ERR_INVALID, "volumes", "volumes is required (1 to 1000)");
        goto fail;
    }
    if (!json_is_array(vols)) {
        rc = model_fail(err, DC_ERR_MALFORMED, "volumes", "volumes must be an array");
        goto fail;
    }
    size_t n = json_array_size(vols);
    if (n == 0) {
        rc = model_fail(err, DC_ERR_INVALID, "volumes", "an operation needs at least one volume");
        goto fail;
    }
    if (n > DC_MAX_VOLUMES) {
        rc = model_fail(err, DC_ERR_TOOLARGE, "volumes", "at most 1000 volumes per operation");
        goto fail;
    }
    o->vols = calloc(n, sizeof *o->vols);
    if (!o->vols) {
        rc = model_fail(err, DC_ERR_NOMEM, "", "out of memory");
        goto fail;
    }
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        o->nvol = (int)i + 1;
        o->vols[i].op = o;
        o->vols[i].idx = (int)i;
        if ((rc = model_volume(json_array_get(vols, i), (int)i, &o->vols[i], err)))
            goto fail;
        total += shape_vertex_count(o->vols[i].shape);
        if (total > 200000) {
            rc = model_fail(err, DC_ERR_TOOLARGE, "volumes",
                            "at most 200000 vertices per operation in all");
            goto fail;
        }
    }
    return DC_OK;
fail:
    model_op_clear(o);
    return rc;
}
