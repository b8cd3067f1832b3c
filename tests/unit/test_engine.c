/* test_engine: the engine's API behaviour (SPEC sections 2 to 4): parties
 * and sharing, need-to-know in listings and conflict views, the activation
 * interlock and acknowledgements, operation states, position batches, the
 * conflict rules' boundaries (half-open windows, closed altitude bands,
 * thresholds per pair type), the clock, staleness and deterministic ids.
 * dc_engine_check() and dc_engine_recompute_check() run after the steps. */
#include <geodesic.h>
#include <stdlib.h>

#include "engine.h"
#include "engine_int.h" /* candidate_marks_wrap sets the engine's counter */
#include "shape.h"
#include "testlib.h"

static struct geod_geodesic G;
static dc_time T0; /* 2017-02-09T04:00:00Z */
#define MIN (60 * DC_USEC)
#define HOUR (3600 * DC_USEC)
static const double LON0 = 37.5, LAT0 = 36.4;

/* ---- helpers ---- */

/* The point at distance d metres east of the base point. */
static void east(double d, double *lon, double *lat)
{
    geod_direct(&G, LAT0, LON0, 90, d, lat, lon, 0);
}

static int check_engine(dc_engine *e, dc_time now, const char *where)
{
    char buf[512];
    if (dc_engine_check(e, buf, sizeof buf) != 0) {
        TL_FAIL_("dc_engine_check after %s: %s", where, buf);
        return -1;
    }
    if (dc_engine_recompute_check(e, now, buf, sizeof buf) != 0) {
        TL_FAIL_("dc_engine_recompute_check after %s: %s", where, buf);
        return -1;
    }
    return 0;
}
#define CHECK(e, now) check_engine(e, now, __func__)

static json_t *disc_vol(double d_east, double r, dc_time s, dc_time e, double lo, double hi)
{
    double lon, lat;
    east(d_east, &lon, &lat);
    json_t *v = json_pack("{s:{s:s,s:[f,f]},s:f,s:s,s:s}", "geometry", "type", "Point",
                          "coordinates", lon, lat, "radius_m", r, "start", iso(s), "end", iso(e));
    if (!isnan(lo))
        json_object_set_new(v, "alt_lower_m", json_real(lo));
    if (!isnan(hi))
        json_object_set_new(v, "alt_upper_m", json_real(hi));
    return v;
}

/* An operation body with one or two volumes; warning NAN = absent. */
static json_t *op_body(const char *id, const char *kind, double hazard, double warning,
                       json_t *v1, json_t *v2)
{
    json_t *vols = json_array();
    json_array_append_new(vols, v1);
    if (v2)
        json_array_append_new(vols, v2);
    json_t *b = json_pack("{s:s,s:s,s:s,s:f,s:o}", "id", id, "name", id, "kind", kind,
                          "hazard_m", hazard, "volumes", vols);
    if (!isnan(warning))
        json_object_set_new(b, "warning_m", json_real(warning));
    return b;
}

static dc_status put_op(dc_engine *e, const char *party, json_t *body, dc_time now,
                        dc_changes *ch)
{
    dc_error err = {0};
    dc_status rc = dc_operation_put(e, party, NULL, body, 1, now, ch, &err);
    if (rc)
        printf("     (operation put: %s %s: %s)\n", dc_status_name(rc), err.field, err.message);
    dc_error_clear(&err);
    json_decref(body);
    return rc;
}

static dc_status replace_op(dc_engine *e, const char *party, json_t *body, dc_time now,
                            dc_changes *ch)
{
    dc_error err = {0};
    dc_status rc = dc_operation_put(e, party, NULL, body, 0, now, ch, &err);
    dc_error_clear(&err);
    json_decref(body);
    return rc;
}

static dc_status add_unit(dc_engine *e, const char *party, const char *id, const char *domain)
{
    dc_error err = {0};
    json_t *b = json_pack("{s:s,s:s}", "callsign", id, "domain", domain);
    dc_status rc = dc_unit_put(e, party, id, b, T0, NULL, &err);
    json_decref(b);
    dc_error_clear(&err);
    return rc;
}

/* One position report (alt NAN = absent). */
static dc_status report(dc_engine *e, const char *party, const char *unit, double d_east,
                        double ce, double alt, dc_time t, dc_time now, dc_changes *ch)
{
    double lon, lat;
    east(d_east, &lon, &lat);
    json_t *r = json_pack("{s:s,s:f,s:f,s:f,s:s}", "unit", unit, "lon", lon, "lat", lat, "ce_m",
                          ce, "time", iso(t));
    if (!isnan(alt))
        json_object_set_new(r, "alt_m", json_real(alt));
    json_t *b = json_pack("{s:[o]}", "reports", r);
    dc_error err = {0};
    size_t acc = 0;
    dc_status rc = dc_positions_report(e, party, b, now, &acc, ch, &err);
    dc_error_clear(&err);
    json_decref(b);
    return rc;
}

static dc_status add_site(dc_engine *e, const char *party, const char *id, double d_east,
                          double r, double standoff, const char *disclose, dc_time from,
                          dc_time to, dc_time now, dc_changes *ch)
{
    double lon, lat;
    east(d_east, &lon, &lat);
    json_t *b = json_pack("{s:s,s:s,s:s,s:{s:s,s:[f,f]},s:f,s:f}", "id", id, "name", id,
                          "category", "hospital", "geometry", "type", "Point", "coordinates", lon,
                          lat, "radius_m", r, "standoff_m", standoff);
    if (disclose)
        json_object_set_new(b, "disclose", json_string(disclose));
    if (from)
        json_object_set_new(b, "valid_from", json_string(iso(from)));
    if (to)
        json_object_set_new(b, "valid_to", json_string(iso(to)));
    dc_error err = {0};
    dc_status rc = dc_site_put(e, party, NULL, b, 1, now, ch, &err);
    if (rc)
        printf("     (site put: %s %s: %s)\n", dc_status_name(rc), err.field, err.message);
    dc_error_clear(&err);
    json_decref(b);
    return rc;
}

/* The open conflict that `party` sees between its object mine_id and the
 * other side's other_id, as a view (new reference), or NULL. */
static json_t *find_view(dc_engine *e, const char *party, const char *mine_id,
                         const char *other_id, const char *state)
{
    json_t *l = dc_conflicts_json(e, party, state);
    json_t *found = NULL, *c;
    size_t i;
    json_array_foreach(json_object_get(l, "conflicts"), i, c)
    {
        const char *m = json_string_value(json_object_get(json_object_get(c, "mine"), "id"));
        const char *o = json_string_value(json_object_get(json_object_get(c, "other"), "id"));
        if (m && o && strcmp(m, mine_id) == 0 && strcmp(o, other_id) == 0) {
            found = json_incref(c);
            break;
        }
    }
    json_decref(l);
    return found;
}

static int has_view(dc_engine *e, const char *party, const char *mine_id, const char *other_id,
                    const char *state)
{
    json_t *v = find_view(e, party, mine_id, other_id, state);
    json_decref(v);
    return v != NULL;
}

static int n_open(dc_engine *e, const char *party)
{
    json_t *l = dc_conflicts_json(e, party, "open");
    int n = (int)json_array_size(json_object_get(l, "conflicts"));
    json_decref(l);
    return n;
}

static const char *sev(json_t *view)
{
    return view ? json_string_value(json_object_get(view, "severity")) : "(none)";
}

static int count_changes(const dc_changes *ch, dc_change_type t)
{
    int n = 0;
    for (size_t i = 0; i < ch->n; i++)
        n += ch->v[i].type == t;
    return n;
}

static dc_engine *engine3(void)
{
    dc_engine *e = dc_engine_new();
    dc_error err = {0};
    dc_party_add(e, "A", "Alpha", 0, &err);
    dc_party_add(e, "B", "Bravo", 0, &err);
    dc_party_add(e, "C", "Charlie", 0, &err);
    return e;
}

/* ---- tests ---- */

TEST(parties)
{
    dc_engine *e = dc_engine_new();
    dc_error err = {0};
    EXPECT_EQ(dc_party_add(e, "TR", "Turkey", 0, &err), DC_OK);
    EXPECT_EQ(dc_party_add(e, "TR", "again", 0, &err), DC_ERR_EXISTS);
    EXPECT_EQ(dc_party_add(e, "bad id", "x", 0, &err), DC_ERR_INVALID);
    EXPECT_EQ(dc_party_add(e, "", "x", 0, &err), DC_ERR_INVALID);
    EXPECT_EQ(dc_party_add(e, "a.b", "x", 0, &err), DC_ERR_INVALID); /* no dots in party ids */
    EXPECT_EQ(dc_party_add(e, "0123456789012345678901234567890123", "x", 0, &err),
              DC_ERR_INVALID);
    EXPECT_EQ(dc_party_add(e, "01234567890123456789012345678901", "x", 0, &err), DC_OK);
    EXPECT_EQ(dc_party_add(e, "RU_1-x", NULL, 30, &err), DC_OK);
    EXPECT(dc_party_exists(e, "TR"));
    EXPECT(!dc_party_exists(e, "XX"));
    json_t *l = dc_parties_json(e);
    EXPECT_EQ(json_array_size(json_object_get(l, "parties")), 3);
    json_decref(l);
    EXPECT_EQ(dc_sharing_set(e, "TR", "XX", 1, 1, &err), DC_ERR_NOTFOUND);
    EXPECT_EQ(dc_sharing_set(e, "TR", "TR", 1, 1, &err), DC_ERR_INVALID);
    /* writes by an unknown party */
    json_t *b = json_pack("{s:s,s:s}", "callsign", "x", "domain", "ground");
    EXPECT_EQ(dc_unit_put(e, "XX", "u1", b, T0, NULL, &err), DC_ERR_NOTFOUND);
    json_decref(b);
    dc_error_clear(&err);
    CHECK(e, T0);
    dc_engine_free(e);
}

/* A strike of A at the base point (hazard 500, warning 500); units, sites
 * and operations of B around it. */
