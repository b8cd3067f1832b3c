/* test_posbatch: the position fast path accepts only what the general
 * path (jansson, then the engine's dc_positions_report) accepts, reads the
 * same values, and writes log text that replays to the same body. Odd
 * inputs fall back; seeded random mutations of a good batch never make it
 * accept something the general path refuses. */
#include <stdint.h>
#include <stdlib.h>

#include "engine.h"
#include "posbatch.h"
#include "testlib.h"

#define T0 "2017-02-09T04:00:00Z"

static dc_engine *engine_with_units(void)
{
    dc_engine *e = dc_engine_new();
    dc_error err = {0};
    dc_party_add(e, "TR", "Turkey", 0, &err);
    for (int i = 0; i < 4; i++) {
        char id[16];
        snprintf(id, sizeof id, "u%d", i);
        json_t *b = json_pack("{s:s,s:s}", "callsign", id, "domain", i == 3 ? "air" : "ground");
        dc_unit_put(e, "TR", id, b, 0, NULL, &err);
        json_decref(b);
    }
    return e;
}

/* check_same: b (accepted) agrees with the general path on text. */
static void check_same(const char *text, const posbatch *b)
{
    json_error_t je;
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    ASSERT(j != NULL);
    json_t *rec = json_loads(b->args_text, JSON_REJECT_DUPLICATES, &je);
    ASSERT(rec != NULL);
    EXPECT(json_equal(j, rec));
    json_t *reps = json_object_get(j, "reports");
    EXPECT_EQ(json_array_size(reps), b->n);
    for (size_t i = 0; i < b->n && i < json_array_size(reps); i++) {
        json_t *r = json_array_get(reps, i);
        EXPECT_STREQ(b->v[i].unit, json_string_value(json_object_get(r, "unit")));
        EXPECT(b->v[i].lon == json_number_value(json_object_get(r, "lon")));
        EXPECT(b->v[i].lat == json_number_value(json_object_get(r, "lat")));
        json_t *alt = json_object_get(r, "alt_m");
        if (alt && !json_is_null(alt))
            EXPECT(b->v[i].alt_m == json_number_value(alt));
        else
            EXPECT(isnan(b->v[i].alt_m));
        json_t *ce = json_object_get(r, "ce_m");
        EXPECT(b->v[i].ce_m == (ce ? json_number_value(ce) : 0.0));
        EXPECT(!signbit(b->v[i].lon) == !signbit(json_number_value(json_object_get(r, "lon"))));
    }
    /* and the engine takes the batch as it is */
    dc_engine *e = engine_with_units();
    dc_changes ch;
    dc_changes_init(&ch);
    dc_error err = {0};
    size_t acc = 0;
    dc_time now;
    dc_time_parse("2017-02-09T05:00:00Z", &now);
    /* Unknown units and times too far ahead are svc's checks, made under
     * the engine mutex (apply_positions_fast); everything else is ours. */
    int svc_refuses = 0;
    for (size_t i = 0; i < b->n; i++)
        svc_refuses |= !(strlen(b->v[i].unit) == 2 && b->v[i].unit[0] == 'u' &&
                         b->v[i].unit[1] >= '0' && b->v[i].unit[1] <= '3') ||
                       b->v[i].t > now + DC_FUTURE_SLACK_US;
    dc_status st = dc_positions_report(e, "TR", j, now, &acc, &ch, &err);
    if (svc_refuses) {
        EXPECT_EQ(st, DC_ERR_INVALID);
        EXPECT(strstr(err.field, ".unit") || strstr(err.field, ".time"));
    } else {
        EXPECT_EQ(st, DC_OK);
        EXPECT_EQ(acc, b->n);
    }
    dc_changes_free(&ch);
    dc_error_clear(&err);
    dc_engine_free(e);
    json_decref(j);
    json_decref(rec);
}

static int parse(const char *text, posbatch *b)
{
    return posbatch_parse(text, strlen(text), DC_MAX_BATCH, b);
}

TEST(accepts_the_usual_shapes)
{
    const char *ok[] = {
        "{\"reports\":[{\"unit\":\"u0\",\"lon\":37.5,\"lat\":36.0,\"ce_m\":5.0,\"time\":\"" T0 "\"}]}",
        (" { \"reports\" : [ {\"time\":\"" T0 "\", \"lat\":-0, \"lon\":-0.0, \"unit\":\"u1\"} ,"
         "{\"unit\":\"u3\",\"lon\":180,\"lat\":-90,\"alt_m\":null,\"ce_m\":0,\"time\":\"" T0 "\"},"
         "{\"unit\":\"u3\",\"lon\":-180,\"lat\":90,\"alt_m\":-20000,\"ce_m\":1000000,"
         "\"time\":\"2017-02-09T04:00:00.123456Z\"} ]}\n"),
        ("{\"reports\":[{\"unit\":\"u2\",\"lon\":1.00000000000000000001,\"lat\":12345678,"
         "\"alt_m\":999999.99,\"time\":\"2017-02-09t04:00:00z\"}]}"),
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        posbatch b;
        EXPECT_EQ(parse(ok[i], &b), i == 2 ? POSBATCH_FALLBACK : POSBATCH_OK);
        if (i != 2) {
            check_same(ok[i], &b);
            posbatch_free(&b);
        }
    }
}

