/* test_time: RFC 3339 parsing and formatting (dctime). Expected epoch
 * values were computed independently (GNU date -u -d ... +%s). */
#include "dctime.h"
#include "testlib.h"

static dc_time P(const char *s)
{
    dc_time t = -12345;
    if (dc_time_parse(s, &t) != 0)
        return INT64_MIN;
    return t;
}

static const char *F(dc_time t)
{
    static char buf[DC_TIME_BUFLEN];
    return dc_time_format(t, buf);
}

TEST(epoch_and_known_instants)
{
    EXPECT_EQ(P("1970-01-01T00:00:00Z"), 0);
    EXPECT_EQ(P("2017-02-09T05:00:00Z"), 1486616400LL * DC_USEC);
    EXPECT_EQ(P("2000-03-01T00:00:00Z"), 951868800LL * DC_USEC);
    EXPECT_EQ(P("1969-12-31T23:59:59Z"), -1LL * DC_USEC);
    EXPECT_EQ(P("0001-01-01T00:00:00Z"), -62135596800LL * DC_USEC);
    EXPECT_EQ(P("9999-12-31T23:59:59Z"), 253402300799LL * DC_USEC);
    EXPECT_EQ(P("2038-01-19T03:14:08Z"), 2147483648LL * DC_USEC);
    /* lower-case t and z are allowed by RFC 3339 */
    EXPECT_EQ(P("2017-02-09t05:00:00z"), 1486616400LL * DC_USEC);
}

TEST(fractions)
{
    dc_time base = 1486616400LL * DC_USEC;
    EXPECT_EQ(P("2017-02-09T05:00:00.5Z"), base + 500000);
    EXPECT_EQ(P("2017-02-09T05:00:00.123456Z"), base + 123456);
    EXPECT_EQ(P("2017-02-09T05:00:00.000001Z"), base + 1);
    EXPECT_EQ(P("2017-02-09T05:00:00.999999Z"), base + 999999);
    /* digits beyond microseconds are truncated, not rounded */
    EXPECT_EQ(P("2017-02-09T05:00:00.123456789Z"), base + 123456);
    EXPECT_EQ(P("2017-02-09T05:00:00.0Z"), base);
    EXPECT_EQ(P("1969-12-31T23:59:59.5Z"), -500000);
    EXPECT_EQ(P("2017-02-09T05:00:00."), INT64_MIN);   /* no digits */
    EXPECT_EQ(P("2017-02-09T05:00:00.Z"), INT64_MIN);  /* no digits */
    EXPECT_EQ(P("2017-02-09T05:00:00,5Z"), INT64_MIN); /* comma */
}

TEST(offsets)
{
    dc_time base = 1486616400LL * DC_USEC;
    EXPECT_EQ(P("2017-02-09T08:00:00+03:00"), base);
    EXPECT_EQ(P("2017-02-09T00:30:00-04:30"), base);
    EXPECT_EQ(P("2017-02-09T05:00:00+00:00"), base);
    EXPECT_EQ(P("2017-02-09T05:00:00-00:00"), base);
    EXPECT_EQ(P("2017-02-10T04:59:00+23:59"), base);
    EXPECT_EQ(P("2017-02-09T06:00:00.25+01:00"), base + 250000);
    /* an offset crossing a year boundary */
    EXPECT_EQ(P("2016-12-31T23:00:00-01:00"), P("2017-01-01T00:00:00Z"));
    EXPECT_EQ(P("2017-02-09T05:00:00+0300"), INT64_MIN);
    EXPECT_EQ(P("2017-02-09T05:00:00+03"), INT64_MIN);
    EXPECT_EQ(P("2017-02-09T05:00:00+24:00"), INT64_MIN);
    EXPECT_EQ(P("2017-02-09T05:00:00+03:60"), INT64_MIN);
    EXPECT_EQ(P("2017-02-09T05:00:00+03:00Z"), INT64_MIN);
    EXPECT_EQ(P("2017-02-09T05:00:00"), INT64_MIN); /* offset required */
}

TEST(leap_years)
{
    EXPECT_EQ(P("2016-02-29T00:00:00Z"), 1456704000LL * DC_USEC);
    EXPECT_EQ(P("2000-02-29T12:00:00Z"), 951825600LL * DC_USEC);
    EXPECT_EQ(P("2400-02-29T00:00:00Z"), 13574563200LL * DC_USEC);
    EXPECT_EQ(P("2017-02-29T00:00:00Z"), INT64_MIN);
    EXPECT_EQ(P("1900-02-29T00:00:00Z"), INT64_MIN);
    EXPECT_EQ(P("2100-02-29T00:00:00Z"), INT64_MIN);
    EXPECT_EQ(P("2016-02-30T00:00:00Z"), INT64_MIN);
    EXPECT_EQ(P("2016-03-01T00:00:00Z") - P("2016-02-28T00:00:00Z"), 2 * 86400LL * DC_USEC);
    EXPECT_EQ(P("2017-03-01T00:00:00Z") - P("2017-02-28T00:00:00Z"), 1 * 86400LL * DC_USEC);
    EXPECT_EQ(P("2016-12-31T00:00:00Z") - P("2016-01-01T00:00:00Z"), 365 * 86400LL * DC_USEC);
}

