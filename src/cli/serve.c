/* serve: the `serve`, `party add` and `audit verify` subcommands (SPEC
 * section 6). Thin: argument parsing, signals and printing; the work is
 * in src/service (svc, http, store). */
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "http.h"
#include "slog.h"
#include "svc.h"

#define DEFAULT_DATA "deconflict-data"
#define DEFAULT_LISTEN "127.0.0.1:8080"
#define DEFAULT_WEB "web/dist"

static void serve_usage(FILE *f)
{
    fprintf(f,
            "usage: deconflict serve [--data DIR] [--listen ADDR:PORT] [--clock-start T]\n"
            "                        [--scenario FILE] [--web DIR] [--threads N]\n"
            "                        [--idle-timeout S] [--heartbeat S] [--quiet]\n"
            "  --data DIR          data directory (default " DEFAULT_DATA ")\n"
            "  --listen ADDR:PORT  address to listen on (default " DEFAULT_LISTEN ")\n"
            "  --clock-start T     run the clock from RFC 3339 time T (default: real UTC)\n"
            "  --scenario FILE     load a scenario into a fresh data directory\n"
            "  --web DIR           static web UI (default " DEFAULT_WEB ")\n"
            "  --idle-timeout S    close idle or stalled connections after S s (default 60)\n"
            "  --heartbeat S       SSE heartbeat interval (default 15)\n"
            "environment: DECONFLICT_ADMIN_TOKEN enables the admin API (POST /v1/parties)\n");
}

static int int_arg(const char *v, int lo, int hi, int *out)
{
    char *end;
    long x = strtol(v, &end, 10);
    if (!*v || *end || x < lo || x > hi)
        return -1;
    *out = (int)x;
    return 0;
}

