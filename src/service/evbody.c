/* evbody: event bodies, built as jansson objects or written directly as
 * their text (see evbody.h). The direct writer follows the object's keys
 * in sorted order (EVBODY_FLAGS sort them) and leaves anything it cannot
 * write exactly as jansson would to evbody_json. */
#include "evbody.h"

#include <math.h>
#include <string.h>

const char *evbody_change_name(dc_change_type t)
{
    switch (t) {
    case DC_CH_OPENED: return "opened";
    case DC_CH_CHANGED: return "changed";
    case DC_CH_ACKED: return "acked";
    case DC_CH_OVERRIDDEN: return "overridden";
    case DC_CH_RESOLVED: return "resolved";
    }
    return "changed";
}

json_t *evbody_json(const dc_engine *e, const dc_change *c, const char *party, int64_t seq,
                    int64_t record, const char *time, const json_t *args)
{
    json_t *view = dc_conflict_view(e, c->conflict, party);
    json_t *ev = json_object();
    if (!ev) {
        json_decref(view);
        return NULL;
    }
    json_object_set_new(ev, "seq", json_integer(seq));
    json_object_set_new(ev, "type", json_string(evbody_change_name(c->type)));
    json_object_set_new(ev, "time", json_string(time));
    json_object_set_new(ev, "record", json_integer(record));
    json_object_set_new(ev, "conflict", view ? view : json_null());
    if (c->by_party)
        json_object_set_new(ev, "by", json_string(c->by_party));
    if (c->type == DC_CH_OVERRIDDEN && args) {
        json_t *ov = json_object_get(args, "override");
        json_t *reason = ov ? json_object_get(ov, "reason") : NULL;
        if (json_is_string(reason))
            json_object_set(ev, "reason", reason);
    }
    return ev;
}

/* ---- the direct writer ---- */

/* What jansson refuses to hold (json_string of invalid UTF-8, json_real of
 * a NaN or an infinity) makes evbody_json's object differ in shape (a key
 * missing, a null view); such events are left to it. */
static int str_ok(const char *s)
{
    return s && jtext_utf8_valid(s, strlen(s));
}

static int facts_writable(const dc_conflict_facts *f)
{
    if (!isfinite(f->distance_m) || !str_ok(f->id) || !str_ok(f->mine_type) ||
        !str_ok(f->mine_id) || !str_ok(f->other_party) || !str_ok(f->other_type) ||
        !str_ok(f->other_id) || (f->note && !str_ok(f->note)))
        return 0;
    for (int i = 0; i < f->nacks; i++)
        if (!str_ok(f->ack_party[i]))
            return 0;
    switch (f->other_shows) {
    case DC_FACTS_NONE: return 1;
    case DC_FACTS_OP:
        if (!str_ok(f->other_kind) || !str_ok(f->op_state))
            return 0;
        for (int i = 0; i < f->nvol; i++) {
            dc_volume_facts v;
            dc_conflict_facts_volume(f, i, &v);
            if (!v.geometry || (v.has_radius && !isfinite(v.radius_m)) ||
                (v.has_lower && !isfinite(v.alt_lower_m)) ||
                (v.has_upper && !isfinite(v.alt_upper_m)))
                return 0;
        }
        return 1;
    case DC_FACTS_SITE:
        return str_ok(f->other_kind) && f->site_geometry && isfinite(f->site_radius_m) &&
               isfinite(f->site_standoff_m);
    case DC_FACTS_UNIT:
        if (!str_ok(f->other_kind))
            return 0;
        return !f->unit_has_pos ||
               (isfinite(f->unit_lon) && isfinite(f->unit_lat) && isfinite(f->unit_ce_m) &&
                (!f->unit_has_alt || isfinite(f->unit_alt_m)));
    }
    return 0;
}

typedef struct {
    jtext_buf *b;
    jtext_cache *cache;
    jtext_new_ref_fn new_ref;
    void *ctx;
} writer;

#define LIT(w, s) jtext_add((w)->b, s, sizeof s - 1)
#define PRECISION ((int)((EVBODY_FLAGS >> 11) & 0x1F))

static void put_str(writer *w, const char *s)
{
    jtext_string(w->b, s, strlen(s), EVBODY_FLAGS);
}

static char *put2(char *p, int v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
    return p + 2;
}

/* evbody_time_format writes t as dc_time_format does, without stdio
 * (snprintf was a third of the direct writer's time) for 1970 to 9999,
 * and through dc_time_format otherwise. Returns the length. */
