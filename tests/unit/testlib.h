/* testlib: a tiny test harness in the manner of libuv's test/task.h.
 *
 * TEST(name) defines a test; RUN(name) runs it and counts it as passed or
 * failed. ASSERT_* stop the current function on failure (so they belong in
 * void functions); EXPECT_* record the failure and carry on. Every failed
 * check prints its location and both values. TL_DONE() prints the final
 * line "N passed, M failed" and yields main's exit status. */
#ifndef DC_TESTLIB_H
#define DC_TESTLIB_H

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "dctime.h"

static int tl_passed, tl_failed, tl_cur_failed;

#define TEST(name) static void name(void)

#define RUN(name)                                                                              \
    do {                                                                                       \
        tl_cur_failed = 0;                                                                     \
        name();                                                                                \
        if (tl_cur_failed) {                                                                   \
            tl_failed++;                                                                       \
            fprintf(stderr, "FAIL %s\n", #name);                                               \
        } else {                                                                               \
            tl_passed++;                                                                       \
            printf("ok   %s\n", #name);                                                        \
        }                                                                                      \
        fflush(stdout);                                                                        \
    } while (0)

#define TL_FAIL_(...)                                                                          \
    do {                                                                                       \
        fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                                        \
        fprintf(stderr, __VA_ARGS__);                                                          \
        fputc('\n', stderr);                                                                   \
        tl_cur_failed = 1;                                                                     \
    } while (0)

#define TL_CHECK_(ret, cond, ...)                                                              \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            TL_FAIL_(__VA_ARGS__);                                                             \
            ret;                                                                               \
        }                                                                                      \
    } while (0)

#define TL_EQ_(ret, a, b)                                                                      \
    do {                                                                                       \
        long long tl_a = (long long)(a), tl_b = (long long)(b);                                \
        TL_CHECK_(ret, tl_a == tl_b, "%s == %s: %lld != %lld", #a, #b, tl_a, tl_b);            \
    } while (0)

#define TL_STREQ_(ret, a, b)                                                                   \
    do {                                                                                       \
        const char *tl_a = (a), *tl_b = (b);                                                   \
        TL_CHECK_(ret, tl_a && tl_b && strcmp(tl_a, tl_b) == 0, "%s == %s: \"%s\" != \"%s\"", \
                  #a, #b, tl_a ? tl_a : "(null)", tl_b ? tl_b : "(null)");                     \
    } while (0)

#define TL_NEAR_(ret, a, b, tol)                                                               \
    do {                                                                                       \
        double tl_a = (a), tl_b = (b), tl_t = (tol);                                           \
        TL_CHECK_(ret, fabs(tl_a - tl_b) <= tl_t, "%s ~ %s: %.9g vs %.9g (diff %.3g > %.3g)", \
                  #a, #b, tl_a, tl_b, fabs(tl_a - tl_b), tl_t);                                \
    } while (0)

#define TL_CONTAINS_(ret, hay, needle)                                                         \
    do {                                                                                       \
        const char *tl_h = (hay), *tl_n = (needle);                                            \
        TL_CHECK_(ret, tl_h && strstr(tl_h, tl_n), "%s contains \"%s\": got \"%s\"", #hay,     \
                  tl_n, tl_h ? tl_h : "(null)");                                               \
    } while (0)

#define ASSERT(cond) TL_CHECK_(return, cond, "ASSERT(%s) failed", #cond)
#define ASSERT_EQ(a, b) TL_EQ_(return, a, b)
#define ASSERT_STREQ(a, b) TL_STREQ_(return, a, b)
#define ASSERT_NEAR(a, b, tol) TL_NEAR_(return, a, b, tol)
#define ASSERT_CONTAINS(h, n) TL_CONTAINS_(return, h, n)

#define EXPECT(cond) TL_CHECK_((void)0, cond, "EXPECT(%s) failed", #cond)
#define EXPECT_EQ(a, b) TL_EQ_((void)0, a, b)
#define EXPECT_STREQ(a, b) TL_STREQ_((void)0, a, b)
#define EXPECT_NEAR(a, b, tol) TL_NEAR_((void)0, a, b, tol)
#define EXPECT_CONTAINS(h, n) TL_CONTAINS_((void)0, h, n)

#define TL_DONE()                                                                              \
    (printf("%d passed, %d failed\n", tl_passed, tl_failed), tl_failed ? 1 : 0)

/* iso formats t as the API writes times; the last 8 results stay valid,
 * so one printf may use several. */
static inline const char *iso(dc_time t)
{
    static char buf[8][DC_TIME_BUFLEN];
    static int k;
    k = (k + 1) % 8;
    return dc_time_format(t, buf[k]);
}

#endif