TEST(listings_and_need_to_know)
{
    dc_engine *e = engine3();
    dc_changes ch;
    dc_changes_init(&ch);
    dc_error err = {0};
    ASSERT_EQ(add_unit(e, "B", "b-u1", "ground"), DC_OK);
    ASSERT_EQ(add_unit(e, "B", "b-u2", "ground"), DC_OK);
    ASSERT_EQ(report(e, "B", "b-u1", 300, 0, NAN, T0, T0, &ch), DC_OK);
    ASSERT_EQ(report(e, "B", "b-u2", 50000, 0, NAN, T0, T0, &ch), DC_OK);
    ASSERT_EQ(add_site(e, "B", "b-site-hidden", 5000, 10, 0, NULL, 0, 0, T0, &ch), DC_OK);
    ASSERT_EQ(add_site(e, "B", "b-site-all", 60000, 10, 0, "all", 0, 0, T0, &ch), DC_OK);
    ASSERT_EQ(put_op(e, "A", op_body("a-strike", "strike", 500, 500,
                                     disc_vol(0, 100, T0 + HOUR, T0 + 2 * HOUR, NAN, NAN), NULL),
                     T0, &ch),
              DC_OK);
    ASSERT_EQ(put_op(e, "A", op_body("a-other", "convoy", 0, NAN,
                                     disc_vol(90000, 100, T0 + HOUR, T0 + 2 * HOUR, NAN, NAN),
                                     NULL),
                     T0, &ch),
              DC_OK);
    CHECK(e, T0);

    /* listings: own objects only, until shared; sites only when "all" */
    json_t *l = dc_units_json(e, "A", T0);
    EXPECT_EQ(json_array_size(json_object_get(l, "units")), 0);
    json_decref(l);
    l = dc_operations_json(e, "B");
    EXPECT_EQ(json_array_size(json_object_get(l, "operations")), 0);
    json_decref(l);
    l = dc_sites_json(e, "A");
    EXPECT_EQ(json_array_size(json_object_get(l, "sites")), 1);
    EXPECT_STREQ(json_string_value(
                     json_object_get(json_array_get(json_object_get(l, "sites"), 0), "id")),
                 "b-site-all");
    json_decref(l);
    l = dc_sites_json(e, "B");
    EXPECT_EQ(json_array_size(json_object_get(l, "sites")), 2);
    json_decref(l);
    EXPECT_EQ(dc_sharing_set(e, "B", "A", 1, 0, &err), DC_OK);
    l = dc_units_json(e, "A", T0);
    EXPECT_EQ(json_array_size(json_object_get(l, "units")), 2);
    json_decref(l);
    l = dc_units_json(e, "C", T0);
    EXPECT_EQ(json_array_size(json_object_get(l, "units")), 0);
    json_decref(l);
    l = dc_operations_json(e, "A");
    EXPECT_EQ(json_array_size(json_object_get(l, "operations")), 2);
    json_decref(l);
    EXPECT_EQ(dc_sharing_set(e, "A", "B", 0, 1, &err), DC_OK);
    l = dc_operations_json(e, "B");
    EXPECT_EQ(json_array_size(json_object_get(l, "operations")), 2);
    json_decref(l);
    EXPECT_EQ(dc_sharing_set(e, "A", "B", 0, 0, &err), DC_OK);
    l = dc_operations_json(e, "B");
    EXPECT_EQ(json_array_size(json_object_get(l, "operations")), 0);
    json_decref(l);

    /* single reads of another party's objects fail */
    json_t *out = NULL;
    EXPECT(dc_operation_json(e, "B", "a-strike", &out, &err) != DC_OK);
    EXPECT(out == NULL);
    EXPECT(dc_site_json(e, "A", "b-site-hidden", &out, &err) != DC_OK);
    EXPECT(dc_unit_json(e, "A", "b-u1", T0, &out, &err) != DC_OK);
    EXPECT_EQ(dc_operation_json(e, "A", "a-strike", &out, &err), DC_OK);
    json_decref(out);

    /* conflicts: strike x b-u1 (300 m, critical), strike x b-site-hidden?
     * no (5 km); nothing with b-u2, b-site-all or a-other */
    EXPECT_EQ(n_open(e, "A"), 1);
    EXPECT_EQ(n_open(e, "B"), 1);
    EXPECT_EQ(n_open(e, "C"), 0);
    json_t *vb = find_view(e, "B", "b-u1", "a-strike", "open");
    ASSERT(vb != NULL);
    EXPECT_STREQ(sev(vb), "critical");
    EXPECT_NEAR(json_real_value(json_object_get(vb, "distance_m")), 200, 0.11);
    json_t *other = json_object_get(vb, "other");
    EXPECT_STREQ(json_string_value(json_object_get(other, "party")), "A");
    EXPECT_STREQ(json_string_value(json_object_get(other, "type")), "operation");
    EXPECT_STREQ(json_string_value(json_object_get(other, "kind")), "strike");
    EXPECT(json_is_object(json_object_get(other, "geometry")));
    /* nothing else of A in B's view */
    char *txt = json_dumps(vb, 0);
    EXPECT(strstr(txt, "a-other") == NULL);
    EXPECT(strstr(txt, "Alpha") == NULL);
    free(txt);
    EXPECT_STREQ(json_string_value(json_object_get(json_object_get(vb, "mine"), "type")),
                 "unit");
    json_t *acks = json_object_get(vb, "acks");
    EXPECT(json_is_null(json_object_get(acks, "A")) && json_is_null(json_object_get(acks, "B")));
    /* A's view of the same conflict shows B's unit and no other B object */
    json_t *va = find_view(e, "A", "a-strike", "b-u1", "open");
    ASSERT(va != NULL);
    EXPECT_STREQ(json_string_value(json_object_get(va, "id")),
                 json_string_value(json_object_get(vb, "id")));
    txt = json_dumps(va, 0);
    EXPECT(strstr(txt, "b-u2") == NULL && strstr(txt, "b-site") == NULL);
    free(txt);
    /* a party that is not a side sees nothing */
    dc_conflict *c = dc_conflict_find(e, json_string_value(json_object_get(va, "id")));
    ASSERT(c != NULL);
    EXPECT(dc_conflict_view(e, c, "C") == NULL);
    const char *sa, *sb;
    dc_conflict_sides(c, &sa, &sb);
    EXPECT_STREQ(sa, "A");
    EXPECT_STREQ(sb, "B");
    json_decref(va);
    json_decref(vb);

    /* the hidden site comes into view for A only through a conflict:
     * widen the strike's warning band to reach it */
    dc_changes_free(&ch);
    dc_changes_init(&ch);
    EXPECT_EQ(replace_op(e, "A", op_body("a-strike", "strike", 500, 5000,
                                         disc_vol(0, 100, T0 + HOUR, T0 + 2 * HOUR, NAN, NAN),
                                         NULL),
                         T0, &ch),
              DC_OK);
    json_t *vs = find_view(e, "A", "a-strike", "b-site-hidden", "open");
    EXPECT(vs != NULL);
    if (vs) {
        EXPECT_STREQ(sev(vs), "warning");
        EXPECT_STREQ(json_string_value(json_object_get(json_object_get(vs, "other"), "type")),
                     "site");
    }
    json_decref(vs);
    l = dc_sites_json(e, "A");
    EXPECT_EQ(json_array_size(json_object_get(l, "sites")), 1); /* still not listed */
    json_decref(l);
    CHECK(e, T0);

    /* once the conflict is resolved (the unit moved away), A must not keep
     * tracking B's unit through its record of the resolved conflict (SPEC
     * 4: in a conflict P sees the other side's conflicting object and
     * nothing else of that party) */
    ASSERT_EQ(report(e, "B", "b-u1", 80000, 0, NAN, T0 + MIN, T0 + MIN, &ch), DC_OK);
    json_t *vr = find_view(e, "A", "a-strike", "b-u1", "resolved");
    EXPECT(vr != NULL);
    if (vr) {
        json_t *g = json_object_get(json_object_get(vr, "other"), "geometry");
        json_t *coords = json_object_get(g, "coordinates");
        double lon80, lat80;
        east(80000, &lon80, &lat80);
        int leaks = json_is_array(coords) &&
                    fabs(json_number_value(json_array_get(coords, 0)) - lon80) < 1e-6;
        if (leaks)
            TL_FAIL_("need-to-know: A's view of a resolved conflict shows B's unit at its "
                     "new position, 80 km away, reported after the conflict ended: %s",
                     "views.c view_object_for_conflict reads the live object");
    }
    json_decref(vr);
    CHECK(e, T0 + MIN);
    dc_changes_free(&ch);
    dc_error_clear(&err);
    dc_engine_free(e);
}

