/* engine_int: the engine's internal layout, shared by engine.c (rules and
 * incremental maintenance), model.c (validation of request bodies) and
 * views.c (need-to-know JSON views). Not a public interface. */
#ifndef DC_ENGINE_INT_H
#define DC_ENGINE_INT_H

#include "engine.h"
#include "hmap.h"
#include "rtree.h"
#include "shape.h"

enum { OBJ_SITE = 0, OBJ_UNIT = 1, OBJ_OP = 2 };
enum { DOM_GROUND, DOM_AIR, DOM_SEA };
enum {
    KIND_STRIKE,
    KIND_ARTILLERY,
    KIND_DEMOLITION,
    KIND_AIR_TRANSIT,
    KIND_GROUND_MOVE,
    KIND_CONVOY,
    KIND_OTHER,
};
enum { SEV_WARNING = 1, SEV_CRITICAL = 2 };

extern const char *const dc_kind_names[];
extern const char *const dc_domain_names[];
extern const char *const dc_category_names[];
extern const char *const dc_state_names[];
extern const char *const dc_objtype_names[];

typedef struct party {
    char *id, *name;
    int64_t stale_after_us;
    int idx;
    unsigned char *share_units; /* [to party idx]: may list my units */
    unsigned char *share_ops;
} party;

/* Common header of sites, units and operations. */
typedef struct obj {
    party *owner;
    char *id;
    char *key; /* "OWNER/ID" */
    struct cflist *cf; /* open conflicts this object is a side of; NULL: none
                        * yet (one pointer: a unit is 8 bytes smaller) */
    /* Candidate de-duplication: == obj_gen(engine gen) when already a
     * candidate. 32 bits (a unit is 8 bytes smaller); gather resets every
     * mark when the low 32 bits of gen wrap, so an old mark never matches. */
    uint32_t mark;
    int type;
} obj;

typedef struct cflist {
    int n, cap;
    dc_conflict *v[];
} cflist;

/* obj_ncf and obj_cf read an object's list of open conflicts. */
static inline int obj_ncf(const obj *o)
{
    return o->cf ? o->cf->n : 0;
}

static inline dc_conflict *obj_cf(const obj *o, int i)
{
    return o->cf->v[i];
}

typedef struct site {
    obj h;
    char *name;
    int category;
    json_t *geometry; /* as submitted */
    dc_shape *shape;
    double radius_m, standoff_m;
    dc_time valid_from, valid_to; /* DC_TIME_MIN / DC_TIME_MAX when absent */
    int has_from, has_to;
    int disclose_all;
    int indexed;
    rtree_box box;
} site;

struct nlist; /* engine.c: a unit's neighbour list */

typedef struct unit {
    obj h; /* h.key and h.id point into key[] below: one allocation per unit */
    char *callsign;
    /* Degrees as reported (lon normalised by geo_pt_make). The ECEF point is
     * not kept (24 bytes a unit): unit_pt() recomputes it, bit for bit,
     * and remembers the last one, which a report asks for several times. */
    double lon, lat;
    double alt_m; /* NAN when not reported */
    double ce_m;
    dc_time t;
    /* The index box is the ball (box_c, box_r) with slack: the unit moves
     * within it without reindexing; unit_box() gives its R-tree box. */
    float box_c[3], box_r; /* floats: 16 bytes less per unit. The stored
                            * values define the box (it lies within 0.5 m of
                            * where it was put), and every use reads them. */
    struct nlist *nl; /* the volumes that can matter while it stays in box */
    signed char domain;
    unsigned char has_pos, indexed;
    unsigned char nl_valid; /* nl covers the current index box */
    char key[];             /* "OWNER/ID", then the callsign (engine.c) */
} unit;

struct op;
typedef struct volume {
    struct op *op;
    int idx;
    json_t *geometry;
    double radius_m;
    dc_shape *shape;
    int has_lo, has_hi;
    double alt_lo, alt_hi; /* -inf / +inf when absent */
    dc_time start, end;
    int indexed;
    rtree_box box;
    uint64_t mark; /* == engine gen: within reach of the unit being reconciled */
    /* Valid while mark == engine gen: the witness (shape.h) kept for this
     * volume in that unit's neighbour list. */
    shape_witness *wit;
} volume;

typedef struct op {
    obj h;
    char *name;
    int kind;
    double hazard_m, warning_m;
    int warning_given;
    int nvol;
    volume *vols;
    int state;
    char *override_reason;
} op;

struct dc_conflict {
    /* What a position report of either side reads and writes (reconcile,
     * conflict_update) comes first: the first CONFLICT_HOT bytes, which
     * ingest.c asks the CPU for ahead of the report. Spread over the whole
     * struct (208 bytes, four cache lines), they cost a report waits that
     * the one line it prefetched did not cover. */
    obj *a, *b; /* a is an operation; valid while open */
    int severity, stale;
    double dist;
    dc_time wstart, wend;
    dc_time next_check;            /* re-evaluate when now reaches this */
    double notified_dist;          /* separation last reported in an event */
    dc_time ack_a, ack_b;          /* 0 when not acknowledged */
    double ack_dist_a, ack_dist_b; /* separation when each side acknowledged */
    int open;
    int a_type, b_type;
    uint64_t num;
    char id[24];
    party *pa, *pb;
    char *a_id, *b_id;
    dc_time opened_at, resolved_at;
    char *note_a, *note_b;
};
#define CONFLICT_HOT (offsetof(struct dc_conflict, open) + sizeof(int))

struct dc_engine {
    party **parties;
    int nparties;
    hmap party_by_id;
    hmap sites, units, ops; /* by key */
    rtree *site_tree, *unit_tree, *vol_tree;
    dc_conflict **conflicts; /* all, in id order */
    size_t nconflicts, capconflicts;
    hmap conflict_by_id;
    size_t open_conflicts;
    uint64_t next_conflict;
    uint64_t gen;
    dc_time now;
    dc_time next_due; /* dc_advance has nothing to do before this */
    struct cand *cand_buf; /* reused by every reconcile */
    size_t cand_cap;
};

/* model.c: body validation into the structs above. Each returns DC_OK or
 * an error naming the field; on success the struct owns new allocations. */
dc_status model_site(const json_t *body, const char *id, site *out, dc_error *err);
dc_status model_unit(const json_t *body, const char *id, unit *out, dc_error *err);
dc_status model_op(const json_t *body, const char *id, op *out, dc_error *err);
void model_site_clear(site *s);
void model_op_clear(op *o);
int model_valid_id(const char *s, size_t maxlen);
dc_status model_fail(dc_error *err, dc_status code, const char *field, const char *fmt, ...);

/* views.c */
json_t *view_site(const site *s);
json_t *view_unit(const dc_engine *e, const unit *u, dc_time now);
json_t *view_op(const op *o);
json_t *view_object_for_conflict(const dc_engine *e, int type, const party *p, const char *id,
                                 int open);

/* engine.c, for ingest.c: see there. */
void engine_nl_prefetch(const unit *u, int stage);

party *engine_party(const dc_engine *e, const char *id);
obj *engine_lookup(const dc_engine *e, int type, const party *p, const char *id);
int op_hazardous(const op *o);
int op_current(const op *o);

#endif
