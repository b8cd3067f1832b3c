/* test_jtext: the service's JSON writer gives exactly jansson's bytes
 * (seeded random trees, every flag combination the service uses, odd
 * strings and numbers), and its subtree cache never serves stale or wrong
 * text. */
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "jtext.h"
#include "testlib.h"

static uint64_t rng = 88172645463325252ULL;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static double rnd_double(void)
{
    switch (rnd() % 8) {
    case 0: return (double)(int64_t)(rnd() % 2000) - 1000;
    case 1: return ((double)(rnd() % 1000000000) / 1e7) - 50;
    case 2: { uint64_t u = rnd(); double d; memcpy(&d, &u, sizeof d); return isfinite(d) ? d : 1.5; }
    case 3: return 1e-300 * (double)(rnd() % 1000);
    case 4: return 1e21 * (double)(rnd() % 1000);
    case 5: return -0.0;
    case 6: return 0.1 * (double)(rnd() % 100);
    default: return (double)rnd() / 3.0;
    }
}

static const char *const strs[] = {"", "a", "geometry", "Polygon", "quote\"and\\back",
                                   "ctl\x01\x1f\n\t\r\b\f", "caf\xc3\xa9", "\xe2\x82\xac euro",
                                   "\xf0\x9f\x98\x80 emoji", "slash/", "\x7f del", "B", "b", "ba",
                                   "ab"};
#define NSTRS (sizeof strs / sizeof strs[0])

static json_t *rnd_tree(int depth)
{
    int k = (int)(rnd() % (depth > 4 ? 6 : 8));
    switch (k) {
    case 0: return json_null();
    case 1: return json_boolean(rnd() % 2);
    case 2: return json_integer((json_int_t)(rnd() % 3 ? (int64_t)(rnd() % 100000) - 50000 : (int64_t)rnd()));
    case 3: return json_real(rnd_double());
    case 4:
    case 5: return json_string(strs[rnd() % NSTRS]);
    case 6: {
        json_t *a = json_array();
        int n = (int)(rnd() % 6);
        for (int i = 0; i < n; i++)
            json_array_append_new(a, rnd_tree(depth + 1));
        return a;
    }
    default: {
        json_t *o = json_object();
        int n = (int)(rnd() % 7);
        for (int i = 0; i < n; i++)
            json_object_set_new(o, strs[rnd() % NSTRS], rnd_tree(depth + 1));
        return o;
    }
    }
}

static const size_t flag_sets[] = {
    JSON_COMPACT,
    JSON_COMPACT | JSON_SORT_KEYS,
    JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII,
    JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(15),
    JSON_COMPACT | JSON_REAL_PRECISION(15),
};

TEST(same_bytes_as_jansson)
{
    for (int iter = 0; iter < 4000; iter++) {
        json_t *t = json_object();
        json_object_set_new(t, "x", rnd_tree(0));
        json_object_set_new(t, "y", rnd_tree(0));
        for (size_t f = 0; f < sizeof flag_sets / sizeof flag_sets[0]; f++) {
            char *want = json_dumps(t, flag_sets[f]);
            jtext_buf b = {0};
            int rc = jtext_dump(&b, t, flag_sets[f], NULL);
            char *got = jtext_take(&b);
            EXPECT_EQ(rc, 0);
            EXPECT_STREQ(got, want);
            free(want);
            free(got);
        }
        json_decref(t);
    }
}

TEST(numbers_at_the_edges)
{
    double v[] = {0.0, -0.0, 1.0, -1.0, 1e16, 1e17, 1e21, 1e22, 123456789012345678.0, 5e-324,
                  2.2250738585072014e-308, 1.7976931348623157e308, 0.1, 1.0 / 3, 36.1234567,
                  -180.0, 1e-7, 1e-5, 100.0};
    json_int_t iv[] = {0, -1, 1, INT64_MAX, INT64_MIN, 1000000};
    json_t *a = json_array();
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        json_array_append_new(a, json_real(v[i]));
    for (size_t i = 0; i < sizeof iv / sizeof iv[0]; i++)
        json_array_append_new(a, json_integer(iv[i]));
    for (size_t f = 0; f < sizeof flag_sets / sizeof flag_sets[0]; f++) {
        char *want = json_dumps(a, flag_sets[f]);
        jtext_buf b = {0};
        jtext_dump(&b, a, flag_sets[f], NULL);
        char *got = jtext_take(&b);
        EXPECT_STREQ(got, want);
        free(want);
        free(got);
    }
    json_decref(a);
}