TEST(interlock_and_acks)
{
    dc_engine *e = engine3();
    dc_changes ch;
    dc_changes_init(&ch);
    dc_error err = {0};
    ASSERT_EQ(add_unit(e, "B", "u-crit", "ground"), DC_OK);
    ASSERT_EQ(add_unit(e, "B", "u-warn", "ground"), DC_OK);
    ASSERT_EQ(report(e, "B", "u-crit", 300, 0, NAN, T0, T0, &ch), DC_OK);
    ASSERT_EQ(report(e, "B", "u-warn", -700, 0, NAN, T0, T0, &ch), DC_OK);
    /* disc radius 100: u-crit at 200 m (critical), u-warn at 600 m (warning) */
    ASSERT_EQ(put_op(e, "A", op_body("s1", "strike", 500, 500,
                                     disc_vol(0, 100, T0 + HOUR, T0 + 2 * HOUR, NAN, NAN), NULL),
                     T0, &ch),
              DC_OK);
    EXPECT_EQ(count_changes(&ch, DC_CH_OPENED), 2);
    json_t *vc = find_view(e, "A", "s1", "u-crit", "open");
    json_t *vw = find_view(e, "A", "s1", "u-warn", "open");
    ASSERT(vc && vw);
    EXPECT_STREQ(sev(vc), "critical");
    EXPECT_STREQ(sev(vw), "warning");
    EXPECT_NEAR(json_real_value(json_object_get(vw, "distance_m")), 600, 0.11);
    char cid[32], wid[32];
    snprintf(cid, sizeof cid, "%s", json_string_value(json_object_get(vc, "id")));
    snprintf(wid, sizeof wid, "%s", json_string_value(json_object_get(vw, "id")));
    json_decref(vc);
    json_decref(vw);

    /* blocked, with the blocking conflict in detail */
    EXPECT_EQ(dc_operation_activate(e, "A", "s1", NULL, T0, &ch, &err), DC_ERR_STATE);
    json_t *blocking = err.detail ? json_object_get(err.detail, "blocking") : NULL;
    EXPECT_EQ(json_array_size(blocking), 1);
    EXPECT_STREQ(json_string_value(json_object_get(json_array_get(blocking, 0), "id")), cid);
    dc_error_clear(&err);
    /* an empty override reason does not override */
    EXPECT_EQ(dc_operation_activate(e, "A", "s1", "", T0, &ch, &err), DC_ERR_STATE);
    dc_error_clear(&err);

    /* ack errors */
    EXPECT_EQ(dc_conflict_ack(e, "C", cid, NULL, T0, &ch, &err), DC_ERR_FORBIDDEN);
    EXPECT_EQ(dc_conflict_ack(e, "A", "c-999", NULL, T0, &ch, &err), DC_ERR_NOTFOUND);
    EXPECT_EQ(dc_conflict_ack(e, "ZZ", cid, NULL, T0, &ch, &err), DC_ERR_NOTFOUND);
    /* one side is not enough */
    dc_changes_free(&ch);
    dc_changes_init(&ch);
    EXPECT_EQ(dc_conflict_ack(e, "A", cid, "seen", T0, &ch, &err), DC_OK);
    EXPECT_EQ(count_changes(&ch, DC_CH_ACKED), 1);
    EXPECT_STREQ(ch.n ? ch.v[0].by_party : "", "A");
    EXPECT_EQ(dc_operation_activate(e, "A", "s1", NULL, T0, &ch, &err), DC_ERR_STATE);
    dc_error_clear(&err);
    /* both sides: unblocked; the warning never blocked */
    EXPECT_EQ(dc_conflict_ack(e, "B", cid, NULL, T0, &ch, &err), DC_OK);
    vc = find_view(e, "B", "u-crit", "s1", "open");
    EXPECT(vc && json_is_string(json_object_get(json_object_get(vc, "acks"), "A")) &&
           json_is_string(json_object_get(json_object_get(vc, "acks"), "B")));
    json_decref(vc);
    EXPECT_EQ(dc_operation_activate(e, "A", "s1", NULL, T0, &ch, &err), DC_OK);
    json_t *o = NULL;
    EXPECT_EQ(dc_operation_json(e, "A", "s1", &o, &err), DC_OK);
    EXPECT_STREQ(json_string_value(json_object_get(o, "state")), "active");
    json_decref(o);
    EXPECT_EQ(dc_operation_activate(e, "A", "s1", NULL, T0, &ch, &err), DC_ERR_STATE);
    CHECK(e, T0);

    /* a replacement resets acknowledgements */
    EXPECT_EQ(replace_op(e, "A", op_body("s1", "strike", 500, 500,
                                         disc_vol(10, 100, T0 + HOUR, T0 + 2 * HOUR, NAN, NAN),
                                         NULL),
                         T0, &ch),
              DC_OK);
    vc = find_view(e, "B", "u-crit", "s1", "open");
    EXPECT(vc && json_is_null(json_object_get(json_object_get(vc, "acks"), "A")));
    json_decref(vc);

    /* override: a second strike, blocked, activated with a reason */
    dc_changes_free(&ch);
    dc_changes_init(&ch);
    ASSERT_EQ(put_op(e, "A", op_body("s2", "artillery", 400, 0,
                                     disc_vol(0, 100, T0 + HOUR, T0 + 2 * HOUR, NAN, NAN), NULL),
                     T0, &ch),
              DC_OK);
    dc_changes_free(&ch);
    dc_changes_init(&ch);
    EXPECT_EQ(dc_operation_activate(e, "A", "s2", "hostages at risk", T0, &ch, &err), DC_OK);
    EXPECT_EQ(count_changes(&ch, DC_CH_OVERRIDDEN), 1);
    EXPECT_STREQ(ch.n ? ch.v[0].by_party : "", "A");
    EXPECT_EQ(dc_operation_json(e, "A", "s2", &o, &err), DC_OK);
    EXPECT_STREQ(json_string_value(json_object_get(o, "state")), "active");
    EXPECT_STREQ(json_string_value(json_object_get(json_object_get(o, "override"), "reason")),
                 "hostages at risk");
    json_decref(o);
    CHECK(e, T0);

    /* a warning-only operation activates at once */
    dc_changes_free(&ch);
    dc_changes_init(&ch);
    ASSERT_EQ(put_op(e, "A", op_body("s3", "demolition", 0, 1000,
                                     disc_vol(0, 50, T0 + HOUR, T0 + 2 * HOUR, NAN, NAN), NULL),
                     T0, &ch),
              DC_OK);
    EXPECT(count_changes(&ch, DC_CH_OPENED) >= 1);
    EXPECT_EQ(dc_operation_activate(e, "A", "s3", NULL, T0, &ch, &err), DC_OK);
    EXPECT_EQ(count_changes(&ch, DC_CH_OVERRIDDEN), 0);

    /* resolved conflicts cannot be acknowledged */
    ASSERT_EQ(dc_unit_delete(e, "B", "u-warn", T0, &ch, &err), DC_OK);
    EXPECT_EQ(dc_conflict_ack(e, "A", wid, NULL, T0, &ch, &err), DC_ERR_STATE);
    dc_conflict *c = dc_conflict_find(e, wid);
    EXPECT(c && !dc_conflict_is_open(c));
    CHECK(e, T0);
    dc_error_clear(&err);
    dc_changes_free(&ch);
    dc_engine_free(e);
}

TEST(operation_states)
{
    dc_engine *e = engine3();
    dc_error err = {0};
    json_t *body = op_body("o1", "convoy", 0, NAN,
                           disc_vol(0, 100, T0 + HOUR, T0 + 2 * HOUR, NAN, NAN), NULL);
    EXPECT_EQ(put_op(e, "A", json_incref(body), T0, NULL), DC_OK);
    EXPECT_EQ(put_op(e, "A", json_incref(body), T0, NULL), DC_ERR_EXISTS);
    /* planned -> active -> ended: a plan is cancelled, not ended */
    EXPECT_EQ(dc_operation_end(e, "A", "o1", T0, NULL, &err), DC_ERR_STATE);
    EXPECT_EQ(dc_operation_activate(e, "A", "o1", NULL, T0, NULL, &err), DC_OK);
    EXPECT_EQ(dc_operation_end(e, "A", "o1", T0, NULL, &err), DC_OK);
    EXPECT_EQ(dc_operation_end(e, "A", "o1", T0, NULL, &err), DC_ERR_STATE);
    EXPECT_EQ(dc_operation_cancel(e, "A", "o1", T0, NULL, &err), DC_ERR_STATE);
    EXPECT_EQ(dc_operation_activate(e, "A", "o1", NULL, T0, NULL, &err), DC_ERR_STATE);
    EXPECT_EQ(replace_op(e, "A", json_incref(body), T0, NULL), DC_ERR_STATE);
    /* cancelled from planned and from active */
    json_object_set_new(body, "id", json_string("o2"));
    EXPECT_EQ(put_op(e, "A", json_incref(body), T0, NULL), DC_OK);
    EXPECT_EQ(dc_operation_cancel(e, "A", "o2", T0, NULL, &err), DC_OK);
    EXPECT_EQ(dc_operation_cancel(e, "A", "o2", T0, NULL, &err), DC_ERR_STATE);
    EXPECT_EQ(dc_operation_end(e, "A", "o2", T0, NULL, &err), DC_ERR_STATE);
    EXPECT_EQ(dc_operation_activate(e, "A", "o2", NULL, T0, NULL, &err), DC_ERR_STATE);
    EXPECT_EQ(replace_op(e, "A", json_incref(body), T0, NULL), DC_ERR_STATE);
    json_object_set_new(body, "id", json_string("o3"));
    EXPECT_EQ(put_op(e, "A", json_incref(body), T0, NULL), DC_OK);
    EXPECT_EQ(dc_operation_activate(e, "A", "o3", NULL, T0, NULL, &err), DC_OK);
    EXPECT_EQ(dc_operation_cancel(e, "A", "o3", T0, NULL, &err), DC_OK);
    json_t *o = NULL;
    EXPECT_EQ(dc_operation_json(e, "A", "o3", &o, &err), DC_OK);
    EXPECT_STREQ(json_string_value(json_object_get(o, "state")), "cancelled");
    json_decref(o);
    /* not someone else's */
    EXPECT_EQ(dc_operation_end(e, "B", "o3", T0, NULL, &err), DC_ERR_NOTFOUND);
    EXPECT_EQ(dc_operation_delete(e, "B", "o1", T0, NULL, &err), DC_ERR_NOTFOUND);
    EXPECT_EQ(dc_operation_delete(e, "A", "o1", T0, NULL, &err), DC_OK);
    EXPECT_EQ(dc_operation_delete(e, "A", "o1", T0, NULL, &err), DC_ERR_NOTFOUND);
    /* filed with every volume over: ended at once */
    json_t *past = op_body("o4", "convoy", 0, NAN,
                           disc_vol(0, 100, T0 - 2 * HOUR, T0 - HOUR, NAN, NAN), NULL);
    EXPECT_EQ(put_op(e, "A", past, T0, NULL), DC_OK);
    EXPECT_EQ(dc_operation_json(e, "A", "o4", &o, &err), DC_OK);
    EXPECT_STREQ(json_string_value(json_object_get(o, "state")), "ended");
    json_decref(o);
    /* validation names the field */
    json_t *bad = op_body("o5", "strike", 10, NAN,
                          disc_vol(0, 100, T0 + HOUR, T0 + HOUR, NAN, NAN), NULL);
    EXPECT_EQ(dc_operation_put(e, "A", NULL, bad, 1, T0, NULL, &err), DC_ERR_INVALID);
    EXPECT_STREQ(err.field, "volumes[0].end");
    json_decref(bad);
    bad = op_body("o5", "airstrike", 10, NAN, disc_vol(0, 100, T0, T0 + HOUR, NAN, NAN), NULL);
    EXPECT_EQ(dc_operation_put(e, "A", NULL, bad, 1, T0, NULL, &err), DC_ERR_INVALID);
    EXPECT_STREQ(err.field, "kind");
    json_decref(bad);
    bad = op_body("o5", "strike", 10, NAN, disc_vol(0, 0, T0, T0 + HOUR, NAN, NAN),
                  disc_vol(0, 0, T0, T0 + HOUR, NAN, NAN));
    EXPECT_EQ(dc_operation_put(e, "A", NULL, bad, 1, T0, NULL, &err), DC_ERR_INVALID);
    EXPECT_STREQ(err.field, "volumes[0].radius_m");
    json_decref(bad);
    bad = op_body("o5", "strike", -1, NAN, disc_vol(0, 10, T0, T0 + HOUR, NAN, NAN), NULL);
    EXPECT_EQ(dc_operation_put(e, "A", NULL, bad, 1, T0, NULL, &err), DC_ERR_INVALID);
    EXPECT_STREQ(err.field, "hazard_m");
    json_decref(bad);
    bad = op_body("o5", "strike", 1, NAN, disc_vol(0, 10, T0, T0 + HOUR, 500, 100), NULL);
    EXPECT_EQ(dc_operation_put(e, "A", NULL, bad, 1, T0, NULL, &err), DC_ERR_INVALID);
    EXPECT_CONTAINS(err.field, "volumes[0].");
    json_decref(bad);
    json_decref(body);
    dc_error_clear(&err);
    CHECK(e, T0);
    dc_engine_free(e);
}

/* Found by the black-box review: the interlock must hold when an active
 * operation is replaced, and an acknowledgement must not cover the other
 * side coming materially closer than when it was given. */