size_t evbody_time_format(dc_time t, char *buf)
{
    if (t < 0 || t >= 253402300800LL * DC_USEC) {
        dc_time_format(t, buf);
        return strlen(buf);
    }
    int64_t secs = t / DC_USEC, us = t % DC_USEC;
    int64_t days = secs / 86400, rem = secs % 86400;
    /* the civil date of a day count from 1970-01-01 (days >= 0), by eras
     * of 400 years that start on March 1st */
    int64_t z = days + 719468, era = z / 146097, doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
    int d = (int)(doy - (153 * mp + 2) / 5 + 1), m = (int)(mp < 10 ? mp + 3 : mp - 9);
    int y = (int)(yoe + era * 400 + (m <= 2));
    char *p = buf;
    p = put2(p, y / 100);
    p = put2(p, y % 100);
    *p++ = '-';
    p = put2(p, m);
    *p++ = '-';
    p = put2(p, d);
    *p++ = 'T';
    p = put2(p, (int)(rem / 3600));
    *p++ = ':';
    p = put2(p, (int)(rem % 3600 / 60));
    *p++ = ':';
    p = put2(p, (int)(rem % 60));
    if (us) {
        *p++ = '.';
        int v = (int)us;
        for (int i = 5; i >= 0; i--) {
            p[i] = (char)('0' + v % 10);
            v /= 10;
        }
        p += 6;
    }
    *p++ = 'Z';
    *p = 0;
    return (size_t)(p - buf);
}

static void put_time(writer *w, dc_time t)
{
    char buf[DC_TIME_BUFLEN + 2];
    buf[0] = '"';
    size_t n = evbody_time_format(t, buf + 1);
    buf[n + 1] = '"';
    jtext_add(w->b, buf, n + 2); /* digits and punctuation: nothing to escape */
}

static void put_real(writer *w, double v)
{
    if (jtext_real(w->b, v, PRECISION) != 0)
        w->b->oom = 1; /* cannot happen for a finite double */
}

/* put_geometry writes an engine geometry at nesting depth `depth` of the
 * event, as the shared subtree it is in evbody_json's object. */
static void put_geometry(writer *w, const json_t *g, int depth)
{
    jtext_dump_shared(w->b, g, EVBODY_FLAGS, w->cache, w->new_ref, w->ctx, depth);
}

/* The other side's "id", "kind" and "party" members, in that order. */
static void put_id_kind_party(writer *w, const dc_conflict_facts *f)
{
    LIT(w, "\"id\":");
    put_str(w, f->other_id);
    LIT(w, ",\"kind\":");
    put_str(w, f->other_kind);
    LIT(w, ",\"party\":");
    put_str(w, f->other_party);
}

/* The other side's operation: {"geometry", "id", "kind", "party",
 * "state", "type", "volumes"}; "geometry" is its one volume's geometry or
 * a GeometryCollection of them all. */
static void put_other_op(writer *w, const dc_conflict_facts *f)
{
    dc_volume_facts v;
    LIT(w, "{\"geometry\":");
    if (f->nvol == 1) {
        dc_conflict_facts_volume(f, 0, &v);
        put_geometry(w, v.geometry, 3);
    } else {
        LIT(w, "{\"geometries\":[");
        for (int i = 0; i < f->nvol; i++) {
            if (i)
                LIT(w, ",");
            dc_conflict_facts_volume(f, i, &v);
            put_geometry(w, v.geometry, 5);
        }
        LIT(w, "],\"type\":\"GeometryCollection\"}");
    }
    LIT(w, ",");
    put_id_kind_party(w, f);
    LIT(w, ",\"state\":");
    put_str(w, f->op_state);
    LIT(w, ",\"type\":");
    put_str(w, f->other_type);
    LIT(w, ",\"volumes\":[");
    for (int i = 0; i < f->nvol; i++) {
        if (i)
            LIT(w, ",");
        dc_conflict_facts_volume(f, i, &v);
        LIT(w, "{");
        if (v.has_lower) {
            LIT(w, "\"alt_lower_m\":");
            put_real(w, v.alt_lower_m);
            LIT(w, ",");
        }
        if (v.has_upper) {
            LIT(w, "\"alt_upper_m\":");
            put_real(w, v.alt_upper_m);
            LIT(w, ",");
        }
        LIT(w, "\"end\":");
        put_time(w, v.end);
        LIT(w, ",\"geometry\":");
        put_geometry(w, v.geometry, 5);
        if (v.has_radius) {
            LIT(w, ",\"radius_m\":");
            put_real(w, v.radius_m);
        }
        LIT(w, ",\"start\":");
        put_time(w, v.start);
        LIT(w, "}");
    }
    LIT(w, "]}");
}