TEST(month_lengths)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    char buf[32];
    for (int m = 1; m <= 12; m++) {
        snprintf(buf, sizeof buf, "2017-%02d-%02dT00:00:00Z", m, days[m - 1]);
        EXPECT(P(buf) != INT64_MIN);
        snprintf(buf, sizeof buf, "2017-%02d-%02dT00:00:00Z", m, days[m - 1] + 1);
        EXPECT_EQ(P(buf), INT64_MIN);
    }
}

TEST(leap_second)
{
    /* 23:59:60 is accepted and counted as the last second of the minute */
    EXPECT_EQ(P("2016-12-31T23:59:60Z"), P("2016-12-31T23:59:59Z"));
    EXPECT_EQ(P("2016-12-31T23:59:61Z"), INT64_MIN);
}

TEST(invalid_inputs)
{
    static const char *const bad[] = {
        "",
        "2017",
        "2017-02-09",
        "2017-02-09 05:00:00Z",
        "2017-02-09X05:00:00Z",
        "2017-2-09T05:00:00Z",
        "2017-02-9T05:00:00Z",
        "2017-02-09T5:00:00Z",
        "17-02-09T05:00:00Z",
        "+2017-02-09T05:00:00Z",
        "0000-01-01T00:00:00Z",
        "2017-00-09T05:00:00Z",
        "2017-13-09T05:00:00Z",
        "2017-02-00T05:00:00Z",
        "2017-02-09T24:00:00Z",
        "2017-02-09T05:60:00Z",
        "2017-02-09T05:00:00ZZ",
        "2017-02-09T05:00:00Z ",
        " 2017-02-09T05:00:00Z",
        "2017-02-09T05:00:00.1234567890Z", /* more than nine fraction digits */
        "2017-02-09T05:00:00+03:00:00",
        "2017-02-09T05:00:00+3:00",
        "2017-02-09T05:00:0aZ",
        "2017/02/09T05:00:00Z",
        "2017-02-09T05-00-00Z",
        "abcd-ef-ghTij:kl:mnZ",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        dc_time t = 42;
        int rc = dc_time_parse(bad[i], &t);
        if (rc != -1)
            TL_FAIL_("accepted invalid \"%s\" (rc %d, t %lld)", bad[i], rc, (long long)t);
    }
    dc_time t;
    EXPECT_EQ(dc_time_parse(NULL, &t), -1);
}

TEST(format)
{
    EXPECT_STREQ(F(0), "1970-01-01T00:00:00Z");
    EXPECT_STREQ(F(1486616400LL * DC_USEC), "2017-02-09T05:00:00Z");
    EXPECT_STREQ(F(1486616400LL * DC_USEC + 500000), "2017-02-09T05:00:00.500000Z");
    EXPECT_STREQ(F(1486616400LL * DC_USEC + 1), "2017-02-09T05:00:00.000001Z");
    EXPECT_STREQ(F(-1), "1969-12-31T23:59:59.999999Z");
    EXPECT_STREQ(F(-500000), "1969-12-31T23:59:59.500000Z");
    EXPECT_STREQ(F(-62135596800LL * DC_USEC), "0001-01-01T00:00:00Z");
    EXPECT_STREQ(F(253402300799LL * DC_USEC + 999999), "9999-12-31T23:59:59.999999Z");
    EXPECT_STREQ(F(1456704000LL * DC_USEC), "2016-02-29T00:00:00Z");
}

TEST(round_trip)
{
    /* A deterministic sweep over the whole supported range, with and
     * without fractions: format(parse(format(t))) == format(t). */
    unsigned long long x = 88172645463325252ULL;
    dc_time lo = -62135596800LL * DC_USEC, hi = 253402300799LL * DC_USEC;
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        dc_time t = lo + (dc_time)(x % (unsigned long long)(hi - lo));
        if (i % 2)
            t -= t % DC_USEC; /* whole seconds too */
        char buf[DC_TIME_BUFLEN];
        dc_time_format(t, buf);
        dc_time back;
        if (dc_time_parse(buf, &back) != 0 || back != t) {
            TL_FAIL_("round trip of %lld: \"%s\" -> %lld", (long long)t, buf, (long long)back);
            return;
        }
    }
}

int main(void)
{
    RUN(epoch_and_known_instants);
    RUN(fractions);
    RUN(offsets);
    RUN(leap_years);
    RUN(month_lengths);
    RUN(leap_second);
    RUN(invalid_inputs);
    RUN(format);
    RUN(round_trip);
    return TL_DONE();
}