TEST(interlock_survives_changes)
{
    dc_engine *e = engine3();
    dc_error err = {0};
    dc_changes ch;
    dc_changes_init(&ch);
    ASSERT_EQ(add_unit(e, "B", "u1", "ground"), DC_OK);
    ASSERT_EQ(report(e, "B", "u1", 5000, 0, NAN, T0, T0, NULL), DC_OK);
    /* filed far from the unit, activated with nothing in the way */
    ASSERT_EQ(put_op(e, "A", op_body("s", "strike", 300, 0,
                                     disc_vol(50000, 100, T0 + HOUR, T0 + 2 * HOUR, NAN, NAN),
                                     NULL),
                     T0, NULL),
              DC_OK);
    ASSERT_EQ(dc_operation_activate(e, "A", "s", NULL, T0, NULL, &err), DC_OK);
    /* moved onto the unit: critical, unacknowledged, so planned again */
    ASSERT_EQ(replace_op(e, "A",
                         op_body("s", "strike", 300, 0,
                                 disc_vol(5200, 100, T0 + HOUR, T0 + 2 * HOUR, NAN, NAN), NULL),
                         T0, NULL),
              DC_OK);
    json_t *o = NULL;
    ASSERT_EQ(dc_operation_json(e, "A", "s", &o, &err), DC_OK);
    EXPECT_STREQ(json_string_value(json_object_get(o, "state")), "planned");
    json_decref(o);
    EXPECT_EQ(dc_operation_activate(e, "A", "s", NULL, T0, NULL, &err), DC_ERR_STATE);
    dc_error_clear(&err);
    json_t *v = find_view(e, "A", "s", "u1", "open");
    ASSERT(v != NULL);
    const char *cid = json_string_value(json_object_get(v, "id"));
    char id[32];
    snprintf(id, sizeof id, "%s", cid);
    EXPECT(fabs(json_number_value(json_object_get(v, "distance_m")) - 100) < 1);
    json_decref(v);
    ASSERT_EQ(dc_conflict_ack(e, "A", id, NULL, T0, NULL, &err), DC_OK);
    ASSERT_EQ(dc_conflict_ack(e, "B", id, NULL, T0, NULL, &err), DC_OK);
    /* a small move (5 m closer) changes nothing and keeps the acks */
    ASSERT_EQ(report(e, "B", "u1", 5005, 0, NAN, T0 + 1, T0 + 1, &ch), DC_OK);
    EXPECT_EQ(count_changes(&ch, DC_CH_CHANGED), 0);
    dc_changes_free(&ch);
    dc_changes_init(&ch);
    /* walking into the volume: both sides are told and must acknowledge
     * again before the strike can go active */
    ASSERT_EQ(report(e, "B", "u1", 5200, 0, NAN, T0 + 2, T0 + 2, &ch), DC_OK);
    EXPECT_EQ(count_changes(&ch, DC_CH_CHANGED), 1);
    EXPECT_EQ(dc_operation_activate(e, "A", "s", NULL, T0 + 2, NULL, &err), DC_ERR_STATE);
    dc_error_clear(&err);
    ASSERT_EQ(dc_conflict_ack(e, "A", id, NULL, T0 + 2, NULL, &err), DC_OK);
    ASSERT_EQ(dc_conflict_ack(e, "B", id, NULL, T0 + 2, NULL, &err), DC_OK);
    EXPECT_EQ(dc_operation_activate(e, "A", "s", NULL, T0 + 2, NULL, &err), DC_OK);
    /* replaced while active with its acknowledged conflict: acks reset, so
     * it drops back to planned */
    ASSERT_EQ(replace_op(e, "A",
                         op_body("s", "strike", 300, 0,
                                 disc_vol(5150, 100, T0 + HOUR, T0 + 2 * HOUR, NAN, NAN), NULL),
                         T0 + 3, NULL),
              DC_OK);
    ASSERT_EQ(dc_operation_json(e, "A", "s", &o, &err), DC_OK);
    EXPECT_STREQ(json_string_value(json_object_get(o, "state")), "planned");
    json_decref(o);
    CHECK(e, T0 + 3);
    dc_changes_free(&ch);
    dc_error_clear(&err);
    dc_engine_free(e);
}