static void put_other(writer *w, const dc_conflict_facts *f)
{
    switch (f->other_shows) {
    case DC_FACTS_OP: put_other_op(w, f); return;
    case DC_FACTS_SITE:
        LIT(w, "{\"geometry\":");
        put_geometry(w, f->site_geometry, 3);
        LIT(w, ",");
        put_id_kind_party(w, f);
        LIT(w, ",\"radius_m\":");
        put_real(w, f->site_radius_m);
        LIT(w, ",\"standoff_m\":");
        put_real(w, f->site_standoff_m);
        LIT(w, ",\"type\":");
        put_str(w, f->other_type);
        if (f->site_has_from) {
            LIT(w, ",\"valid_from\":");
            put_time(w, f->site_valid_from);
        }
        if (f->site_has_to) {
            LIT(w, ",\"valid_to\":");
            put_time(w, f->site_valid_to);
        }
        LIT(w, "}");
        return;
    case DC_FACTS_UNIT:
        if (f->unit_has_pos) {
            LIT(w, "{");
            if (f->unit_has_alt) {
                LIT(w, "\"alt_m\":");
                put_real(w, f->unit_alt_m);
                LIT(w, ",");
            }
            LIT(w, "\"ce_m\":");
            put_real(w, f->unit_ce_m);
            LIT(w, ",\"geometry\":{\"coordinates\":[");
            put_real(w, f->unit_lon);
            LIT(w, ",");
            put_real(w, f->unit_lat);
            LIT(w, "],\"type\":\"Point\"},");
        } else {
            LIT(w, "{\"geometry\":null,");
        }
        put_id_kind_party(w, f);
        if (f->unit_has_pos) {
            LIT(w, ",\"time\":");
            put_time(w, f->unit_time);
        }
        LIT(w, ",\"type\":");
        put_str(w, f->other_type);
        LIT(w, "}");
        return;
    default: /* DC_FACTS_NONE */
        LIT(w, "{\"geometry\":null,\"id\":");
        put_str(w, f->other_id);
        LIT(w, ",\"party\":");
        put_str(w, f->other_party);
        LIT(w, ",\"type\":");
        put_str(w, f->other_type);
        LIT(w, "}");
        return;
    }
}

static void put_ack(writer *w, const char *party, dc_time at)
{
    put_str(w, party);
    LIT(w, ":");
    if (at != 0)
        put_time(w, at);
    else
        LIT(w, "null");
}

/* The conflict view: {"acks", "distance_m", "id", "mine", "note",
 * "opened_at", "other", "resolved_at", "severity", "stale", "state",
 * "window"}. */
static void put_conflict(writer *w, const dc_conflict_facts *f)
{
    LIT(w, "{\"acks\":{");
    if (f->nacks == 2) {
        /* jansson sorts keys by their bytes (then length: never equal here) */
        int swap = strcmp(f->ack_party[0], f->ack_party[1]) > 0;
        put_ack(w, f->ack_party[swap], f->ack_at[swap]);
        LIT(w, ",");
        put_ack(w, f->ack_party[!swap], f->ack_at[!swap]);
    } else {
        put_ack(w, f->ack_party[0], f->ack_at[0]);
    }
    LIT(w, "},\"distance_m\":");
    put_real(w, f->distance_m);
    LIT(w, ",\"id\":");
    put_str(w, f->id);
    LIT(w, ",\"mine\":{\"id\":");
    put_str(w, f->mine_id);
    LIT(w, ",\"type\":");
    put_str(w, f->mine_type);
    LIT(w, "}");
    if (f->note) {
        LIT(w, ",\"note\":");
        put_str(w, f->note);
    }
    LIT(w, ",\"opened_at\":");
    put_time(w, f->opened_at);
    LIT(w, ",\"other\":");
    put_other(w, f);
    LIT(w, ",\"resolved_at\":");
    if (!f->open)
        put_time(w, f->resolved_at);
    else
        LIT(w, "null");
    if (f->critical)
        LIT(w, ",\"severity\":\"critical\"");
    else
        LIT(w, ",\"severity\":\"warning\"");
    if (f->stale)
        LIT(w, ",\"stale\":true");
    else
        LIT(w, ",\"stale\":false");
    if (f->open)
        LIT(w, ",\"state\":\"open\"");
    else
        LIT(w, ",\"state\":\"resolved\"");
    LIT(w, ",\"window\":{\"end\":");
    put_time(w, f->window_end);
    LIT(w, ",\"start\":");
    put_time(w, f->window_start);
    LIT(w, "}}");
}

int evbody_text(jtext_buf *b, const dc_engine *e, const dc_change *c, const char *party,
                int64_t seq, int64_t record, const char *time, jtext_cache *cache,
                jtext_new_ref_fn new_ref, void *ctx)
{
    if (c->type == DC_CH_OVERRIDDEN) /* the reason comes from the record's args */
        return 1;
    dc_conflict_facts f;
    if (dc_conflict_facts_get(e, c->conflict, party, &f) != 0 || !facts_writable(&f) ||
        !str_ok(time) || (c->by_party && !str_ok(c->by_party)))
        return 1;
    writer w = {b, cache, new_ref, ctx};
    /* {"by", "conflict", "record", "seq", "time", "type"} */
    if (c->by_party) {
        LIT(&w, "{\"by\":");
        put_str(&w, c->by_party);
        LIT(&w, ",\"conflict\":");
    } else {
        LIT(&w, "{\"conflict\":");
    }
    put_conflict(&w, &f);
    LIT(&w, ",\"record\":");
    jtext_int(b, (json_int_t)record);
    LIT(&w, ",\"seq\":");
    jtext_int(b, (json_int_t)seq);
    LIT(&w, ",\"time\":");
    put_str(&w, time);
    LIT(&w, ",\"type\":");
    put_str(&w, evbody_change_name(c->type));
    LIT(&w, "}");
    return b->oom ? -1 : 0;
}