int cli_serve(int argc, char **argv)
{
    const char *data = DEFAULT_DATA, *listen = DEFAULT_LISTEN, *scenario = NULL;
    const char *clock = NULL, *web = NULL;
    int threads = 4, idle = 60, heartbeat = 15;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            serve_usage(stdout);
            return 0;
        } else if (strcmp(a, "--quiet") == 0) {
            slog_set_quiet(1);
            continue;
        }
        if (!v) {
            fprintf(stderr, "deconflict serve: %s needs a value\n", a);
            serve_usage(stderr);
            return 2;
        }
        if (strcmp(a, "--data") == 0)
            data = v;
        else if (strcmp(a, "--listen") == 0)
            listen = v;
        else if (strcmp(a, "--clock-start") == 0)
            clock = v;
        else if (strcmp(a, "--scenario") == 0)
            scenario = v;
        else if (strcmp(a, "--web") == 0)
            web = v;
        else if (strcmp(a, "--threads") == 0)
            bad = int_arg(v, 1, 256, &threads);
        else if (strcmp(a, "--idle-timeout") == 0)
            bad = int_arg(v, 1, 86400, &idle);
        else if (strcmp(a, "--heartbeat") == 0)
            bad = int_arg(v, 1, 3600, &heartbeat);
        else {
            fprintf(stderr, "deconflict serve: unknown option %s\n", a);
            serve_usage(stderr);
            return 2;
        }
        if (bad) {
            fprintf(stderr, "deconflict serve: bad value for %s: %s\n", a, v);
            return 2;
        }
        i++;
    }
    svc_options o = {0};
    o.data_dir = data;
    if (clock) {
        if (dc_time_parse(clock, &o.clock_start) != 0) {
            fprintf(stderr, "deconflict serve: --clock-start wants an RFC 3339 time, got '%s'\n",
                    clock);
            return 2;
        }
        o.has_clock_start = 1;
    }
    if (!web) {
        web = DEFAULT_WEB;
#ifdef DC_WEB_DIR
        if (access(web, R_OK) != 0)
            web = DC_WEB_DIR;
#endif
    }
    json_t *scen = NULL;
    if (scenario) {
        json_error_t jerr;
        scen = json_load_file(scenario, JSON_REJECT_DUPLICATES, &jerr);
        if (!scen) {
            fprintf(stderr, "deconflict serve: %s:%d:%d: %s\n", scenario, jerr.line, jerr.column,
                    jerr.text);
            return 2;
        }
    }

    /* Signals are taken synchronously by the main thread; every other
     * thread inherits the blocked mask. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    char errbuf[512], q[600];
    svc *s = NULL;
    if (svc_open(&o, &s, errbuf, sizeof errbuf) != 0) {
        slog_error("start_failed", "\"error\":\"%s\"", slog_quote(errbuf, q, sizeof q));
        fprintf(stderr, "deconflict serve: %s\n", errbuf);
        json_decref(scen);
        return 1;
    }
    json_t *tokens = NULL;
    if (scen) {
        if (!svc_is_empty(s)) {
            fprintf(stderr, "deconflict serve: --scenario needs a fresh data directory (%s has a "
                            "log)\n",
                    data);
            json_decref(scen);
            svc_close(s);
            return 2;
        }
        dc_error err = {0};
        dc_status st = svc_load_scenario(s, scen, &tokens, &err);
        json_decref(scen);
        if (st != DC_OK) {
            fprintf(stderr, "deconflict serve: %s: %s: %s\n", scenario, err.field, err.message);
            dc_error_clear(&err);
            json_decref(tokens);
            svc_close(s);
            return 2;
        }
        if (o.has_clock_start)
            svc_clock_set(s, o.clock_start);
    }
    http_options ho = {0};
    ho.listen = listen;
    ho.web_dir = web;
    ho.admin_token = getenv("DECONFLICT_ADMIN_TOKEN");
    ho.threads = threads;
    ho.idle_timeout_s = idle;
    ho.heartbeat_s = heartbeat;
    http_server *h = NULL;
    if (svc_clock_start(s) != 0 || http_start(s, &ho, &h, errbuf, sizeof errbuf) != 0) {
        fprintf(stderr, "deconflict serve: %s\n", errbuf);
        json_decref(tokens);
        svc_close(s);
        return 1;
    }
    char addr[300];
    snprintf(addr, sizeof addr, "%s", listen);
    char *colon = strrchr(addr, ':');
    if (colon)
        snprintf(colon, sizeof addr - (size_t)(colon - addr), ":%d", http_port(h));
    if (tokens) {
        const char *pid;
        json_t *tv;
        printf("deconflict: scenario %s loaded; party tokens (shown once):\n", scenario);
        json_object_foreach(tokens, pid, tv) {
            printf("  %-10s %s\n             http://%s/#party=%s&token=%s\n", pid,
                   json_string_value(tv), addr, pid, json_string_value(tv));
        }
        fflush(stdout);
        json_decref(tokens);
    }
    printf("deconflict: listening on http://%s/\n", addr);
    fflush(stdout);
    slog_info("listening", "\"addr\":\"%s\",\"port\":%d,\"records\":%lld,\"admin_api\":%s",
              slog_quote(addr, q, sizeof q), http_port(h), (long long)svc_record_count(s),
              ho.admin_token && ho.admin_token[0] ? "true" : "false");

    int sig = 0;
    sigwait(&set, &sig);
    slog_info("stopping", "\"signal\":%d", sig);
    http_stop(h);
    svc_close(s);
    slog_info("stopped", "%s", "");
    return 0;
}

int cli_party(int argc, char **argv)
{
    const char *data = NULL, *pos[3] = {NULL, NULL, NULL};
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--data") == 0 && i + 1 < argc)
            data = argv[++i];
        else if (npos < 3 && strncmp(argv[i], "--", 2) != 0)
            pos[npos++] = argv[i];
        else
            npos = 4;
    }
    if (npos != 3 || strcmp(pos[0], "add") != 0 || !data) {
        fprintf(stderr, "usage: deconflict party add ID NAME --data DIR\n");
        return 2;
    }
    /* The record gets the log's own time, so an offline add does not move
     * an exercise clock. */
    svc_options o = {0};
    o.data_dir = data;
    o.has_clock_start = 1;
    o.clock_start = 0;
    char errbuf[512];
    svc *s = NULL;
    if (svc_open(&o, &s, errbuf, sizeof errbuf) != 0) {
        fprintf(stderr, "deconflict party: %s\n", errbuf);
        return 1;
    }
    json_t *body = json_pack("{s:s,s:s}", "id", pos[1], "name", pos[2]);
    svc_result res;
    dc_error err = {0};
    dc_status st = body ? svc_write(s, "party.add", NULL, NULL, body, &res, &err) : DC_ERR_NOMEM;
    json_decref(body);
    int rc = 0;
    if (st != DC_OK) {
        fprintf(stderr, "deconflict party: %s%s%s\n", err.message, err.field[0] ? ": " : "",
                err.field);
        rc = st == DC_ERR_NOMEM ? 1 : 2;
    } else {
        printf("%s\n", res.token);
        svc_result_free(&res);
    }
    dc_error_clear(&err);
    svc_close(s);
    return rc;
}

int cli_audit(int argc, char **argv)
{
    const char *data = NULL;
    int verify = 0, bad = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--data") == 0 && i + 1 < argc)
            data = argv[++i];
        else if (strcmp(argv[i], "verify") == 0 && !verify)
            verify = 1;
        else
            bad = 1;
    }
    if (!verify || !data || bad) {
        fprintf(stderr, "usage: deconflict audit verify --data DIR\n");
        return 2;
    }
    int64_t records = 0;
    char errbuf[512];
    slog_set_quiet(1);
    if (svc_verify(data, &records, errbuf, sizeof errbuf) != 0) {
        printf("FAIL: %s\n", errbuf);
        return 1;
    }
    printf("ok: %lld records, chain and events verified\n", (long long)records);
    return 0;
}
