/* engine: the deconfliction engine. Parties, sites, units, operations and
 * the conflicts between them, kept incrementally.
 *
 * Pure: no I/O, no clock, no globals. Every mutating call takes "now" and
 * reports what it changed (conflicts opened, changed, acknowledged,
 * overridden, resolved) in a dc_changes list, which the service turns into
 * log records and per-party events. Conflict ids ("c-1", "c-2", ...) are
 * assigned in a deterministic order, so replaying the same calls yields
 * the same ids.
 *
 * Need-to-know is enforced here, not in the HTTP layer: every read takes
 * the viewing party and returns only what SPEC section 4 allows it to see.
 *
 * Threading: an engine is not thread-safe; the caller serialises access.
 *
 * Ownership: bodies passed in are borrowed (copied as needed). JSON values
 * returned are new references owned by the caller. */
#ifndef DC_ENGINE_H
#define DC_ENGINE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "dctime.h"

typedef struct dc_engine dc_engine;
typedef struct dc_conflict dc_conflict;

typedef enum {
    DC_OK = 0,
    DC_ERR_MALFORMED, /* 400: wrong JSON shape or type */
    DC_ERR_INVALID,   /* 422: well-formed but invalid values */
    DC_ERR_NOTFOUND,  /* 404 */
    DC_ERR_FORBIDDEN, /* 403: exists but is not yours */
    DC_ERR_STATE,     /* 409: state conflict, interlock */
    DC_ERR_EXISTS,    /* 409: id already taken */
    DC_ERR_TOOLARGE,  /* 413: over a documented limit */
    DC_ERR_NOMEM,     /* 503: out of memory, nothing changed */
} dc_status;

typedef struct {
    dc_status code;
    char field[160];
    char message[320];
    json_t *detail; /* optional extra (e.g. blocking conflicts); owned */
} dc_error;

/* dc_status_name returns a stable code string ("invalid", "not_found"...). */
const char *dc_status_name(dc_status s);
/* dc_status_http returns the HTTP status for s. */
int dc_status_http(dc_status s);
/* dc_error_clear releases err->detail and resets err. */
void dc_error_clear(dc_error *err);

/* Limits (docs/limits.md). */
#define DC_MAX_VOLUMES 1000
#define DC_MAX_BATCH 10000
#define DC_MAX_PARTIES 1000
#define DC_MAX_NAME 256
#define DC_MAX_NOTE 1000
#define DC_FUTURE_SLACK_US (60 * DC_USEC)

/* ---- change reports ---- */

typedef enum {
    DC_CH_OPENED,
    DC_CH_CHANGED, /* severity, stale flag or window changed */
    DC_CH_ACKED,
    DC_CH_OVERRIDDEN,
    DC_CH_RESOLVED,
} dc_change_type;

typedef struct {
    dc_change_type type;
    dc_conflict *conflict; /* valid for the engine's lifetime */
    const char *by_party;  /* ACKED / OVERRIDDEN: who (borrowed) */
} dc_change;

typedef struct {
    dc_change *v;
    size_t n, cap;
} dc_changes;

void dc_changes_init(dc_changes *c);
void dc_changes_free(dc_changes *c);

/* ---- lifetime ---- */

/* dc_engine_new returns an empty engine, or NULL when out of memory. */
dc_engine *dc_engine_new(void);
void dc_engine_free(dc_engine *e);

/* ---- parties and sharing ---- */

/* dc_party_add creates a party. id matches [A-Za-z0-9_-]{1,32}.
 * stale_after_s <= 0 means the default (600). */
dc_status dc_party_add(dc_engine *e, const char *id, const char *name, int64_t stale_after_s,
                       dc_error *err);
int dc_party_exists(const dc_engine *e, const char *id);
/* dc_parties_json returns [{"id", "name"}...]. */
json_t *dc_parties_json(const dc_engine *e);
/* dc_sharing_set lets `to` list `from`'s units and/or operations. */
dc_status dc_sharing_set(dc_engine *e, const char *from, const char *to, int units, int operations,
                         dc_error *err);

/* ---- writes (each reports its conflict changes into ch) ---- */

/* dc_site_put creates (create=1: 409 if it exists) or replaces a site of
 * party (create=0: replaces, or creates when new). id may be NULL to take
 * it from body; when both are given they must agree. */
dc_status dc_site_put(dc_engine *e, const char *party, const char *id, const json_t *body, int create,
                      dc_time now, dc_changes *ch, dc_error *err);
dc_status dc_site_delete(dc_engine *e, const char *party, const char *id, dc_time now,
                         dc_changes *ch, dc_error *err);