TEST(position_batches)
{
    dc_engine *e = engine3();
    dc_error err = {0};
    dc_changes ch;
    dc_changes_init(&ch);
    size_t acc = 99;
    ASSERT_EQ(add_unit(e, "B", "u1", "ground"), DC_OK);
    ASSERT_EQ(add_unit(e, "B", "u2", "ground"), DC_OK);
    json_t *b = json_loads("{\"reports\":["
                           "{\"unit\":\"u1\",\"lon\":37.5,\"lat\":36.4,\"time\":\"2017-02-09T04:00:00Z\"},"
                           "{\"unit\":\"u2\",\"lon\":37.5,\"lat\":96.4,\"time\":\"2017-02-09T04:00:00Z\"}]}",
                           0, NULL);
    EXPECT_EQ(dc_positions_report(e, "B", b, T0, &acc, &ch, &err), DC_ERR_INVALID);
    EXPECT_STREQ(err.field, "reports[1].lat");
    EXPECT_EQ(acc, 0);
    json_decref(b);
    /* nothing applied: u1 has no position */
    json_t *u = NULL;
    EXPECT_EQ(dc_unit_json(e, "B", "u1", T0, &u, &err), DC_OK);
    EXPECT(json_is_null(json_object_get(u, "position")));
    json_decref(u);
    static const struct {
        const char *report, *field;
    } bad[] = {
        {"{\"unit\":\"nope\",\"lon\":1,\"lat\":1,\"time\":\"2017-02-09T04:00:00Z\"}", "reports[2].unit"},
        {"{\"unit\":\"u1\",\"lon\":181,\"lat\":1,\"time\":\"2017-02-09T04:00:00Z\"}", "reports[2].lon"},
        {"{\"unit\":\"u1\",\"lon\":1,\"lat\":1,\"ce_m\":-1,\"time\":\"2017-02-09T04:00:00Z\"}", "reports[2].ce_m"},
        {"{\"unit\":\"u1\",\"lon\":1,\"lat\":1,\"time\":\"yesterday\"}", "reports[2].time"},
        {"{\"unit\":\"u1\",\"lon\":1,\"lat\":1}", "reports[2].time"},
        {"{\"unit\":\"u1\",\"lon\":\"1\",\"lat\":1,\"time\":\"2017-02-09T04:00:00Z\"}", "reports[2].lon"},
        {"{\"unit\":\"u1\",\"lon\":1,\"lat\":1,\"alt_m\":\"high\",\"time\":\"2017-02-09T04:00:00Z\"}", "reports[2].alt_m"},
        {"{\"unit\":\"u1\",\"lon\":1,\"lat\":1,\"speed\":3,\"time\":\"2017-02-09T04:00:00Z\"}", "reports[2].speed"},
        {"{\"unit\":\"u1\",\"lon\":1,\"lat\":1,\"time\":\"2017-02-09T04:01:00.000001Z\"}", "reports[2].time"},
        {"[1,2]", "reports[2]"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char txt[1024];
        snprintf(txt, sizeof txt,
                 "{\"reports\":[{\"unit\":\"u1\",\"lon\":37.5,\"lat\":36.4,\"time\":"
                 "\"2017-02-09T04:00:00Z\"},{\"unit\":\"u2\",\"lon\":37.5,\"lat\":36.4,"
                 "\"time\":\"2017-02-09T04:00:00Z\"},%s]}",
                 bad[i].report);
        b = json_loads(txt, 0, NULL);
        ASSERT(b != NULL);
        acc = 99;
        dc_status rc = dc_positions_report(e, "B", b, T0, &acc, &ch, &err);
        EXPECT_EQ(rc, DC_ERR_INVALID);
        EXPECT_STREQ(err.field, bad[i].field);
        EXPECT_EQ(acc, 0);
        json_decref(b);
    }
    /* exactly 60 s ahead is fine; a unit of another party is unknown */
    EXPECT_EQ(report(e, "B", "u1", 0, 0, NAN, T0 + MIN, T0, &ch), DC_OK);
    EXPECT_EQ(report(e, "B", "u1", 0, 0, NAN, T0 + MIN + 1, T0, &ch), DC_ERR_INVALID);
    EXPECT_EQ(report(e, "A", "u1", 0, 0, NAN, T0, T0, &ch), DC_ERR_INVALID);
    /* malformed bodies */
    b = json_loads("{\"reports\":{}}", 0, NULL);
    EXPECT_EQ(dc_positions_report(e, "B", b, T0, &acc, &ch, &err), DC_ERR_MALFORMED);
    json_decref(b);
    b = json_loads("{\"reports\":[],\"x\":1}", 0, NULL);
    EXPECT(dc_positions_report(e, "B", b, T0, &acc, &ch, &err) != DC_OK);
    json_decref(b);
    b = json_loads("{\"reports\":[]}", 0, NULL);
    EXPECT_EQ(dc_positions_report(e, "B", b, T0, &acc, &ch, &err), DC_OK);
    EXPECT_EQ(acc, 0);
    json_decref(b);

    /* an older report is recorded but does not move the unit */
    EXPECT_EQ(report(e, "B", "u2", 1000, 5, NAN, T0, T0, &ch), DC_OK);
    double lon1000, lat1000;
    east(1000, &lon1000, &lat1000);
    b = json_pack("{s:[{s:s,s:f,s:f,s:s}]}", "reports", "unit", "u2", "lon", 10.0, "lat", 10.0,
                  "time", iso(T0 - MIN));
    EXPECT_EQ(dc_positions_report(e, "B", b, T0, &acc, &ch, &err), DC_OK);
    EXPECT_EQ(acc, 1);
    json_decref(b);
    EXPECT_EQ(dc_unit_json(e, "B", "u2", T0, &u, &err), DC_OK);
    json_t *p = json_object_get(u, "position");
    EXPECT_NEAR(json_real_value(json_object_get(p, "lon")), lon1000, 1e-9);
    EXPECT_STREQ(json_string_value(json_object_get(p, "time")), iso(T0));
    json_decref(u);
    CHECK(e, T0);
    dc_changes_free(&ch);
    dc_error_clear(&err);
    dc_engine_free(e);
}

TEST(unit_rules)
{
    dc_engine *e = engine3();
    dc_changes ch;
    dc_changes_init(&ch);
    dc_error err = {0};
    const char *ids[] = {"air-in", "air-below", "air-above", "air-on-lo", "air-on-hi",
                         "air-noalt", "sea", "own"};
    for (int i = 0; i < 7; i++)
        ASSERT_EQ(add_unit(e, "B", ids[i], i == 6 ? "sea" : "air"), DC_OK);
    ASSERT_EQ(add_unit(e, "A", "own", "ground"), DC_OK);
    double alts[] = {3000, 999.9, 5000.1, 1000, 5000, NAN, NAN};
    for (int i = 0; i < 7; i++)
        ASSERT_EQ(report(e, "B", ids[i], 100, 0, alts[i], T0, T0, &ch), DC_OK);
    ASSERT_EQ(report(e, "A", "own", 100, 0, NAN, T0, T0, &ch), DC_OK);
    ASSERT_EQ(put_op(e, "A", op_body("s", "strike", 200, 0,
                                     disc_vol(0, 50, T0 + HOUR, T0 + 2 * HOUR, 1000, 5000), NULL),
                     T0, &ch),
              DC_OK);
    int expect[] = {1, 0, 0, 1, 1, 1, 1};
    for (int i = 0; i < 7; i++) {
        json_t *v = find_view(e, "A", "s", ids[i], "open");
        if ((v != NULL) != expect[i])
            TL_FAIL_("unit %s: conflict %s, expected %s", ids[i], v ? "open" : "none",
                     expect[i] ? "open" : "none");
        json_decref(v);
    }
    EXPECT(!has_view(e, "A", "s", "own", "open")); /* same party */
    /* moving in altitude opens and resolves */
    ASSERT_EQ(report(e, "B", "air-below", 100, 0, 1200, T0 + 1, T0 + 1, &ch), DC_OK);
    json_t *v = find_view(e, "A", "s", "air-below", "open");
    EXPECT(v != NULL);
    json_decref(v);
    ASSERT_EQ(report(e, "B", "air-in", 100, 0, 9000, T0 + 1, T0 + 1, &ch), DC_OK);
    v = find_view(e, "A", "s", "air-in", "open");
    EXPECT(v == NULL);
    json_decref(v);
    /* a non-hazardous operation never conflicts with units */
    ASSERT_EQ(put_op(e, "A", op_body("t", "air-transit", 0, 5000,
                                     disc_vol(0, 50, T0 + HOUR, T0 + 2 * HOUR, NAN, NAN), NULL),
                     T0 + 1, &ch),
              DC_OK);
    v = find_view(e, "A", "t", "sea", "open");
    EXPECT(v == NULL);
    json_decref(v);
    CHECK(e, T0 + 1);

    /* the volume's window must end after the report time */
    ASSERT_EQ(add_unit(e, "B", "late", "ground"), DC_OK);
    ASSERT_EQ(add_unit(e, "B", "early", "ground"), DC_OK);
    ASSERT_EQ(put_op(e, "A", op_body("s-end", "strike", 100, 0,
                                     disc_vol(20000, 50, T0 - HOUR, T0 + 30 * DC_USEC, NAN, NAN),
                                     NULL),
                     T0 + 1, &ch),
              DC_OK);
    ASSERT_EQ(report(e, "B", "late", 20000, 0, NAN, T0 + 50 * DC_USEC, T0 + 1, &ch), DC_OK);
    ASSERT_EQ(report(e, "B", "early", 20000, 0, NAN, T0 + 10 * DC_USEC, T0 + 1, &ch), DC_OK);
    v = find_view(e, "A", "s-end", "late", "open");
    EXPECT(v == NULL);
    json_decref(v);
    v = find_view(e, "A", "s-end", "early", "open");
    EXPECT(v != NULL);
    json_decref(v);
    CHECK(e, T0 + 1);
    /* the threshold is closed: hazard + warning exactly */
    ASSERT_EQ(add_unit(e, "B", "edge", "ground"), DC_OK);
    ASSERT_EQ(put_op(e, "A", op_body("s-far", "strike", 300, 200,
                                     disc_vol(40000, 100, T0 + HOUR, T0 + 2 * HOUR, NAN, NAN),
                                     NULL),
                     T0 + 1, &ch),
              DC_OK);
    ASSERT_EQ(report(e, "B", "edge", 40000 + 100 + 500 - 0.5, 0, NAN, T0, T0 + 1, &ch), DC_OK);
    v = find_view(e, "A", "s-far", "edge", "open");
    EXPECT_STREQ(sev(v), "warning");
    json_decref(v);
    ASSERT_EQ(report(e, "B", "edge", 40000 + 100 + 500 + 2, 0, NAN, T0 + 2, T0 + 2, &ch), DC_OK);
    v = find_view(e, "A", "s-far", "edge", "open");
    EXPECT(v == NULL);
    json_decref(v);
    ASSERT_EQ(report(e, "B", "edge", 40000 + 100 + 300 - 0.5, 0, NAN, T0 + 3, T0 + 3, &ch), DC_OK);
    v = find_view(e, "A", "s-far", "edge", "open");
    EXPECT_STREQ(sev(v), "critical");
    json_decref(v);
    /* ce_m counts: 2 km from the centre, volume radius 100 and a 1.5 km
     * circle: 400 m apart */
    ASSERT_EQ(report(e, "B", "edge", 40000 + 2000, 1500, NAN, T0 + 4, T0 + 4, &ch), DC_OK);
    v = find_view(e, "A", "s-far", "edge", "open");
    EXPECT_STREQ(sev(v), "warning");
    if (v)
        EXPECT_NEAR(json_real_value(json_object_get(v, "distance_m")), 400, 0.11);
    json_decref(v);
    CHECK(e, T0 + 4);
    dc_changes_free(&ch);
    dc_error_clear(&err);
    dc_engine_free(e);
}

TEST(windows_and_bands)
{
    dc_engine *e = engine3();
    dc_changes ch;
    dc_changes_init(&ch);
    /* A's artillery over [T0+1h, T0+2h) at 0..1000 m */
    ASSERT_EQ(put_op(e, "A", op_body("art", "artillery", 500, 0,
                                     disc_vol(0, 100, T0 + HOUR, T0 + 2 * HOUR, 0, 1000), NULL),
                     T0, &ch),
              DC_OK);
    struct {
        const char *id;
        dc_time s, e;
        double lo, hi;
        int want;
    } cases[] = {
        {"touch-after", T0 + 2 * HOUR, T0 + 3 * HOUR, NAN, NAN, 0},
        {"touch-before", T0, T0 + HOUR, NAN, NAN, 0},
        {"overlap-1us", T0 + 2 * HOUR - 1, T0 + 3 * HOUR, NAN, NAN, 1},
        {"band-touch", T0 + HOUR, T0 + 2 * HOUR, 1000, 2000, 1},
        {"band-below", T0 + HOUR, T0 + 2 * HOUR, -500, -0.001, 0},
        {"band-above", T0 + HOUR, T0 + 2 * HOUR, 1000.001, 2000, 0},
        {"band-touch-lo", T0 + HOUR, T0 + 2 * HOUR, NAN, 0, 1},
        {"unbounded", T0 + HOUR, T0 + 2 * HOUR, NAN, NAN, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        ASSERT_EQ(put_op(e, "B", op_body(cases[i].id, "convoy", 0, NAN,
                                         disc_vol(300, 10, cases[i].s, cases[i].e, cases[i].lo,
                                                  cases[i].hi),
                                         NULL),
                         T0, &ch),
                  DC_OK);
        json_t *v = find_view(e, "A", "art", cases[i].id, "open");
        if ((v != NULL) != cases[i].want)
            TL_FAIL_("%s: conflict %s, expected %s", cases[i].id, v ? "open" : "none",
                     cases[i].want ? "open" : "none");
        json_decref(v);
    }
    CHECK(e, T0);
    /* sites: validity half-open against the volume's window */
    struct {
        const char *id;
        dc_time from, to;
        int want;
    } sites[] = {
        {"site-ends-at-start", 0, T0 + HOUR, 0},
        {"site-starts-at-end", T0 + 2 * HOUR, 0, 0},
        {"site-overlaps", T0 + 2 * HOUR - 1, 0, 1},
        {"site-always", 0, 0, 1},
        {"site-during", T0 + HOUR + MIN, T0 + HOUR + 2 * MIN, 1},
    };
    for (size_t i = 0; i < sizeof sites / sizeof *sites; i++) {
        ASSERT_EQ(add_site(e, "C", sites[i].id, 300, 10, 0, NULL, sites[i].from, sites[i].to, T0,
                           &ch),
                  DC_OK);
        json_t *v = find_view(e, "A", "art", sites[i].id, "open");
        if ((v != NULL) != sites[i].want)
            TL_FAIL_("%s: conflict %s, expected %s", sites[i].id, v ? "open" : "none",
                     sites[i].want ? "open" : "none");
        json_decref(v);
    }
    /* a site whose validity is over opens nothing */
    ASSERT_EQ(add_site(e, "C", "site-past", 300, 10, 0, NULL, T0 - 2 * HOUR, T0, T0, &ch), DC_OK);
    EXPECT(!has_view(e, "A", "art", "site-past", "open"));
    /* standoff counts toward the threshold and severity */
    ASSERT_EQ(add_site(e, "C", "site-standoff", 1000, 10, 500, NULL, 0, 0, T0, &ch), DC_OK);
    json_t *v = find_view(e, "A", "art", "site-standoff", "open");
    /* separation 1000 - 100 - 10 = 890 <= 500 + 500 + 0: critical */
    EXPECT_STREQ(sev(v), "critical");
    if (v)
        EXPECT_NEAR(json_real_value(json_object_get(v, "distance_m")), 890, 0.11);
    json_decref(v);
    CHECK(e, T0);
    /* the clock ends the site-during window... and its conflict */
    dc_changes_free(&ch);
    dc_changes_init(&ch);
    ASSERT_EQ(dc_advance(e, T0 + HOUR + 2 * MIN, &ch), DC_OK);
    EXPECT(!has_view(e, "A", "art", "site-during", "open"));
    EXPECT(has_view(e, "A", "art", "site-always", "open"));
    EXPECT(count_changes(&ch, DC_CH_RESOLVED) >= 1);
    CHECK(e, T0 + HOUR + 2 * MIN);
    dc_changes_free(&ch);
    dc_engine_free(e);
}

TEST(operation_pairs)
{
    dc_engine *e = engine3();
    dc_changes ch;
    dc_changes_init(&ch);
    dc_time s = T0 + HOUR, f = T0 + 2 * HOUR;
    /* air-transit pairs: the larger warning_m; critical only at 0 */
    ASSERT_EQ(put_op(e, "A", op_body("at-a", "air-transit", 0, 100,
                                     disc_vol(0, 100, s, f, NAN, NAN), NULL),
                     T0, &ch),
              DC_OK);
    ASSERT_EQ(put_op(e, "B", op_body("at-b", "air-transit", 0, 500,
                                     disc_vol(500, 100, s, f, NAN, NAN), NULL),
                     T0, &ch),
              DC_OK); /* separation 300 */
    json_t *v = find_view(e, "A", "at-a", "at-b", "open");
    if (!v)
        v = find_view(e, "B", "at-b", "at-a", "open");
    EXPECT_STREQ(sev(v), "warning");
    json_decref(v);
    ASSERT_EQ(replace_op(e, "B", op_body("at-b", "air-transit", 0, 200,
                                         disc_vol(500, 100, s, f, NAN, NAN), NULL),
                         T0, &ch),
              DC_OK); /* larger warning 200 < 300 */
    EXPECT_EQ(n_open(e, "A"), 0);
    ASSERT_EQ(replace_op(e, "B", op_body("at-b", "air-transit", 0, 200,
                                         disc_vol(150, 100, s, f, NAN, NAN), NULL),
                         T0, &ch),
              DC_OK); /* overlapping: 0 */
    EXPECT_EQ(n_open(e, "A"), 1);
    json_t *l = dc_conflicts_json(e, "A", "open");
    EXPECT_STREQ(sev(json_array_get(json_object_get(l, "conflicts"), 0)), "critical");
    json_decref(l);
    /* other non-hazardous pairs never conflict, even overlapping */
    ASSERT_EQ(put_op(e, "C", op_body("cv", "convoy", 0, 1000, disc_vol(0, 100, s, f, NAN, NAN),
                                     NULL),
                     T0, &ch),
              DC_OK);
    ASSERT_EQ(put_op(e, "C", op_body("gm", "ground-move", 0, 1000,
                                     disc_vol(0, 100, s, f, NAN, NAN), NULL),
                     T0, &ch),
              DC_OK);
    EXPECT_EQ(n_open(e, "C"), 0);
    CHECK(e, T0);
    dc_engine_free(e);
    dc_changes_free(&ch);

    /* hazardous pairs: max hazard + max warning */
    e = engine3();
    dc_changes_init(&ch);
    ASSERT_EQ(put_op(e, "A", op_body("h-a", "strike", 100, 50, disc_vol(0, 100, s, f, NAN, NAN),
                                     NULL),
                     T0, &ch),
              DC_OK);
    /* B's artillery hazard 400 warning 200: T = 600, critical at <= 400 */
    double seps[] = {550, 350, 650, 599.5, 401};
    const char *want[] = {"warning", "critical", NULL, "warning", "warning"};
    for (int i = 0; i < 5; i++) {
        ASSERT_EQ(put_op(e, "B", op_body(i == 0 ? "h-b0" : i == 1 ? "h-b1" : i == 2 ? "h-b2"
                                                 : i == 3 ? "h-b3" : "h-b4",
                                         "artillery", 400, 200,
                                         disc_vol(seps[i] + 200, 100, s, f, NAN, NAN), NULL),
                         T0, &ch),
                  DC_OK);
        char id[8];
        snprintf(id, sizeof id, "h-b%d", i);
        v = find_view(e, "A", "h-a", id, "open");
        if (!v)
            v = find_view(e, "B", id, "h-a", "open");
        if (want[i] == NULL ? v != NULL : !v || strcmp(sev(v), want[i]) != 0)
            TL_FAIL_("hazardous pair at %.1f m: %s, expected %s", seps[i], v ? sev(v) : "none",
                     want[i] ? want[i] : "none");
        if (v && want[i])
            EXPECT_NEAR(json_real_value(json_object_get(v, "distance_m")), seps[i], 0.11);
        json_decref(v);
    }
    /* hazardous x non-hazardous: the hazardous one's hazard + warning */
    ASSERT_EQ(put_op(e, "C", op_body("cv1", "convoy", 0, 5000,
                                     disc_vol(100 + 149 + 100, 100, s, f, NAN, NAN), NULL),
                     T0, &ch),
              DC_OK); /* 149 from h-a: warning */
    ASSERT_EQ(put_op(e, "C", op_body("cv2", "convoy", 0, 5000,
                                     disc_vol(100 + 151 + 100, 100, s, f, NAN, NAN), NULL),
                     T0, &ch),
              DC_OK); /* 151 from h-a: none */
    v = find_view(e, "A", "h-a", "cv1", "open");
    EXPECT_STREQ(sev(v), "warning");
    json_decref(v);
    v = find_view(e, "A", "h-a", "cv2", "open");
    EXPECT(v == NULL);
    json_decref(v);
    /* same party never conflicts */
    ASSERT_EQ(put_op(e, "A", op_body("h-a2", "strike", 1000, 1000,
                                     disc_vol(0, 100, s, f, NAN, NAN), NULL),
                     T0, &ch),
              DC_OK);
    v = find_view(e, "A", "h-a2", "h-a", "open");
    EXPECT(v == NULL);
    json_decref(v);
    CHECK(e, T0);
    dc_changes_free(&ch);
    dc_engine_free(e);
}

TEST(clock_ends_and_stale)
{
    dc_engine *e = dc_engine_new();
    dc_error err = {0};
    dc_party_add(e, "A", "Alpha", 0, &err);
    dc_party_add(e, "B", "Bravo", 100, &err); /* stale after 100 s */
    dc_changes ch;
    dc_changes_init(&ch);
    ASSERT_EQ(add_unit(e, "B", "u", "ground"), DC_OK);
    ASSERT_EQ(report(e, "B", "u", 150, 0, NAN, T0, T0, &ch), DC_OK);
    /* two volumes: the op ends when the later one ends */
    ASSERT_EQ(put_op(e, "A", op_body("s", "strike", 100, 0,
                                     disc_vol(0, 100, T0, T0 + HOUR, NAN, NAN),
                                     disc_vol(5000, 100, T0, T0 + 2 * HOUR, NAN, NAN)),
                     T0, &ch),
              DC_OK);
    json_t *v = find_view(e, "B", "u", "s", "open");
    ASSERT(v != NULL);
    EXPECT(json_is_false(json_object_get(v, "stale")));
    char id[32];
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(v, "id")));
    json_decref(v);
    dc_changes_free(&ch);
    dc_changes_init(&ch);
    ASSERT_EQ(dc_advance(e, T0 + 100 * DC_USEC, &ch), DC_OK);
    v = find_view(e, "B", "u", "s", "open");
    EXPECT(v && json_is_false(json_object_get(v, "stale")));
    json_decref(v);
    EXPECT_EQ(count_changes(&ch, DC_CH_CHANGED), 0);
    ASSERT_EQ(dc_advance(e, T0 + 101 * DC_USEC, &ch), DC_OK);
    v = find_view(e, "B", "u", "s", "open");
    EXPECT(v && json_is_true(json_object_get(v, "stale")));
    json_decref(v);
    EXPECT_EQ(count_changes(&ch, DC_CH_CHANGED), 1);
    json_t *u = NULL;
    EXPECT_EQ(dc_unit_json(e, "B", "u", T0 + 101 * DC_USEC, &u, &err), DC_OK);
    EXPECT(json_is_true(json_object_get(u, "stale")));
    json_decref(u);
    CHECK(e, T0 + 101 * DC_USEC);
    /* a fresh report clears it */
    dc_changes_free(&ch);
    dc_changes_init(&ch);
    ASSERT_EQ(report(e, "B", "u", 150, 0, NAN, T0 + 2 * MIN, T0 + 2 * MIN, &ch), DC_OK);
    v = find_view(e, "B", "u", "s", "open");
    EXPECT(v && json_is_false(json_object_get(v, "stale")));
    json_decref(v);
    EXPECT_EQ(count_changes(&ch, DC_CH_CHANGED), 1);
    /* the first volume ends: the conflict (only with it) resolves; the
     * operation goes on */
    dc_changes_free(&ch);
    dc_changes_init(&ch);
    ASSERT_EQ(dc_advance(e, T0 + HOUR, &ch), DC_OK);
    EXPECT_EQ(count_changes(&ch, DC_CH_RESOLVED), 1);
    dc_conflict *c = dc_conflict_find(e, id);
    EXPECT(c && !dc_conflict_is_open(c));
    json_t *o = NULL;
    EXPECT_EQ(dc_operation_json(e, "A", "s", &o, &err), DC_OK);
    EXPECT_STREQ(json_string_value(json_object_get(o, "state")), "planned");
    json_decref(o);
    CHECK(e, T0 + HOUR);
    /* a unit near the second volume conflicts until it ends */
    ASSERT_EQ(report(e, "B", "u", 5150, 0, NAN, T0 + HOUR, T0 + HOUR, &ch), DC_OK);
    EXPECT_EQ(n_open(e, "B"), 1);
    dc_changes_free(&ch);
    dc_changes_init(&ch);
    ASSERT_EQ(dc_advance(e, T0 + 2 * HOUR, &ch), DC_OK);
    EXPECT_EQ(n_open(e, "B"), 0);
    EXPECT_EQ(count_changes(&ch, DC_CH_RESOLVED), 1);
    EXPECT_EQ(dc_operation_json(e, "A", "s", &o, &err), DC_OK);
    EXPECT_STREQ(json_string_value(json_object_get(o, "state")), "ended");
    json_decref(o);
    EXPECT_EQ(dc_operation_activate(e, "A", "s", NULL, T0 + 2 * HOUR, &ch, &err), DC_ERR_STATE);
    /* the clock never goes back */
    ASSERT_EQ(dc_advance(e, T0, &ch), DC_OK);
    CHECK(e, T0 + 2 * HOUR);
    dc_changes_free(&ch);
    dc_error_clear(&err);
    dc_engine_free(e);
}