TEST(falls_back_on_anything_unusual)
{
    const char *r = "\"unit\":\"u0\",\"lon\":1,\"lat\":2,\"time\":\"" T0 "\"";
    char buf[512];
    const char *fmt[] = {
        "{\"reports\":[]}",
        "{\"reports\":[{%s}],\"x\":1}",
        "{\"reports\":[{%s,\"owner\":\"TR\"}]}",
        "{\"reports\":[{%s,\"lon\":3}]}",
        "{\"reports\":[{%s,\"ce_m\":-1}]}",
        "{\"reports\":[{%s,\"alt_m\":1e3}]}",
        "{\"reports\":[{%s,\"alt_m\":\"1\"}]}",
        "{\"reports\":[{%s,\"extra\":true}]}",
        "{\"reports\":[{%s}]} x",
        "{\"reports\":[{%s},]}",
        "{\"reports\":[{%s}]",
        "{\"reports\":[{\"unit\":\"u\\u0030\",\"lon\":1,\"lat\":2,\"time\":\"" T0 "\"}]}",
        "{\"reports\":[{\"unit\":\"u0\",\"lon\":01,\"lat\":2,\"time\":\"" T0 "\"}]}",
        "{\"reports\":[{\"unit\":\"u0\",\"lon\":180.5,\"lat\":2,\"time\":\"" T0 "\"}]}",
        "{\"reports\":[{\"unit\":\"u0\",\"lon\":1,\"lat\":2,\"time\":\"yesterday\"}]}",
        "{\"reports\":[{\"unit\":\"u0\",\"lon\":1,\"time\":\"" T0 "\"}]}",
        "{\"reports\":[{\"unit\":\"u0\",\"lon\":1.,\"lat\":2,\"time\":\"" T0 "\"}]}",
        "{\"reports\":[{\"unit\":\"u0\",\"lon\":12345678901234567890,\"lat\":2,\"time\":\"" T0 "\"}]}",
        "{\"reports\":[{\"unit\":7,\"lon\":1,\"lat\":2,\"time\":\"" T0 "\"}]}",
        "[{%s}]",
        "",
    };
    for (size_t i = 0; i < sizeof fmt / sizeof fmt[0]; i++) {
        snprintf(buf, sizeof buf, fmt[i], r);
        posbatch b;
        int rc = parse(buf, &b);
        if (rc != POSBATCH_FALLBACK)
            fprintf(stderr, "accepted: %s\n", buf);
        EXPECT_EQ(rc, POSBATCH_FALLBACK);
        EXPECT(b.v == NULL && b.args_text == NULL);
    }
    /* the batch limit */
    posbatch b;
    snprintf(buf, sizeof buf, "{\"reports\":[{%s},{%s}]}", r, r);
    EXPECT_EQ(posbatch_parse(buf, strlen(buf), 1, &b), POSBATCH_FALLBACK);
    EXPECT_EQ(posbatch_parse(buf, strlen(buf), 2, &b), POSBATCH_OK);
    posbatch_free(&b);
}

static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Whatever a mutation makes of a good batch, an accepted one is one the
 * general path accepts with the same values. */
TEST(mutations_never_widen_what_is_accepted)
{
    const char *base = "{\"reports\":[{\"unit\":\"u0\",\"lon\":37.5123456,\"lat\":36.25,"
                       "\"alt_m\":120.5,\"ce_m\":5.0,\"time\":\"" T0 "\"},"
                       "{\"unit\":\"u3\",\"lon\":-1,\"lat\":0.5,\"time\":\"" T0 "\"}]}";
    const char alphabet[] = "{}[]\":,.-+eE0123456789 \\nulltrue\x01\x80u";
    size_t n = strlen(base), accepted = 0;
    char buf[512];
    printf("seed %llu\n", (unsigned long long)rng);
    for (int iter = 0; iter < 20000; iter++) {
        memcpy(buf, base, n + 1);
        int muts = 1 + (int)(rnd() % 3);
        size_t len = n;
        for (int m = 0; m < muts; m++) {
            size_t at = rnd() % len;
            int kind = (int)(rnd() % 3);
            char c = alphabet[rnd() % (sizeof alphabet - 1)];
            if (kind == 0) {
                buf[at] = c;
            } else if (kind == 1 && len + 1 < sizeof buf) {
                memmove(buf + at + 1, buf + at, len - at + 1);
                buf[at] = c;
                len++;
            } else if (len > 1) {
                memmove(buf + at, buf + at + 1, len - at);
                len--;
            }
        }
        posbatch b;
        if (posbatch_parse(buf, len, DC_MAX_BATCH, &b) == POSBATCH_OK) {
            accepted++;
            buf[len] = 0;
            int before = tl_cur_failed;
            check_same(buf, &b);
            if (tl_cur_failed && !before)
                fprintf(stderr, "wrongly accepted: %s\n", buf);
            posbatch_free(&b);
        }
    }
    EXPECT(accepted > 100);
}

int main(void)
{
    RUN(accepts_the_usual_shapes);
    RUN(falls_back_on_anything_unusual);
    RUN(mutations_never_widen_what_is_accepted);
    return TL_DONE();
}