/* dc_parsed: an operation's or a site's body, validated and built (its
 * geometry too) without an engine, so that a caller which holds the
 * engine under a lock can do that part, which can be long (a ring's
 * simplicity check), before taking it. dc_site_parse and
 * dc_operation_parse take id and body as dc_site_put and
 * dc_operation_put do and give the same errors; *out (dc_parsed_free) on
 * success. The *_put_parsed calls then do what dc_site_put and
 * dc_operation_put do after parsing; they take pp in every case. */
typedef struct dc_parsed dc_parsed;
/* dc_party_check: DC_OK, or the DC_ERR_NOTFOUND every write of an unknown
 * party gets (checked before the body, which a caller that parses first
 * may want to keep). */
dc_status dc_party_check(const dc_engine *e, const char *party, dc_error *err);
dc_status dc_site_parse(const char *id, const json_t *body, dc_parsed **out, dc_error *err);
dc_status dc_operation_parse(const char *id, const json_t *body, dc_parsed **out, dc_error *err);
void dc_parsed_free(dc_parsed *pp);
dc_status dc_site_put_parsed(dc_engine *e, const char *party, dc_parsed *pp, int create,
                             dc_time now, dc_changes *ch, dc_error *err);

/* dc_unit_put registers or updates a unit ({callsign, domain}). */
dc_status dc_unit_put(dc_engine *e, const char *party, const char *id, const json_t *body,
                      dc_time now, dc_changes *ch, dc_error *err);
dc_status dc_unit_delete(dc_engine *e, const char *party, const char *id, dc_time now,
                         dc_changes *ch, dc_error *err);

/* dc_positions_report validates a batch {"reports": [...]} as a whole (one
 * bad report rejects it, naming its index), then applies it in order.
 * *accepted is the number of reports recorded. */
dc_status dc_positions_report(dc_engine *e, const char *party, const json_t *body, dc_time now,
                              size_t *accepted, dc_changes *ch, dc_error *err);

/* dc_position_report applies one already-validated report (fast path for
 * benchmarks and the scenario loader). alt_m may be NAN for "no altitude". */
dc_status dc_position_report(dc_engine *e, const char *party, const char *unit, double lon,
                             double lat, double alt_m, double ce_m, dc_time t, dc_time now,
                             dc_changes *ch, dc_error *err);

/* dc_unit_find returns a handle to a party's unit, or NULL when there is
 * none. The handle stays valid until the unit is deleted (or the engine
 * freed); it lets a caller that checked a batch's units apply the batch
 * without finding each unit again. */
typedef struct dc_unit_ref dc_unit_ref;
dc_unit_ref *dc_unit_find(const dc_engine *e, const char *party, const char *unit);
/* dc_position_report_unit is dc_position_report for a unit found with
 * dc_unit_find. */
dc_status dc_position_report_unit(dc_engine *e, dc_unit_ref *u, double lon, double lat,
                                  double alt_m, double ce_m, dc_time t, dc_time now,
                                  dc_changes *ch, dc_error *err);

/* ---- batches of position reports (ingest.c) ----
 * The same reports as dc_position_report takes, many at a time, so that
 * the engine can ask the CPU for the next reports' units, conflicts and
 * neighbour lists while it works on the current one. */

/* One position report; unit is borrowed. alt_m may be NAN. */
typedef struct {
    const char *unit;
    double lon, lat, alt_m, ce_m;
    dc_time t;
} dc_report;

/* dc_units_find is dc_unit_find for the units of r[0..n) of party, into
 * out[0..n). Returns the index of the first report whose unit does not
 * exist (out[i] is NULL; out[i+1..n) are not set), or n when all do. */
size_t dc_units_find(const dc_engine *e, const char *party, const dc_report *r, size_t n,
                     dc_unit_ref **out);

/* dc_position_report_batch applies r[0..n) for party exactly as n calls of
 * dc_position_report in order would: the same changes, appended to ch (may
 * be NULL) in the same order, and it stops at the first report that fails,
 * returning that call's status and error (the reports before it stay
 * applied). *accepted (may be NULL) is the number applied. ch_end (may be
 * NULL) receives, for each report applied, ch->n right after it (0 when ch
 * is NULL), so that a caller can tell which report made which change. */
dc_status dc_position_report_batch(dc_engine *e, const char *party, const dc_report *r, size_t n,
                                   dc_time now, dc_changes *ch, size_t *ch_end, size_t *accepted,
                                   dc_error *err);

/* dc_position_report_units is dc_position_report_batch for units found
 * already (u[i] from dc_unit_find or dc_units_find for r[i]; none NULL):
 * n calls of dc_position_report_unit in order. */