TEST(moves_deletes_and_check)
{
    dc_engine *e = engine3();
    dc_error err = {0};
    dc_changes ch;
    dc_changes_init(&ch);
    ASSERT_EQ(add_unit(e, "B", "u", "ground"), DC_OK);
    ASSERT_EQ(report(e, "B", "u", 50000, 0, NAN, T0, T0, &ch), DC_OK);
    ASSERT_EQ(put_op(e, "A", op_body("s", "strike", 500, 0,
                                     disc_vol(0, 100, T0 + HOUR, T0 + 2 * HOUR, NAN, NAN), NULL),
                     T0, &ch),
              DC_OK);
    EXPECT_EQ(n_open(e, "A"), 0);
    /* dc_check: what a draft would open, nothing stored */
    json_t *draft = op_body("draft-1", "strike", 500, 0,
                            disc_vol(50000, 100, T0 + HOUR, T0 + 2 * HOUR, NAN, NAN), NULL);
    json_t *out = NULL;
    EXPECT_EQ(dc_check(e, "A", draft, T0, &out, &err), DC_OK);
    EXPECT_EQ(json_array_size(json_object_get(out, "conflicts")), 1);
    json_decref(out);
    json_decref(draft);
    EXPECT_EQ(n_open(e, "A"), 0);
    dc_stats st;
    dc_engine_stats(e, &st);
    EXPECT_EQ(st.operations, 1);
    CHECK(e, T0);
    /* moving in and out opens and resolves */
    dc_changes_free(&ch);
    dc_changes_init(&ch);
    ASSERT_EQ(report(e, "B", "u", 400, 0, NAN, T0 + 1, T0 + 1, &ch), DC_OK);
    EXPECT_EQ(count_changes(&ch, DC_CH_OPENED), 1);
    ASSERT_EQ(report(e, "B", "u", 450, 0, NAN, T0 + 2, T0 + 2, &ch), DC_OK);
    json_t *v = find_view(e, "B", "u", "s", "open");
    if (v)
        EXPECT_NEAR(json_real_value(json_object_get(v, "distance_m")), 350, 0.11);
    json_decref(v);
    ASSERT_EQ(report(e, "B", "u", 20000, 0, NAN, T0 + 3, T0 + 3, &ch), DC_OK);
    EXPECT_EQ(count_changes(&ch, DC_CH_RESOLVED), 1);
    CHECK(e, T0 + 3);
    /* replace the op onto the unit, then delete the unit */
    ASSERT_EQ(replace_op(e, "A", op_body("s", "strike", 500, 0,
                                         disc_vol(20000, 100, T0 + HOUR, T0 + 2 * HOUR, NAN, NAN),
                                         NULL),
                         T0 + 3, &ch),
              DC_OK);
    EXPECT_EQ(n_open(e, "B"), 1);
    CHECK(e, T0 + 3);
    ASSERT_EQ(dc_unit_delete(e, "B", "u", T0 + 3, &ch, &err), DC_OK);
    EXPECT_EQ(n_open(e, "B"), 0);
    EXPECT_EQ(dc_unit_delete(e, "B", "u", T0 + 3, &ch, &err), DC_ERR_NOTFOUND);
    CHECK(e, T0 + 3);
    /* sites: delete resolves; a replaced site keeps its conflict id */
    ASSERT_EQ(add_site(e, "C", "site", 20300, 10, 0, NULL, 0, 0, T0 + 3, &ch), DC_OK);
    v = find_view(e, "C", "site", "s", "open");
    ASSERT(v != NULL);
    char id[32];
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(v, "id")));
    json_decref(v);
    double lon, lat;
    east(20310, &lon, &lat);
    json_t *b = json_pack("{s:s,s:s,s:{s:s,s:[f,f]},s:f}", "id", "site", "category", "school",
                          "geometry", "type", "Point", "coordinates", lon, lat, "radius_m", 10.0);
    EXPECT_EQ(dc_site_put(e, "C", "site", b, 0, T0 + 3, &ch, &err), DC_OK);
    json_decref(b);
    v = find_view(e, "C", "site", "s", "open");
    EXPECT(v && strcmp(json_string_value(json_object_get(v, "id")), id) == 0);
    json_decref(v);
    EXPECT_EQ(dc_site_delete(e, "C", "site", T0 + 3, &ch, &err), DC_OK);
    EXPECT_EQ(n_open(e, "C"), 0);
    CHECK(e, T0 + 3);
    /* deleting the operation resolves its conflicts */
    ASSERT_EQ(add_unit(e, "B", "u2", "sea"), DC_OK);
    ASSERT_EQ(report(e, "B", "u2", 20000, 0, NAN, T0 + 3, T0 + 3, &ch), DC_OK);
    EXPECT_EQ(n_open(e, "A"), 1);
    EXPECT_EQ(dc_operation_delete(e, "A", "s", T0 + 3, &ch, &err), DC_OK);
    EXPECT_EQ(n_open(e, "A"), 0);
    EXPECT_EQ(n_open(e, "B"), 0);
    CHECK(e, T0 + 3);
    dc_error_clear(&err);
    dc_changes_free(&ch);
    dc_engine_free(e);
}

