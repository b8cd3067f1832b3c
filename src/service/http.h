/* http: the HTTP/1.1 JSON API of SPEC section 4 over libmicrohttpd (epoll,
 * internal thread pool), the event long poll and Server-Sent Events, the
 * static web UI, /healthz and /metrics. Sits above svc; knows nothing of
 * SQLite or the engine's internals. Limits: docs/limits.md. */
#ifndef DC_HTTP_H
#define DC_HTTP_H

#include <stddef.h>

#include "svc.h"

typedef struct http_server http_server;

typedef struct {
    const char *listen;      /* "ADDR:PORT" (IPv4 or [IPv6]) */
    const char *web_dir;     /* static files; NULL or missing: placeholder page */
    const char *admin_token; /* NULL: admin API off */
    int threads;             /* thread pool size */
    int idle_timeout_s;      /* idle or stalled connection is closed after this */
    int heartbeat_s;         /* SSE heartbeat interval */
} http_options;

/* http_start starts serving s. Returns 0, or -1 with a message. */
int http_start(svc *s, const http_options *o, http_server **out, char *errbuf, size_t n);
/* http_port returns the bound port. */
int http_port(http_server *h);
/* http_stop answers parked long polls and streams, then stops. */
void http_stop(http_server *h);

/* Limits (docs/limits.md). */
#define HTTP_MAX_BODY (16u * 1024 * 1024)
#define HTTP_MAX_DEPTH 32
#define HTTP_MAX_WAIT_S 60
#define HTTP_MAX_EVENTS 1000
#define HTTP_DEFAULT_EVENTS 100
#define HTTP_EVENTS_MAX_BYTES (4u * 1024 * 1024)
#define HTTP_SSE_BUFFER (256u * 1024)
#define HTTP_SSE_SNDBUF (64 * 1024)
#define HTTP_MAX_CONNECTIONS 1000

#endif