dc_status dc_position_report_units(dc_engine *e, dc_unit_ref *const *u, const dc_report *r,
                                   size_t n, dc_time now, dc_changes *ch, size_t *ch_end,
                                   size_t *accepted, dc_error *err);

/* dc_unit_prefetch asks the CPU to start loading what a coming report of
 * u will read, one level of pointers per stage: 0 the unit block, 1 its
 * conflict and neighbour lists, 2 their items, 3 the objects those point
 * to. Give a unit its stages in order, a few reports apart, before its
 * report: the batch calls above do this within a batch (ingest.c, which
 * also says how far ahead), a restart across records of one report. A
 * hint only: it changes nothing and follows only the current pointers of
 * a live unit. */
void dc_unit_prefetch(const dc_unit_ref *u, int stage);

dc_status dc_operation_put(dc_engine *e, const char *party, const char *id, const json_t *body,
                           int create, dc_time now, dc_changes *ch, dc_error *err);
dc_status dc_operation_put_parsed(dc_engine *e, const char *party, dc_parsed *pp, int create,
                                  dc_time now, dc_changes *ch, dc_error *err);
dc_status dc_operation_delete(dc_engine *e, const char *party, const char *id, dc_time now,
                              dc_changes *ch, dc_error *err);

typedef enum { DC_OP_PLANNED, DC_OP_ACTIVE, DC_OP_ENDED, DC_OP_CANCELLED } dc_op_state;

/* dc_operation_activate activates a planned operation. While a critical
 * open conflict involving it lacks an acknowledgement from either side it
 * fails with DC_ERR_STATE and err->detail = {"blocking": [conflict views]},
 * unless override_reason is non-NULL and non-empty, which activates anyway
 * and reports DC_CH_OVERRIDDEN for each blocking conflict. */
dc_status dc_operation_activate(dc_engine *e, const char *party, const char *id,
                                const char *override_reason, dc_time now, dc_changes *ch,
                                dc_error *err);
/* dc_operation_end / dc_operation_cancel: state changes (409 when ended or
 * cancelled already). */
dc_status dc_operation_end(dc_engine *e, const char *party, const char *id, dc_time now,
                           dc_changes *ch, dc_error *err);
dc_status dc_operation_cancel(dc_engine *e, const char *party, const char *id, dc_time now,
                              dc_changes *ch, dc_error *err);

/* dc_conflict_ack records party's acknowledgement of an open conflict it is
 * a side of. DC_ERR_NOTFOUND when it does not exist, DC_ERR_FORBIDDEN when
 * party is not a side, DC_ERR_STATE when it is resolved. */
dc_status dc_conflict_ack(dc_engine *e, const char *party, const char *conflict_id,
                          const char *note, dc_time now, dc_changes *ch, dc_error *err);

/* dc_advance moves the engine's notion of now forward: volumes, sites and
 * operations that ended resolve their conflicts; stale flags change. */
dc_status dc_advance(dc_engine *e, dc_time now, dc_changes *ch);

/* ---- reads (need-to-know applied for `party`) ---- */

/* dc_check returns {"conflicts": [...]} that the operation body would open
 * for party, without storing anything. */
dc_status dc_check(dc_engine *e, const char *party, const json_t *body, dc_time now,
                   json_t **out, dc_error *err);
/* dc_check_parse and dc_check_parsed: dc_check in two parts, as the puts
 * above (the body parsed without the engine; pp taken in every case). */
dc_status dc_check_parse(const json_t *body, dc_parsed **out, dc_error *err);
dc_status dc_check_parsed(dc_engine *e, const char *party, dc_parsed *pp, dc_time now,
                          json_t **out, dc_error *err);

json_t *dc_sites_json(const dc_engine *e, const char *party);
json_t *dc_units_json(const dc_engine *e, const char *party, dc_time now);
json_t *dc_operations_json(const dc_engine *e, const char *party);
/* Single objects: ids name the party's own objects (ids are unique per
 * owner), so anything else is DC_ERR_NOTFOUND. */
dc_status dc_site_json(const dc_engine *e, const char *party, const char *id, json_t **out,
                       dc_error *err);
dc_status dc_operation_json(const dc_engine *e, const char *party, const char *id, json_t **out,
                            dc_error *err);
dc_status dc_unit_json(const dc_engine *e, const char *party, const char *id, dc_time now,
                       json_t **out, dc_error *err);
/* dc_conflicts_json lists conflicts party is a side of; state is NULL,
 * "open" or "resolved". */