/* The same calls in two engines give the same conflict ids. */
/* A report with a huge error circle gives the unit a huge index box; an
 * accurate report hundreds of km away can stay inside it, so the unit's
 * neighbour list must bound the geodesic by more than the chord (which is
 * 750 m short at 900 km). Found by review: the conflict used to resolve. */
TEST(neighbour_list_in_a_huge_box)
{
    dc_engine *e = engine3();
    ASSERT_EQ(add_unit(e, "B", "u1", "ground"), DC_OK);
    json_t *vol = disc_vol(900e3, 10, T0, T0 + 4 * HOUR, NAN, NAN);
    ASSERT_EQ(put_op(e, "A", op_body("op1", "strike", 50, 50, vol, NULL), T0, NULL), DC_OK);
    ASSERT_EQ(report(e, "B", "u1", 0, 1e6, NAN, T0, T0, NULL), DC_OK);
    EXPECT_EQ(n_open(e, "B"), 1);
    CHECK(e, T0);
    /* 50 m from the disc's edge, accurately: critical */
    dc_time t = T0 + DC_USEC;
    ASSERT_EQ(report(e, "B", "u1", 900e3 - 60, 0, NAN, t, t, NULL), DC_OK);
    EXPECT_EQ(n_open(e, "B"), 1);
    json_t *v = find_view(e, "B", "u1", "op1", "open");
    EXPECT(v && strcmp(sev(v), "critical") == 0);
    json_decref(v);
    CHECK(e, t);
    /* 150 m out: clear; back to 50 m: open again, all within one box */
    t += DC_USEC;
    ASSERT_EQ(report(e, "B", "u1", 900e3 - 160, 0, NAN, t, t, NULL), DC_OK);
    EXPECT_EQ(n_open(e, "B"), 0);
    t += DC_USEC;
    ASSERT_EQ(report(e, "B", "u1", 900e3 - 60, 0, NAN, t, t, NULL), DC_OK);
    EXPECT_EQ(n_open(e, "B"), 1);
    CHECK(e, t);
    dc_engine_free(e);
}

/* A unit walking in and out of a notched polygon with a hole, around its
 * vertices and across its edges, with small and large ce_m: after every
 * report the conflict (open or not, its distance) agrees with the exact
 * separation, and dc_engine_check (which compares every neighbour-list
 * witness against a full measurement: bit for bit within its cutoff, and
 * beyond it exactly when the full one is) passes. Catches a
 * witness shortcut that keeps a stale nearest edge or a stale side. */
TEST(witness_walk)
{
    dc_engine *e = engine3();
    ASSERT_EQ(add_unit(e, "B", "u1", "ground"), DC_OK);
    double clon, clat, lon, lat;
    east(3000, &clon, &clat);
    json_t *shell = json_array(), *hole = json_array();
    for (int i = 0; i <= 48; i++) { /* a star: deep notches between 24 points */
        geod_direct(&G, clat, clon, (i % 48) * 7.5, i % 2 ? 700 : 1200, &lat, &lon, 0);
        json_array_append_new(shell, json_pack("[f,f]", lon, lat));
    }
    for (int i = 0; i <= 6; i++) {
        geod_direct(&G, clat, clon, (i % 6) * -60.0, 200, &lat, &lon, 0);
        json_array_append_new(hole, json_pack("[f,f]", lon, lat));
    }
    json_t *geom = json_pack("{s:s,s:[o,o]}", "type", "Polygon", "coordinates", shell, hole);
    shape_error serr;
    dc_shape *ref = NULL;
    ASSERT_EQ(shape_from_geojson(geom, 0, 0, "geometry", &ref, &serr), 0);
    json_t *vol = json_pack("{s:O,s:s,s:s}", "geometry", geom, "start", iso(T0), "end",
                            iso(T0 + 4 * HOUR));
    json_decref(geom);
    const double hazard = 300, warning = 300, T = hazard + warning + 0.05;
    ASSERT_EQ(put_op(e, "A", op_body("op1", "strike", hazard, warning, vol, NULL), T0, NULL),
              DC_OK);
    int bad = 0, opened = 0;
    const int n = 1500;
    for (int k = 0; k < n; k++) {
        /* round and round, 0.4 degrees (3-15 m) a step, in and out between
         * 50 and 2,200 m from the centre; every fifth step a 1 m nudge, and
         * now and then a jump of hundreds of metres and back (within the
         * index box that ce_m 800 left, so that the witnesses stay) */
        double az = k * 0.4 + (k % 5 == 4 ? 0.05 : 0) + (k % 13 == 6 ? 40 : 0);
        double dist = 1125 + 1075 * sin(k * 0.03);
        double ce = k % 7 == 0 ? 800 : k % 3 ? 10 : 0;
        geod_direct(&G, clat, clon, az, dist, &lat, &lon, 0);
        dc_time t = T0 + (k + 1) * DC_USEC;
        json_t *r = json_pack("{s:s,s:f,s:f,s:f,s:s}", "unit", "u1", "lon", lon, "lat", lat,
                              "ce_m", ce, "time", iso(t));
        json_t *b = json_pack("{s:[o]}", "reports", r);
        dc_error err = {0};
        size_t acc = 0;
        ASSERT_EQ(dc_positions_report(e, "B", b, t, &acc, NULL, &err), DC_OK);
        json_decref(b);
        dc_shape *disc = shape_disc(lon, lat, ce);
        double want = shape_separation_exact(ref, disc, 1e9);
        shape_free(disc);
        json_t *v = find_view(e, "B", "u1", "op1", "open");
        double got = v ? json_real_value(json_object_get(v, "distance_m")) : NAN;
        json_decref(v);
        opened += v != NULL;
        int ok = fabs(want - T) < 0.01 ||
                 (want <= T ? v && fabs(got - want) <= 0.051 : v == NULL);
        if (!ok && bad++ < 5)
            TL_FAIL_("step %d (%.1f m from the centre, ce %.0f): conflict %s, distance %.1f; "
                     "exact separation %.3f",
                     k, dist, ce, v ? "open" : "not open", got, want);
        if (k % 25 == 0 && check_engine(e, t, "witness_walk") != 0)
            break;
    }
    printf("     %d of %d reports in conflict\n", opened, n);
    EXPECT(opened > n / 5 && opened < n - n / 10);
    shape_free(ref);
    dc_engine_free(e);
}

static json_t *script(void)
{
    dc_engine *e = engine3();
    dc_changes ch;
    dc_changes_init(&ch);
    for (int i = 0; i < 6; i++) {
        char id[16];
        snprintf(id, sizeof id, "u%d", i);
        add_unit(e, i % 2 ? "B" : "C", id, "ground");
        report(e, i % 2 ? "B" : "C", id, i * 150.0, 0, NAN, T0, T0, &ch);
    }
    for (int i = 0; i < 3; i++) {
        char id[16];
        snprintf(id, sizeof id, "s%d", i);
        put_op(e, "A", op_body(id, "strike", 300, 300,
                               disc_vol(i * 200.0, 50, T0 + HOUR, T0 + 2 * HOUR, NAN, NAN), NULL),
               T0, &ch);
    }
    add_site(e, "B", "site", 100, 10, 100, NULL, 0, 0, T0, &ch);
    report(e, "B", "u1", 3000, 0, NAN, T0 + 1, T0 + 1, &ch);
    report(e, "B", "u1", 100, 0, NAN, T0 + 2, T0 + 2, &ch);
    dc_advance(e, T0 + HOUR, &ch);
    json_t *all = json_pack("{s:o,s:o,s:o}", "A", dc_conflicts_json(e, "A", NULL), "B",
                            dc_conflicts_json(e, "B", NULL), "pairs", dc_conflicts_pairs_json(e));
    check_engine(e, T0 + HOUR, "script");
    dc_changes_free(&ch);
    dc_engine_free(e);
    return all;
}

TEST(deterministic_ids)
{
    json_t *a = script(), *b = script();
    EXPECT(json_array_size(json_object_get(json_object_get(a, "pairs"), "conflicts")) > 5);
    if (!json_equal(a, b)) {
        char *ta = json_dumps(a, JSON_COMPACT), *tb = json_dumps(b, JSON_COMPACT);
        TL_FAIL_("two runs differ:\n%.600s\n%.600s", ta, tb);
        free(ta);
        free(tb);
    }
    json_decref(a);
    json_decref(b);
}

/* A unit's callsign is kept beside its key, in the unit's own block, until
 * an update needs more room: every update must still read back. */
TEST(callsign_updates)
{
    dc_engine *e = engine3();
    dc_error err = {0};
    const char *seq[] = {"alpha-2", "a", "", "alpha-two-longer-now", "b",
                         "bravo-a-great-deal-longer-again", "alpha-2"};
    for (size_t i = 0; i < sizeof seq / sizeof *seq; i++) {
        json_t *b = json_pack("{s:s,s:s}", "callsign", seq[i], "domain", i % 2 ? "air" : "ground");
        ASSERT_EQ(dc_unit_put(e, "A", "cs", b, T0, NULL, &err), DC_OK);
        json_decref(b);
        json_t *v = NULL;
        ASSERT_EQ(dc_unit_json(e, "A", "cs", T0, &v, &err), DC_OK);
        EXPECT_STREQ(json_string_value(json_object_get(v, "callsign")), seq[i]);
        EXPECT_STREQ(json_string_value(json_object_get(v, "id")), "cs");
        json_decref(v);
    }
    ASSERT_EQ(dc_unit_delete(e, "A", "cs", T0, NULL, &err), DC_OK);
    dc_error_clear(&err);
    dc_engine_free(e);
}

