/* dctime: RFC 3339 UTC timestamps as integer microseconds since the Unix
 * epoch. The engine never reads a clock; every "now" is passed in. */
#ifndef DC_DCTIME_H
#define DC_DCTIME_H

#include <stdint.h>

typedef int64_t dc_time;

#define DC_TIME_MIN INT64_MIN
#define DC_TIME_MAX INT64_MAX
#define DC_USEC 1000000LL

/* dc_time_parse parses an RFC 3339 timestamp ("2017-02-09T05:00:00Z",
 * fractional seconds and numeric offsets allowed; years 0001..9999).
 * Returns 0 and sets *out, or -1 when the text is not such a timestamp. */
int dc_time_parse(const char *s, dc_time *out);

/* dc_time_format writes t as "YYYY-MM-DDTHH:MM:SS[.ffffff]Z" into buf
 * (at least DC_TIME_BUFLEN bytes) and returns buf. */
#define DC_TIME_BUFLEN 40
char *dc_time_format(dc_time t, char *buf);

#endif