json_t *dc_conflicts_json(const dc_engine *e, const char *party, const char *state);
/* dc_cop_json returns a GeoJSON FeatureCollection of all party may see. */
json_t *dc_cop_json(const dc_engine *e, const char *party, dc_time now);

/* ---- conflicts ---- */

/* dc_conflict_view returns the conflict as `party` sees it (SPEC 4), or
 * NULL when party is not a side. */
json_t *dc_conflict_view(const dc_engine *e, const dc_conflict *c, const char *party);

/* What a side of a conflict may see of it (SPEC 4, need-to-know), as plain
 * fields: dc_conflict_facts_get applies the rules, and dc_conflict_view
 * (JSON) and the service's event writer (text, evbody.c) both render what
 * it gives. A field not shown is not set. Strings and geometries are
 * borrowed from the engine and valid until its next write. */
enum {
    DC_FACTS_NONE, /* the other object identified only ("geometry": null) */
    DC_FACTS_OP,
    DC_FACTS_SITE,
    DC_FACTS_UNIT, /* with a position when unit_has_pos, else "geometry": null */
};

typedef struct {
    const json_t *geometry; /* the engine's own */
    dc_time start, end;
    int has_radius, has_lower, has_upper;
    double radius_m, alt_lower_m, alt_upper_m;
} dc_volume_facts;

typedef struct {
    const char *id;
    int open, critical, stale;
    double distance_m; /* as shown (rounded to 0.1 m) */
    dc_time window_start, window_end, opened_at;
    dc_time resolved_at; /* shown when !open, else null */
    const char *mine_type, *mine_id;
    /* "acks": one key per party (one when both sides are one party);
     * ack_at 0 shows null */
    int nacks;
    const char *ack_party[2];
    dc_time ack_at[2];
    const char *note; /* the viewer's own note, or NULL */
    /* "other" */
    const char *other_party, *other_type, *other_id;
    int other_shows; /* DC_FACTS_* */
    const char *other_kind; /* not for DC_FACTS_NONE */
    /* DC_FACTS_OP */
    const char *op_state;
    int nvol; /* dc_conflict_facts_volume gives each */
    const void *op_;
    /* DC_FACTS_SITE */
    const json_t *site_geometry;
    double site_radius_m, site_standoff_m;
    int site_has_from, site_has_to;
    dc_time site_valid_from, site_valid_to;
    /* DC_FACTS_UNIT */
    int unit_has_pos, unit_has_alt;
    double unit_lon, unit_lat, unit_ce_m, unit_alt_m;
    dc_time unit_time;
} dc_conflict_facts;

/* dc_conflict_facts_get fills f with what party may see of c (what
 * dc_conflict_view(e, c, party) shows). Returns 0, or -1 when party is not
 * a side (the view is NULL). */
int dc_conflict_facts_get(const dc_engine *e, const dc_conflict *c, const char *party,
                          dc_conflict_facts *f);
/* dc_conflict_facts_volume gives volume i (0 <= i < f->nvol) of the other
 * side's operation (DC_FACTS_OP). */
void dc_conflict_facts_volume(const dc_conflict_facts *f, int i, dc_volume_facts *v);

const char *dc_conflict_id(const dc_conflict *c);
/* dc_conflict_sides returns the two parties of c (borrowed). */
void dc_conflict_sides(const dc_conflict *c, const char **a, const char **b);
int dc_conflict_is_open(const dc_conflict *c);
dc_conflict *dc_conflict_find(const dc_engine *e, const char *id);

/* dc_conflicts_pairs_json returns the `deconflict check --json` list of
 * open conflicts: [{"a": {party, type, id}, "b": ..., severity,
 * distance_m, stale}]; a is the operation. */
json_t *dc_conflicts_pairs_json(const dc_engine *e);

/* ---- statistics and checks ---- */

typedef struct {
    size_t parties, sites, units, operations, volumes;
    size_t conflicts_open, conflicts_total;
    size_t index_bytes;
} dc_stats;
void dc_engine_stats(const dc_engine *e, dc_stats *st);

/* dc_engine_check verifies the engine's invariants: indexes hold exactly
 * the current objects with boxes containing their shapes; every open
 * conflict is listed by both its objects. Returns 0, or -1 with a message
 * in buf. */
int dc_engine_check(const dc_engine *e, char *buf, size_t len);

/* dc_engine_recompute evaluates every pair from scratch, with no index,
 * and compares with the incremental state. Returns 0 when identical
 * (same pairs open, same severity, stale flag and distance), or -1 with a
 * description of the first difference in buf. */
int dc_engine_recompute_check(const dc_engine *e, dc_time now, char *buf, size_t len);

#endif
