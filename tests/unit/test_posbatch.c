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

/* mutate makes 1 to 3 random edits (replace, insert or delete a byte from
 * alphabet) to the len bytes of text in buf (room: size, NUL-terminated);
 * returns the new length. */
static size_t mutate(char *buf, size_t len, size_t size, const char *alphabet)
{
    size_t na = strlen(alphabet);
    int muts = 1 + (int)(rnd() % 3);
    for (int m = 0; m < muts; m++) {
        size_t at = rnd() % len;
        int kind = (int)(rnd() % 3);
        char c = alphabet[rnd() % na];
        if (kind == 0) {
            buf[at] = c;
        } else if (kind == 1 && len + 1 < size) {
            memmove(buf + at + 1, buf + at, len - at + 1);
            buf[at] = c;
            len++;
        } else if (len > 1) {
            memmove(buf + at, buf + at + 1, len - at);
            len--;
        }
    }
    return len;
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
        size_t len = mutate(buf, n, sizeof buf, alphabet);
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

/* ---- records (posbatch_parse_record, the restart's fast path) ---- */

static int parse_rec(const char *text, posbatch *b, char party[64], int64_t *t)
{
    return posbatch_parse_record(text, strlen(text), DC_MAX_BATCH, b, party, 64, t);
}

/* check_record_same: an accepted record reads as jansson reads it (svc's
 * load_record): the same t, op "positions", party and args. */
static void check_record_same(const char *text, const posbatch *b, const char *party, int64_t t)
{
    json_error_t je;
    json_t *r = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    ASSERT(r != NULL);
    json_t *jt = json_object_get(r, "t");
    EXPECT(json_is_integer(jt));
    EXPECT_EQ(json_integer_value(jt), t);
    EXPECT_STREQ(json_string_value(json_object_get(r, "op")), "positions");
    EXPECT_STREQ(json_string_value(json_object_get(r, "party")), party);
    EXPECT(json_object_get(r, "id") == NULL && json_object_get(r, "token_sha256") == NULL);
    char *args = json_dumps(json_object_get(r, "args"), JSON_COMPACT);
    ASSERT(args != NULL);
    check_same(args, b);
    free(args);
    json_decref(r);
}

#define REC_ARGS "{\"reports\":[{\"alt_m\":120.5,\"ce_m\":5.0,\"lat\":36.25,\"lon\":37.5123456," \
                 "\"time\":\"" T0 "\",\"unit\":\"u0\"}]}"
#define REC_TAIL ",\"op\":\"positions\",\"party\":\"TR\",\"t\":1486612801000000,\"time\":\"" T0 \
                 "\",\"v\":1}"

TEST(record_accepts_what_svc_writes)
{
    const char *ok[] = {
        "{\"args\":" REC_ARGS REC_TAIL,
        /* missing alt_m, null alt_m, integers, negative zero, two reports */
        "{\"args\":{\"reports\":[{\"ce_m\":5,\"lat\":-0,\"lon\":-0.0,\"time\":\"" T0
        "\",\"unit\":\"u1\"},{\"alt_m\":null,\"lat\":1,\"lon\":2,\"time\":\"" T0
        "\",\"unit\":\"u3\"}]}" REC_TAIL,
        /* jansson also reads whitespace inside the args */
        "{\"args\":{ \"reports\" : [ {\"unit\":\"u2\",\"lon\":1,\"lat\":2,\"time\":\"" T0
        "\"} ] }" REC_TAIL,
        "{\"args\":" REC_ARGS ",\"op\":\"positions\",\"party\":\"TR\",\"t\":-0,\"time\":\"x\","
        "\"v\":1}",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        posbatch b;
        char party[64];
        int64_t t = 0;
        int rc = parse_rec(ok[i], &b, party, &t);
        if (rc != POSBATCH_OK)
            fprintf(stderr, "refused: %s\n", ok[i]);
        EXPECT_EQ(rc, POSBATCH_OK);
        if (rc == POSBATCH_OK) {
            check_record_same(ok[i], &b, party, t);
            posbatch_free(&b);
        }
    }
}

TEST(record_falls_back_on_anything_unusual)
{
    const char *bad[] = {
        /* escapes, exponents, unknown keys, other fields, other ops */
        "{\"args\":{\"reports\":[{\"lat\":2,\"lon\":1,\"time\":\"" T0
        "\",\"unit\":\"u\\u0030\"}]}" REC_TAIL,
        "{\"args\":{\"reports\":[{\"lat\":2e0,\"lon\":1,\"time\":\"" T0 "\",\"unit\":\"u0\"}]}"
        REC_TAIL,
        "{\"args\":{\"reports\":[{\"lat\":2,\"lon\":1,\"owner\":\"TR\",\"time\":\"" T0
        "\",\"unit\":\"u0\"}]}" REC_TAIL,
        "{\"args\":{\"reports\":[{\"lat\":2,\"lon\":1,\"time\":\"" T0 "\",\"unit\":\"u0\"}],"
        "\"x\":1}" REC_TAIL,
        "{\"args\":" REC_ARGS ",\"id\":\"x\",\"op\":\"positions\",\"party\":\"TR\",\"t\":1,"
        "\"time\":\"" T0 "\",\"v\":1}",
        "{\"args\":" REC_ARGS ",\"op\":\"unit.put\",\"party\":\"TR\",\"t\":1,\"time\":\"" T0
        "\",\"v\":1}",
        "{\"args\":" REC_ARGS ",\"op\":\"positions\",\"party\":\"T\\\"R\",\"t\":1,\"time\":\"" T0
        "\",\"v\":1}",
        "{\"args\":" REC_ARGS ",\"op\":\"positions\",\"party\":\"TR\",\"t\":1,\"time\":\"" T0
        "\",\"token_sha256\":\"00\",\"v\":1}",
        /* t not a plain integer */
        "{\"args\":" REC_ARGS ",\"op\":\"positions\",\"party\":\"TR\",\"t\":1.0,\"time\":\"" T0
        "\",\"v\":1}",
        "{\"args\":" REC_ARGS ",\"op\":\"positions\",\"party\":\"TR\",\"t\":1e6,\"time\":\"" T0
        "\",\"v\":1}",
        "{\"args\":" REC_ARGS ",\"op\":\"positions\",\"party\":\"TR\",\"t\":01,\"time\":\"" T0
        "\",\"v\":1}",
        "{\"args\":" REC_ARGS ",\"op\":\"positions\",\"party\":\"TR\",\"t\":1234567890123456789,"
        "\"time\":\"" T0 "\",\"v\":1}",
        "{\"args\":" REC_ARGS ",\"op\":\"positions\",\"party\":\"TR\",\"t\":\"1\",\"time\":\"" T0
        "\",\"v\":1}",
        /* missing or duplicated fields, another version, trailing bytes */
        "{\"args\":" REC_ARGS ",\"op\":\"positions\",\"party\":\"TR\",\"t\":1,\"v\":1}",
        "{\"args\":" REC_ARGS ",\"op\":\"positions\",\"t\":1,\"time\":\"" T0 "\",\"v\":1}",
        "{\"args\":" REC_ARGS ",\"op\":\"positions\",\"party\":\"TR\",\"party\":\"TR\",\"t\":1,"
        "\"time\":\"" T0 "\",\"v\":1}",
        "{\"args\":" REC_ARGS ",\"op\":\"positions\",\"party\":\"TR\",\"t\":1,\"time\":\"" T0
        "\",\"v\":2}",
        "{\"args\":" REC_ARGS REC_TAIL " ",
        "{\"args\":" REC_ARGS REC_TAIL "}",
        "{ \"args\":" REC_ARGS REC_TAIL,
        "{\"args\":" REC_ARGS ", \"op\":\"positions\",\"party\":\"TR\",\"t\":1,\"time\":\"" T0
        "\",\"v\":1}",
        "{\"args\":null" REC_TAIL,
        "{\"op\":\"positions\",\"party\":\"TR\",\"t\":1,\"time\":\"" T0 "\",\"v\":1}",
        /* a party too long for the buffer */
        "{\"args\":" REC_ARGS ",\"op\":\"positions\",\"party\":\"" 
        "PPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPP\",\"t\":1,"
        "\"time\":\"" T0 "\",\"v\":1}",
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        posbatch b;
        char party[64];
        int64_t t = 0;
        int rc = parse_rec(bad[i], &b, party, &t);
        if (rc != POSBATCH_FALLBACK)
            fprintf(stderr, "accepted: %s\n", bad[i]);
        EXPECT_EQ(rc, POSBATCH_FALLBACK);
        EXPECT(b.v == NULL && b.args_text == NULL);
    }
}

/* Whatever a mutation makes of a good record, an accepted one reads as
 * jansson reads it. */
TEST(record_mutations_never_widen_what_is_accepted)
{
    const char *base = "{\"args\":{\"reports\":[{\"alt_m\":120.5,\"ce_m\":5.0,\"lat\":36.25,"
                       "\"lon\":37.5123456,\"time\":\"" T0 "\",\"unit\":\"u0\"}]}" REC_TAIL;
    const char alphabet[] = "{}[]\":,.-+eE0123456789 \\nulltrue\x01\x80uv";
    size_t n = strlen(base), accepted = 0;
    char buf[512];
    printf("seed %llu\n", (unsigned long long)rng);
    for (int iter = 0; iter < 20000; iter++) {
        memcpy(buf, base, n + 1);
        size_t len = mutate(buf, n, sizeof buf, alphabet);
        buf[len] = 0;
        posbatch b;
        char party[64];
        int64_t t = 0;
        if (posbatch_parse_record(buf, len, DC_MAX_BATCH, &b, party, sizeof party, &t) ==
            POSBATCH_OK) {
            accepted++;
            int before = tl_cur_failed;
            check_record_same(buf, &b, party, t);
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
    RUN(record_accepts_what_svc_writes);
    RUN(record_falls_back_on_anything_unusual);
    RUN(record_mutations_never_widen_what_is_accepted);
    return TL_DONE();
}