/* The quick path for decimals prints what "%.15g" prints, around every
 * boundary it has (digits, decimals, 1e-4, 1e9, signs). */
TEST(decimals_print_like_printf)
{
    json_t *a = json_array();
    for (int i = 0; i < 200000; i++) {
        int d = (int)(rnd() % 12);
        double scale = pow(10, d);
        long long k = (long long)(rnd() % 2000000000000000ULL) >> (rnd() % 50);
        double v = (double)k / scale * (rnd() % 2 ? 1 : -1);
        if (rnd() % 4 == 0)
            v = nextafter(v, rnd() % 2 ? INFINITY : -INFINITY);
        if (rnd() % 50 == 0)
            v = (rnd() % 2 ? 1e-4 : 1e9) * (rnd() % 2 ? 1 : -1);
        json_array_append_new(a, json_real(v));
        json_array_append_new(a, json_real(round(v * 10) / 10));
    }
    char *want = json_dumps(a, JSON_COMPACT | JSON_REAL_PRECISION(15));
    jtext_buf b = {0};
    jtext_dump(&b, a, JSON_COMPACT | JSON_REAL_PRECISION(15), NULL);
    char *got = jtext_take(&b);
    ASSERT(want && got);
    EXPECT(strcmp(got, want) == 0);
    if (strcmp(got, want) != 0) {
        size_t i = 0;
        while (got[i] == want[i])
            i++;
        fprintf(stderr, "first difference at %zu: ...%.60s vs ...%.60s\n", i,
                got + (i > 20 ? i - 20 : 0), want + (i > 20 ? i - 20 : 0));
    }
    free(want);
    free(got);
    json_decref(a);
}

/* A random double of the shapes the exact path must get right: any bits
 * in its range and around its edges, short decimals a few ulps off, values
 * next to a power of ten (which round up into the next decade), and
 * K / 2^s, whose decimal expansion ends in a 5 after s places: at the
 * right precision each of those is an exact tie, which printf rounds to
 * even. */
static double rnd_real_for_g(void)
{
    double v;
    switch (rnd() % 6) {
    case 0: { /* any bits from 1e-8 to 1e17 */
        double lo = log2(1e-8), hi = log2(1e17);
        double ex = lo + (hi - lo) * ((double)(rnd() >> 11) / 9007199254740992.0);
        uint64_t u;
        double base = ldexp(1.0, (int)floor(ex));
        memcpy(&u, &base, sizeof u);
        u |= rnd() & ((1ULL << 52) - 1);
        memcpy(&v, &u, sizeof v);
        break;
    }
    case 1: { /* a decimal of up to 17 digits, a few ulps off */
        v = (double)(rnd() % 100000000000000000ULL) / pow(10, (double)(rnd() % 23));
        for (int k = (int)(rnd() % 4); k > 0; k--)
            v = nextafter(v, rnd() % 2 ? INFINITY : 0);
        break;
    }
    case 2: { /* next to 10^k */
        v = pow(10, (double)((int)(rnd() % 24) - 7));
        for (int k = (int)(rnd() % 3); k > 0; k--)
            v = nextafter(v, rnd() % 2 ? INFINITY : 0);
        break;
    }
    case 3: /* the edges of the exact path's range */
        v = nextafter(rnd() % 2 ? 1e-6 : 4503599627370496.0, rnd() % 2 ? INFINITY : 0);
        break;
    default: { /* K / 2^s: ties */
        int s = 1 + (int)(rnd() % 30);
        uint64_t K = (rnd() >> (11 + rnd() % 40)) | 1;
        v = ldexp((double)K, -s);
        break;
    }
    }
    return rnd() % 2 ? -v : v;
}