/* GCC 12 at -O2 (SLP vectorizer) once computed a unit's index box from its
 * unrounded position where unit_index had just stored the float centre:
 * for this report the box came out 1 ulp wider than the one the unit's
 * floats define, the unit index (rtree_new_bare) refused it, and the unit
 * went unindexed. Found by test_property; kept here as its regression
 * test, with units spread around it. */
TEST(unit_box_is_its_own)
{
    dc_engine *e = engine3();
    dc_error err = {0};
    char id[16];
    for (int i = 0; i < 200; i++) {
        snprintf(id, sizeof id, "u%d", i);
        json_t *b = json_pack("{s:s,s:s}", "callsign", id, "domain", "ground");
        ASSERT_EQ(dc_unit_put(e, "C", id, b, T0, NULL, &err), DC_OK);
        json_decref(b);
        double lon = 0.80639939351553047 + (i ? (i % 20) * 0.01 : 0),
               lat = 36.616715708445369 + (i ? (i / 20) * 0.01 : 0);
        ASSERT_EQ(dc_position_report(e, "C", id, lon, lat, 2042.9962201496169, 42.195566941480664,
                                     T0, T0, NULL, &err),
                  DC_OK);
    }
    CHECK(e, T0);
    for (int i = 0; i < 200; i += 2) { /* every deletion finds its unit */
        snprintf(id, sizeof id, "u%d", i);
        ASSERT_EQ(dc_unit_delete(e, "C", id, T0, NULL, &err), DC_OK);
    }
    CHECK(e, T0);
    dc_error_clear(&err);
    dc_engine_free(e);
}

/* Candidate marks are 32 bits wide: when the gather counter's low 32 bits
 * wrap, every mark must be cleared, or an object marked 2^32 gathers ago
 * would be taken for a candidate already seen, and its conflict missed.
 * Two operations 20 km apart, each with a unit of B walking in; each of
 * the gathers after the wrap would meet a stale mark if it were kept. */
TEST(candidate_marks_wrap)
{
    dc_engine *e = engine3();
    dc_changes ch;
    dc_changes_init(&ch);
    const char *ops[2] = {"w1", "w2"}, *units[2] = {"near1", "near2"};
    for (int i = 0; i < 2; i++) {
        ASSERT_EQ(put_op(e, "A",
                         op_body(ops[i], "strike", 200, NAN,
                                 disc_vol(20000.0 * i, 50, T0, T0 + 2 * HOUR, NAN, NAN), NULL),
                         T0, &ch),
                  DC_OK);
        ASSERT_EQ(add_unit(e, "B", units[i], "ground"), DC_OK);
    }
    ASSERT_EQ(add_unit(e, "B", "far", "ground"), DC_OK);
    /* as if every object had last been a candidate 2^32 gathers before the
     * second gather from now (or, were the wrap not noticed, the third) */
    e->gen = 0xFFFFFFFFull;
    const hmap *maps[3] = {&e->sites, &e->units, &e->ops};
    for (int k = 0; k < 3; k++)
        for (size_t i = 0; i < maps[k]->cap; i++)
            if (hmap_at(maps[k], i))
                ((obj *)hmap_at(maps[k], i))->mark = 2;
    ASSERT_EQ(report(e, "B", "far", 60000, 10, NAN, T0, T0, &ch), DC_OK);
    for (int i = 0; i < 2; i++) {
        ASSERT_EQ(report(e, "B", units[i], 20000.0 * i + 100, 10, NAN, T0, T0, &ch), DC_OK);
        EXPECT(has_view(e, "B", units[i], ops[i], "open"));
    }
    EXPECT_EQ(n_open(e, "B"), 2);
    CHECK(e, T0);
    dc_changes_free(&ch);
    dc_engine_free(e);
}

/* dc_*_parse then dc_*_put_parsed (the service parses before taking its
 * lock) do what dc_*_put does: same conflicts, same errors, and pp is
 * taken whatever happens (ASan's leak check). */
TEST(parsed_puts)
{
    dc_engine *e1 = dc_engine_new(), *e2 = dc_engine_new();
    dc_engine *es[2] = {e1, e2};
    dc_error err = {0};
    for (int k = 0; k < 2; k++) {
        dc_party_add(es[k], "A", "Alpha", 0, &err);
        dc_party_add(es[k], "B", "Bravo", 0, &err);
        ASSERT_EQ(add_unit(es[k], "B", "u", "ground"), DC_OK);
        ASSERT_EQ(report(es[k], "B", "u", 150, 0, NAN, T0, T0, NULL), DC_OK);
    }
    json_t *body = op_body("s", "strike", 100, 0, disc_vol(0, 100, T0, T0 + HOUR, NAN, NAN), NULL);
    json_t *site = json_pack("{s:s,s:s,s:s,s:{s:s,s:[f,f]},s:f,s:f}", "id", "h", "name", "h",
                             "category", "hospital", "geometry", "type", "Point", "coordinates",
                             LON0, LAT0, "radius_m", 50.0, "standoff_m", 100.0);
    dc_changes c1, c2;
    dc_changes_init(&c1);
    dc_changes_init(&c2);
    ASSERT_EQ(dc_operation_put(e1, "A", NULL, body, 1, T0, &c1, &err), DC_OK);
    dc_parsed *pp = NULL;
    ASSERT_EQ(dc_operation_parse(NULL, body, &pp, &err), DC_OK);
    ASSERT_EQ(dc_operation_put_parsed(e2, "A", pp, 1, T0, &c2, &err), DC_OK);
    EXPECT_EQ(count_changes(&c1, DC_CH_OPENED), 1);
    EXPECT_EQ(count_changes(&c2, DC_CH_OPENED), 1);
    ASSERT_EQ(dc_site_put(e1, "B", NULL, site, 1, T0, &c1, &err), DC_OK);
    ASSERT_EQ(dc_site_parse(NULL, site, &pp, &err), DC_OK);
    ASSERT_EQ(dc_site_put_parsed(e2, "B", pp, 1, T0, &c2, &err), DC_OK);
    EXPECT_EQ(count_changes(&c1, DC_CH_OPENED), 2); /* the strike and the hospital */
    EXPECT_EQ(count_changes(&c2, DC_CH_OPENED), 2);
    for (int p = 0; p < 2; p++) {
        const char *party = p ? "B" : "A";
        json_t *l1 = dc_conflicts_json(e1, party, "open"), *l2 = dc_conflicts_json(e2, party, "open");
        char *s1 = json_dumps(l1, JSON_SORT_KEYS), *s2 = json_dumps(l2, JSON_SORT_KEYS);
        EXPECT_STREQ(s1, s2);
        free(s1);
        free(s2);
        json_decref(l1);
        json_decref(l2);
    }
    /* create on an existing id, replace, an unknown party, the wrong kind */
    ASSERT_EQ(dc_operation_parse(NULL, body, &pp, &err), DC_OK);
    EXPECT_EQ(dc_operation_put_parsed(e2, "A", pp, 1, T0, NULL, &err), DC_ERR_EXISTS);
    ASSERT_EQ(dc_operation_parse("s", body, &pp, &err), DC_OK);
    EXPECT_EQ(dc_operation_put_parsed(e2, "A", pp, 0, T0, NULL, &err), DC_OK);
    ASSERT_EQ(dc_operation_parse(NULL, body, &pp, &err), DC_OK);
    EXPECT_EQ(dc_operation_put_parsed(e2, "Z", pp, 1, T0, NULL, &err), DC_ERR_NOTFOUND);
    ASSERT_EQ(dc_site_parse(NULL, site, &pp, &err), DC_OK);
    EXPECT_EQ(dc_operation_put_parsed(e2, "A", pp, 1, T0, NULL, &err), DC_ERR_MALFORMED);
    ASSERT_EQ(dc_operation_parse(NULL, body, &pp, &err), DC_OK);
    EXPECT_EQ(dc_site_put_parsed(e2, "B", pp, 1, T0, NULL, &err), DC_ERR_MALFORMED);
    EXPECT_EQ(dc_operation_put_parsed(e2, "A", NULL, 1, T0, NULL, &err), DC_ERR_MALFORMED);
    /* a body's error is the same either way */
    json_t *bad = op_body("o5", "strike", 10, NAN,
                          disc_vol(0, 100, T0 + HOUR, T0 + HOUR, NAN, NAN), NULL);
    EXPECT_EQ(dc_operation_put(e1, "A", NULL, bad, 1, T0, NULL, &err), DC_ERR_INVALID);
    char field[sizeof err.field];
    snprintf(field, sizeof field, "%s", err.field);
    pp = (dc_parsed *)1;
    EXPECT_EQ(dc_operation_parse(NULL, bad, &pp, &err), DC_ERR_INVALID);
    EXPECT(pp == NULL);
    EXPECT_STREQ(err.field, field);
    EXPECT_STREQ(err.field, "volumes[0].end");
    /* the hypothetical check, in two parts */
    json_t *draft = op_body("d", "strike", 500, 0, disc_vol(0, 100, T0, T0 + HOUR, NAN, NAN), NULL);
    json_t *o1 = NULL, *o2 = NULL;
    ASSERT_EQ(dc_check(e1, "A", draft, T0, &o1, &err), DC_OK);
    ASSERT_EQ(dc_check_parse(draft, &pp, &err), DC_OK);
    ASSERT_EQ(dc_check_parsed(e1, "A", pp, T0, &o2, &err), DC_OK);
    char *s1 = json_dumps(o1, JSON_SORT_KEYS), *s2 = json_dumps(o2, JSON_SORT_KEYS);
    EXPECT_STREQ(s1, s2);
    EXPECT_EQ(json_array_size(json_object_get(o1, "conflicts")), 2);
    free(s1);
    free(s2);
    json_decref(o1);
    json_decref(o2);
    CHECK(e1, T0);
    CHECK(e2, T0);
    json_decref(draft);
    json_decref(bad);
    json_decref(body);
    json_decref(site);
    dc_error_clear(&err);
    dc_changes_free(&c1);
    dc_changes_free(&c2);
    dc_engine_free(e1);
    dc_engine_free(e2);
}

int main(void)
{
    geod_init(&G, 6378137.0, 1 / 298.257223563);
    dc_time_parse("2017-02-09T04:00:00Z", &T0);
    RUN(parties);
    RUN(neighbour_list_in_a_huge_box);
    RUN(witness_walk);
    RUN(listings_and_need_to_know);
    RUN(interlock_and_acks);
    RUN(operation_states);
    RUN(interlock_survives_changes);
    RUN(position_batches);
    RUN(unit_rules);
    RUN(windows_and_bands);
    RUN(operation_pairs);
    RUN(clock_ends_and_stale);
    RUN(moves_deletes_and_check);
    RUN(deterministic_ids);
    RUN(callsign_updates);
    RUN(candidate_marks_wrap);
    RUN(unit_box_is_its_own);
    RUN(parsed_puts);
    return TL_DONE();
}