/* Reals as "%.*g" writes them, every precision jansson allows up to 17
 * (jtext_real's exact path, and snprintf outside its range), against
 * json_dumps. Prints its seed; rerun with DC_SEED=N. */
TEST(reals_print_like_printf)
{
    const char *env = getenv("DC_SEED");
    uint64_t seed = env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL);
    printf("reals_print_like_printf: seed %" PRIu64 " (rerun with DC_SEED=%" PRIu64 ")\n", seed,
           seed);
    uint64_t saved = rng;
    rng = seed * 0x9E3779B97F4A7C15ULL + 1;
    enum { N = 60000 };
    double *v = malloc(sizeof *v * N);
    ASSERT(v != NULL);
    long ties = 0;
    for (int i = 0; i < N; i++)
        v[i] = rnd_real_for_g();
    for (int prec = 1; prec <= 17; prec++) {
        for (int i = 0; i < N; i++) {
            jtext_buf b = {0};
            json_t *j = json_real(v[i]);
            char *want = json_dumps(j, JSON_ENCODE_ANY | JSON_REAL_PRECISION(prec));
            json_decref(j);
            ASSERT(jtext_real(&b, v[i], prec) == 0);
            char *got = jtext_take(&b);
            EXPECT(want && got && strcmp(got, want) == 0);
            if (!want || !got || strcmp(got, want) != 0) {
                fprintf(stderr, "%.17g at precision %d: \"%s\", printf \"%s\"\n", v[i], prec,
                        got ? got : "(null)", want ? want : "(null)");
                free(want);
                free(got);
                free(v);
                rng = saved;
                return;
            }
            /* count the exact ties met (printf's digits at prec + 1 end
             * in 5 and nothing follows) */
            char full[64];
            int n = snprintf(full, sizeof full, "%.*e", prec + 30, v[i]);
            if (n > 0 && full[prec + 1 + (prec > 0)] == '5') {
                int rest = 1;
                for (char *q = full + prec + 2 + (prec > 0); *q && *q != 'e'; q++)
                    rest &= *q == '0';
                ties += rest;
            }
            free(want);
            free(got);
        }
    }
    printf("reals_print_like_printf: %d values x 17 precisions, %ld exact ties\n", N, ties);
    EXPECT(ties > 1000); /* the generator does reach the rounding rule */
    free(v);
    rng = saved;
}

/* Shared subtrees come from the cache, fresh ones never do, and a cached
 * entry is only used for the very pointer and flags it was made for. */
TEST(cache_serves_only_shared_subtrees)
{
    jtext_cache *c = jtext_cache_new(8, 1 << 20);
    ASSERT(c != NULL);
    for (int iter = 0; iter < 500; iter++) {
        json_t *shared[4];
        for (int i = 0; i < 4; i++) {
            shared[i] = json_pack("{s:s,s:[f,f,f,f,f,f]}", "type", "Polygon", "coordinates",
                                  rnd_double(), rnd_double(), rnd_double(), rnd_double(),
                                  rnd_double(), rnd_double());
        }
        for (int round = 0; round < 3; round++) {
            json_t *view = json_object();
            for (int i = 0; i < 4; i++) {
                char k[8];
                snprintf(k, sizeof k, "g%d", i);
                json_object_set(view, k, shared[i]); /* refcount 2: shared */
            }
            json_object_set_new(view, "fresh", rnd_tree(0));
            size_t flags = round == 2 ? JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII
                                      : JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(15);
            char *want = json_dumps(view, flags);
            jtext_buf b = {0};
            EXPECT_EQ(jtext_dump(&b, view, flags, c), 0);
            char *got = jtext_take(&b);
            EXPECT_STREQ(got, want);
            free(want);
            free(got);
            json_decref(view);
        }
        for (int i = 0; i < 4; i++)
            json_decref(shared[i]); /* the cache may still hold them */
    }
    jtext_cache_free(c);
}

/* Packed text: shared subtrees by reference, and unpacking gives back
 * exactly jansson's bytes. */
static char *texts[4096];
static size_t ntexts;

static long long store_ref(void *ctx, const char *text, size_t len)
{
    (void)ctx;
    if (ntexts >= 4096)
        return 0;
    texts[ntexts] = strndup(text, len);
    return (long long)++ntexts;
}

static const char *find_ref(void *ctx, long long ref, size_t *len)
{
    (void)ctx;
    if (ref < 1 || (size_t)ref > ntexts)
        return NULL;
    *len = strlen(texts[ref - 1]);
    return texts[ref - 1];
}

TEST(packed_text_unpacks_to_the_same_bytes)
{
    jtext_cache *c = jtext_cache_new(64, 1 << 20);
    json_t *shared[8];
    for (int i = 0; i < 8; i++)
        shared[i] = json_pack("{s:s,s:[f,f,f,f,f,f,f,f]}", "type", "Polygon", "coordinates",
                              rnd_double(), rnd_double(), rnd_double(), rnd_double(),
                              rnd_double(), rnd_double(), rnd_double(), rnd_double());
    size_t packed_bytes = 0, full_bytes = 0;
    for (int iter = 0; iter < 300; iter++) {
        json_t *ev = json_object();
        json_t *other = json_object();
        json_object_set(other, "geometry", shared[rnd() % 8]);
        json_t *vols = json_array();
        json_array_append_new(vols, json_pack("{s:O,s:s}", "geometry", shared[rnd() % 8], "start",
                                              "2017-02-09T05:00:00Z"));
        json_object_set_new(other, "volumes", vols);
        json_object_set_new(ev, "other", other);
        json_object_set_new(ev, "x", rnd_tree(0));
        size_t flags = JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(15);
        char *want = json_dumps(ev, flags);
        jtext_buf b = {0};
        EXPECT_EQ(jtext_dump_packed(&b, ev, flags, c, store_ref, NULL), 0);
        jtext_buf u = {0};
        EXPECT_EQ(jtext_unpack(&u, b.buf, b.len, find_ref, NULL), 0);
        char *got = jtext_take(&u);
        EXPECT_STREQ(got, want);
        packed_bytes += b.len;
        full_bytes += strlen(want);
        free(got);
        free(want);
        jtext_free(&b);
        json_decref(ev);
    }
    EXPECT(ntexts <= 8);
    EXPECT(packed_bytes < full_bytes);
    /* a dangling reference is an error, never silently dropped */
    jtext_buf u = {0};
    EXPECT_EQ(jtext_unpack(&u, "{\"a\":\x01" "999\x02}", 9, find_ref, NULL), -1);
    EXPECT_EQ(jtext_unpack(&u, "{\"a\":\x01" "9", 6, find_ref, NULL), -1);
    jtext_free(&u);
    for (int i = 0; i < 8; i++)
        json_decref(shared[i]);
    jtext_cache_free(c);
    for (size_t i = 0; i < ntexts; i++)
        free(texts[i]);
}

TEST(strings_escape_like_jansson)
{
    const char *s[] = {"plain", "\"\\", "\x01\x02\x1f", "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",
                       "\x7f", "/"};
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) {
        for (size_t f = 0; f < 3; f++) {
            size_t flags = f == 0 ? 0 : f == 1 ? JSON_ENSURE_ASCII : JSON_ESCAPE_SLASH;
            if (flags == JSON_ESCAPE_SLASH)
                continue; /* not used by the service */
            json_t *j = json_string(s[i]);
            char *want = json_dumps(j, flags | JSON_ENCODE_ANY);
            jtext_buf b = {0};
            jtext_string(&b, s[i], strlen(s[i]), flags);
            char *got = jtext_take(&b);
            EXPECT_STREQ(got, want);
            free(want);
            free(got);
            json_decref(j);
        }
    }
}

int main(void)
{
    RUN(same_bytes_as_jansson);
    RUN(numbers_at_the_edges);
    RUN(decimals_print_like_printf);
    RUN(reals_print_like_printf);
    RUN(cache_serves_only_shared_subtrees);
    RUN(strings_escape_like_jansson);
    RUN(packed_text_unpacks_to_the_same_bytes);
    return TL_DONE();
}
