/* engine: conflict rules (SPEC section 3) and their incremental upkeep.
 *
 * Every change to an object X re-evaluates exactly the pairs that can
 * involve X: its candidates from the spatial indexes (R-trees of ECEF
 * boxes, each inflated by the object's own reach, so that a box overlap is
 * necessary for any pair within its threshold), plus the pairs X already
 * has open. The cost of a position report therefore depends on what is
 * near the unit, not on how many operations exist. Time only ever removes
 * things (volumes, sites and operations end; reports go stale), so the
 * clock re-evaluates only open conflicts whose next_check has come, plus
 * operations and sites that expired. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"

/* Report a pair up to 5 cm beyond its threshold: distances are exact to
 * about a millimetre, and near a threshold reporting beats missing. */
#define MARGIN 0.05
/* Units are indexed with this much slack so that most moves do not touch
 * the index. */
#define UNIT_SLACK 250.0

/* ---------- small helpers ---------- */

const char *dc_status_name(dc_status s)
{
    switch (s) {
    case DC_OK: return "ok";
    case DC_ERR_MALFORMED: return "malformed";
    case DC_ERR_INVALID: return "invalid";
    case DC_ERR_NOTFOUND: return "not_found";
    case DC_ERR_FORBIDDEN: return "forbidden";
    case DC_ERR_STATE: return "conflict";
    case DC_ERR_EXISTS: return "exists";
    case DC_ERR_TOOLARGE: return "too_large";
    case DC_ERR_NOMEM: return "unavailable";
    }
    return "error";
}

int dc_status_http(dc_status s)
{
    switch (s) {
    case DC_OK: return 200;
    case DC_ERR_MALFORMED: return 400;
    case DC_ERR_INVALID: return 422;
    case DC_ERR_NOTFOUND: return 404;
    case DC_ERR_FORBIDDEN: return 403;
    case DC_ERR_STATE: return 409;
    case DC_ERR_EXISTS: return 409;
    case DC_ERR_TOOLARGE: return 413;
    case DC_ERR_NOMEM: return 503;
    }
    return 500;
}

void dc_error_clear(dc_error *err)
{
    if (!err)
        return;
    json_decref(err->detail);
    memset(err, 0, sizeof *err);
}

void dc_changes_init(dc_changes *c)
{
    memset(c, 0, sizeof *c);
}

void dc_changes_free(dc_changes *c)
{
    free(c->v);
    memset(c, 0, sizeof *c);
}

static void change_add(dc_changes *ch, dc_change_type t, dc_conflict *c, const char *by)
{
    if (!ch)
        return;
    if (ch->n == ch->cap) {
        size_t cap = ch->cap ? ch->cap * 2 : 16;
        dc_change *v = realloc(ch->v, sizeof *v * cap);
        if (!v)
            return; /* the conflict state itself is already updated */
        ch->v = v;
        ch->cap = cap;
    }
    ch->v[ch->n].type = t;
    ch->v[ch->n].conflict = c;
    ch->v[ch->n].by_party = by;
    ch->n++;
}

int op_hazardous(const op *o)
{
    return o->kind == KIND_STRIKE || o->kind == KIND_ARTILLERY || o->kind == KIND_DEMOLITION;
}

static int op_blocked(const op *o);

/* The clock's next piece of work: dc_advance does nothing before it. */
static void due(dc_engine *e, dc_time t)
{
    if (t < e->next_due)
        e->next_due = t;
}

int op_current(const op *o)
{
    return o->state == DC_OP_PLANNED || o->state == DC_OP_ACTIVE;
}

static double op_reach(const op *o)
{
    if (op_hazardous(o))
        return o->hazard_m + o->warning_m;
    if (o->kind == KIND_AIR_TRANSIT)
        return o->warning_m;
    return 0;
}

party *engine_party(const dc_engine *e, const char *id)
{
    return id ? hmap_get(&e->party_by_id, id) : NULL;
}

static const hmap *type_map(const dc_engine *e, int type)
{
    return type == OBJ_SITE ? &e->sites : type == OBJ_UNIT ? &e->units : &e->ops;
}

obj *engine_lookup(const dc_engine *e, int type, const party *p, const char *id)
{
    /* On the position-report hot path: build "PARTY/ID" without stdio. */
    char key[128];
    if (!p || !id)
        return NULL;
    size_t np = strlen(p->id), ni = strlen(id);
    if (ni > 64 || np > 32)
        return NULL;
    memcpy(key, p->id, np);
    key[np] = '/';
    memcpy(key + np + 1, id, ni + 1);
    return hmap_get(type_map(e, type), key);
}

static char *make_key(const party *p, const char *id)
{
    size_t n = strlen(p->id) + strlen(id) + 2;
    char *k = malloc(n);
    if (k)
        snprintf(k, n, "%s/%s", p->id, id);
    return k;
}

/* ---------- lifetime ---------- */

static const char *party_key(const void *v)
{
    return ((const party *)v)->id;
}

static const char *obj_key(const void *v)
{
    return ((const obj *)v)->key;
}

static const char *conflict_key(const void *v)
{
    return ((const dc_conflict *)v)->id;
}

static rtree_box unit_box(const unit *u)
{
    /* deterministic: the box it was inserted with (see rtree_box_around_f) */
    return rtree_box_around_f(u->box_c, u->box_r);
}

/* The unit index's leaves keep no boxes (rtree_new_bare): they are read
 * from the unit, which keeps its ball for its own reports anyway. */
static rtree_box unit_box_of(const void *item)
{
    return unit_box(item);
}

/* The last point unit_pt computed. geo_pt_make(p.lon, p.lat) == p for any
 * point it returned (the longitude is already normalised), so remembering
 * it by the two coordinates' bits is exact. Per thread, so that engines
 * used on different threads never share it. */
static _Thread_local struct {
    double ll[2];
    geo_pt pt;
    int ok;
} pt_memo;

static void unit_pt_remember(const geo_pt *p)
{
    pt_memo.ll[0] = p->lon;
    pt_memo.ll[1] = p->lat;
    pt_memo.pt = *p;
    pt_memo.ok = 1;
}

/* unit_pt returns u's point with its ECEF position: what a unit kept in
 * full before it kept only lon and lat. */
static geo_pt unit_pt(const unit *u)
{
    if (!pt_memo.ok || memcmp(pt_memo.ll, &u->lon, sizeof pt_memo.ll) != 0) {
        geo_pt p = geo_pt_make(u->lon, u->lat);
        unit_pt_remember(&p);
    }
    return pt_memo.pt;
}

dc_engine *dc_engine_new(void)
{
    dc_engine *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    hmap_init(&e->party_by_id, party_key);
    hmap_init(&e->sites, obj_key);
    hmap_init(&e->units, obj_key);
    hmap_init(&e->ops, obj_key);
    hmap_init(&e->conflict_by_id, conflict_key);
    e->site_tree = rtree_new();
    e->unit_tree = rtree_new_bare(unit_box_of);
    e->vol_tree = rtree_new();
    e->next_conflict = 1;
    e->next_due = DC_TIME_MIN;
    if (!e->site_tree || !e->unit_tree || !e->vol_tree) {
        dc_engine_free(e);
        return NULL;
    }
    return e;
}

static void obj_free_common(obj *o)
{
    free(o->id);
    free(o->key);
    free(o->cf);
}

static void site_free(site *s)
{
    obj_free_common(&s->h);
    s->h.id = NULL;
    model_site_clear(s);
    free(s);
}

/* A unit's callsign lives in the unit's own allocation, after its key,
 * unless a later update made it longer than the room there. */
static char *unit_inline_callsign(const unit *u)
{
    return (char *)u->h.id + strlen(u->h.id) + 1;
}

static void unit_free(unit *u)
{
    if (u->callsign != unit_inline_callsign(u))
        free(u->callsign);
    u->h.id = u->h.key = NULL; /* both inside the unit's own allocation */
    obj_free_common(&u->h);
    free(u->nl);
    free(u);
}

static void op_free(op *o)
{
    obj_free_common(&o->h);
    o->h.id = NULL;
    model_op_clear(o);
    free(o);
}

static void free_map(hmap *m, int type)
{
    for (size_t i = 0; i < m->cap; i++) {
        void *v = hmap_at(m, i);
        if (!v)
            continue;
        if (type == OBJ_SITE)
            site_free(v);
        else if (type == OBJ_UNIT)
            unit_free(v);
        else
            op_free(v);
    }
    hmap_free(m);
}

void dc_engine_free(dc_engine *e)
{
    if (!e)
        return;
    free_map(&e->sites, OBJ_SITE);
    free_map(&e->units, OBJ_UNIT);
    free_map(&e->ops, OBJ_OP);
    for (size_t i = 0; i < e->nconflicts; i++) {
        dc_conflict *c = e->conflicts[i];
        free(c->a_id);
        free(c->b_id);
        free(c->note_a);
        free(c->note_b);
        free(c);
    }
    free(e->conflicts);
    free(e->cand_buf);
    hmap_free(&e->conflict_by_id);
    for (int i = 0; i < e->nparties; i++) {
        free(e->parties[i]->id);
        free(e->parties[i]->name);
        free(e->parties[i]->share_units);
        free(e->parties[i]->share_ops);
        free(e->parties[i]);
    }
    free(e->parties);
    hmap_free(&e->party_by_id);
    rtree_free(e->site_tree);
    rtree_free(e->unit_tree);
    rtree_free(e->vol_tree);
    free(e);
}

/* ---------- parties ---------- */

static int valid_party_id(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 32)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

dc_status dc_party_add(dc_engine *e, const char *id, const char *name, int64_t stale_after_s,
                       dc_error *err)
{
    if (!id || !valid_party_id(id))
        return model_fail(err, DC_ERR_INVALID, "id", "party id must match [A-Za-z0-9_-]{1,32}");
    if (!name)
        name = "";
    if (strlen(name) > DC_MAX_NAME)
        return model_fail(err, DC_ERR_INVALID, "name", "name is longer than 256 bytes");
    if (engine_party(e, id))
        return model_fail(err, DC_ERR_EXISTS, "id", "party '%s' already exists", id);
    if (e->nparties >= DC_MAX_PARTIES)
        return model_fail(err, DC_ERR_TOOLARGE, "id", "at most 1000 parties");
    if (stale_after_s < 0 || stale_after_s > 10LL * 365 * 86400)
        return model_fail(err, DC_ERR_INVALID, "stale_after_s",
                          "stale_after_s must be between 0 and ten years");
    party *p = calloc(1, sizeof *p);
    party **ps = realloc(e->parties, sizeof *ps * (e->nparties + 1));
    if (!p || !ps) {
        free(p);
        if (ps)
            e->parties = ps;
        return model_fail(err, DC_ERR_NOMEM, "", "out of memory");
    }
    e->parties = ps;
    p->id = strdup(id);
    p->name = strdup(name);
    p->stale_after_us = (stale_after_s > 0 ? stale_after_s : 600) * DC_USEC;
    p->idx = e->nparties;
    p->share_units = calloc(DC_MAX_PARTIES, 1);
    p->share_ops = calloc(DC_MAX_PARTIES, 1);
    if (!p->id || !p->name || !p->share_units || !p->share_ops ||
        hmap_put(&e->party_by_id, p)) {
        free(p->id);
        free(p->name);
        free(p->share_units);
        free(p->share_ops);
        free(p);
        return model_fail(err, DC_ERR_NOMEM, "", "out of memory");
    }
    e->parties[e->nparties++] = p;
    return DC_OK;
}

int dc_party_exists(const dc_engine *e, const char *id)
{
    return engine_party(e, id) != NULL;
}

json_t *dc_parties_json(const dc_engine *e)
{
    json_t *a = json_array();
    for (int i = 0; i < e->nparties; i++)
        json_array_append_new(a, json_pack("{s:s,s:s}", "id", e->parties[i]->id, "name",
                                           e->parties[i]->name));
    return json_pack("{s:o}", "parties", a);
}

dc_status dc_sharing_set(dc_engine *e, const char *from, const char *to, int units, int operations,
                         dc_error *err)
{
    party *f = engine_party(e, from), *t = engine_party(e, to);
    if (!f)
        return model_fail(err, DC_ERR_NOTFOUND, "from", "unknown party '%.40s'", from);
    if (!t)
        return model_fail(err, DC_ERR_NOTFOUND, "party", "unknown party '%.40s'", to);
    if (f == t)
        return model_fail(err, DC_ERR_INVALID, "party", "a party cannot share with itself");
    f->share_units[t->idx] = units ? 1 : 0;
    f->share_ops[t->idx] = operations ? 1 : 0;
    return DC_OK;
}

/* ---------- conflict bookkeeping ---------- */

static int obj_add_cf(obj *o, dc_conflict *c)
{
    cflist *l = o->cf;
    if (!l || l->n == l->cap) {
        int cap = l ? l->cap * 2 : 4;
        cflist *g = realloc(l, sizeof *g + sizeof g->v[0] * (size_t)cap);
        if (!g)
            return -1;
        if (!l)
            g->n = 0;
        g->cap = cap;
        o->cf = l = g;
    }
    l->v[l->n++] = c;
    return 0;
}

static void obj_del_cf(obj *o, dc_conflict *c)
{
    cflist *l = o->cf;
    for (int i = 0; l && i < l->n; i++)
        if (l->v[i] == c) {
            memmove(&l->v[i], &l->v[i + 1], sizeof l->v[0] * (size_t)(l->n - i - 1));
            l->n--;
            return;
        }
}

typedef struct {
    int hit;
    double dist;
    int sev, stale;
    dc_time ws, we;
    dc_time next;
} eval_t;

static void eval_init(eval_t *ev)
{
    memset(ev, 0, sizeof *ev);
    ev->dist = INFINITY;
    ev->ws = DC_TIME_MAX;
    ev->we = DC_TIME_MIN;
    ev->next = DC_TIME_MAX;
}

static void eval_hit(eval_t *ev, double d, dc_time ws, dc_time we, dc_time next)
{
    ev->hit = 1;
    if (d < 0)
        d = 0;
    if (d < ev->dist)
        ev->dist = d;
    if (ws < ev->ws)
        ev->ws = ws;
    if (we > ev->we)
        ev->we = we;
    if (next < ev->next)
        ev->next = next;
}

static dc_time tmax(dc_time a, dc_time b)
{
    return a > b ? a : b;
}

static dc_time tmin(dc_time a, dc_time b)
{
    return a < b ? a : b;
}


/* only: when nonzero, just the volumes whose mark equals it can be within
 * reach (the unit's neighbour list said so); the others are skipped. The
 * marked ones are measured with the witness that the list keeps for them
 * (V->wit), which gives the very same value, bit for bit, as measuring
 * without one when it is within the cutoff, and one beyond the cutoff
 * exactly when that is (shape_separation_disc_w): the same decisions. */
static void eval_op_unit(const op *H, const unit *U, dc_time now, uint64_t only, eval_t *ev)
{
    eval_init(ev);
    if (!op_hazardous(H) || !op_current(H) || !U->has_pos || H->h.owner == U->h.owner)
        return;
    double T = H->hazard_m + H->warning_m;
    geo_pt P;
    int have_p = 0;
    for (int i = 0; i < H->nvol; i++) {
        const volume *V = &H->vols[i];
        if (V->end <= now || V->end <= U->t || (only && V->mark != only))
            continue;
        if (U->domain == DOM_AIR && !isnan(U->alt_m) && (U->alt_m < V->alt_lo || U->alt_m > V->alt_hi))
            continue;
        if (!have_p) {
            P = unit_pt(U);
            have_p = 1;
        }
        double d = shape_separation_disc_w(&P, U->ce_m, V->shape, T + MARGIN,
                                           only ? V->wit : NULL);
        if (d <= T + MARGIN)
            eval_hit(ev, d, tmax(V->start, U->t), V->end, V->end);
    }
    if (!ev->hit)
        return;
    ev->sev = ev->dist <= H->hazard_m + MARGIN ? SEV_CRITICAL : SEV_WARNING;
    dc_time stale_at = U->t + U->h.owner->stale_after_us;
    ev->stale = now > stale_at;
    if (!ev->stale)
        ev->next = tmin(ev->next, stale_at + 1);
}

static void eval_op_site(const op *H, const site *S, dc_time now, eval_t *ev)
{
    eval_init(ev);
    if (!op_hazardous(H) || !op_current(H) || H->h.owner == S->h.owner || S->valid_to <= now)
        return;
    double T = H->hazard_m + S->standoff_m + H->warning_m;
    for (int i = 0; i < H->nvol; i++) {
        const volume *V = &H->vols[i];
        if (V->end <= now || !(V->start < S->valid_to && S->valid_from < V->end))
            continue;
        double d = shape_separation(V->shape, S->shape, T + MARGIN);
        if (d <= T + MARGIN)
            eval_hit(ev, d, tmax(V->start, S->valid_from), tmin(V->end, S->valid_to),
                     tmin(V->end, S->valid_to));
    }
    if (ev->hit)
        ev->sev = ev->dist <= H->hazard_m + S->standoff_m + MARGIN ? SEV_CRITICAL : SEV_WARNING;
}

/* Thresholds of an operation pair; returns 0 when the pair can never
 * conflict. */
static int op_pair_rule(const op *A, const op *B, double *T, double *crit)
{
    int ha = op_hazardous(A), hb = op_hazardous(B);
    if (ha && hb) {
        *T = fmax(A->hazard_m, B->hazard_m) + fmax(A->warning_m, B->warning_m);
        *crit = fmax(A->hazard_m, B->hazard_m);
    } else if (ha) {
        *T = A->hazard_m + A->warning_m;
        *crit = A->hazard_m;
    } else if (hb) {
        *T = B->hazard_m + B->warning_m;
        *crit = B->hazard_m;
    } else if (A->kind == KIND_AIR_TRANSIT && B->kind == KIND_AIR_TRANSIT) {
        *T = fmax(A->warning_m, B->warning_m);
        *crit = 0;
    } else {
        return 0;
    }
    return 1;
}

static void eval_op_op(const op *A, const op *B, dc_time now, eval_t *ev)
{
    eval_init(ev);
    double T, crit;
    if (!op_current(A) || !op_current(B) || A->h.owner == B->h.owner || !op_pair_rule(A, B, &T, &crit))
        return;
    for (int i = 0; i < A->nvol; i++) {
        const volume *va = &A->vols[i];
        if (va->end <= now)
            continue;
        for (int j = 0; j < B->nvol; j++) {
            const volume *vb = &B->vols[j];
            if (vb->end <= now || !(va->start < vb->end && vb->start < va->end))
                continue;
            if (va->alt_lo > vb->alt_hi || vb->alt_lo > va->alt_hi)
                continue;
            double d = shape_separation(va->shape, vb->shape, T + MARGIN);
            if (d <= T + MARGIN)
                eval_hit(ev, d, tmax(va->start, vb->start), tmin(va->end, vb->end),
                         tmin(va->end, vb->end));
        }
    }
    if (ev->hit)
        ev->sev = ev->dist <= crit + MARGIN ? SEV_CRITICAL : SEV_WARNING;
}

/* The operation side of a pair, canonically: for two operations, the
 * hazardous one, else the one with the smaller key. */
static int op_first(const op *x, const op *y)
{
    int hx = op_hazardous(x), hy = op_hazardous(y);
    if (hx != hy)
        return hx;
    return strcmp(x->h.key, y->h.key) < 0;
}

static void canonical(obj **a, obj **b)
{
    int swap;
    if ((*a)->type != OBJ_OP)
        swap = 1;
    else if ((*b)->type != OBJ_OP)
        swap = 0;
    else
        swap = !op_first((op *)*a, (op *)*b);
    if (swap) {
        obj *t = *a;
        *a = *b;
        *b = t;
    }
}

static void eval_pair(const obj *a, const obj *b, dc_time now, uint64_t only, eval_t *ev)
{
    if (a->type != OBJ_OP) {
        const obj *t = a;
        a = b;
        b = t;
    }
    if (a->type != OBJ_OP) {
        eval_init(ev);
        return;
    }
    if (b->type == OBJ_UNIT)
        eval_op_unit((const op *)a, (const unit *)b, now, only, ev);
    else if (b->type == OBJ_SITE)
        eval_op_site((const op *)a, (const site *)b, now, ev);
    else
        eval_op_op((const op *)a, (const op *)b, now, ev);
}

static dc_conflict *conflict_open(dc_engine *e, obj *a, obj *b, const eval_t *ev, dc_time now,
                                  dc_changes *ch)
{
    canonical(&a, &b);
    dc_conflict *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    if (e->nconflicts == e->capconflicts) {
        size_t cap = e->capconflicts ? e->capconflicts * 2 : 64;
        dc_conflict **v = realloc(e->conflicts, sizeof *v * cap);
        if (!v) {
            free(c);
            return NULL;
        }
        e->conflicts = v;
        e->capconflicts = cap;
    }
    c->num = e->next_conflict;
    snprintf(c->id, sizeof c->id, "c-%llu", (unsigned long long)c->num);
    c->a = a;
    c->b = b;
    c->a_type = a->type;
    c->b_type = b->type;
    c->pa = a->owner;
    c->pb = b->owner;
    c->a_id = strdup(a->id);
    c->b_id = strdup(b->id);
    if (!c->a_id || !c->b_id || obj_add_cf(a, c)) {
        free(c->a_id);
        free(c->b_id);
        free(c);
        return NULL;
    }
    if (obj_add_cf(b, c) || hmap_put(&e->conflict_by_id, c)) {
        obj_del_cf(a, c);
        obj_del_cf(b, c);
        free(c->a_id);
        free(c->b_id);
        free(c);
        return NULL;
    }
    e->next_conflict++;
    c->open = 1;
    c->severity = ev->sev;
    c->stale = ev->stale;
    c->dist = ev->dist;
    c->wstart = ev->ws;
    c->wend = ev->we;
    c->next_check = ev->next;
    c->notified_dist = ev->dist;
    c->opened_at = now;
    due(e, c->next_check);
    e->conflicts[e->nconflicts++] = c;
    e->open_conflicts++;
    change_add(ch, DC_CH_OPENED, c, NULL);
    return c;
}

/* A change of separation worth telling both sides about: 10 m, or 10 %
 * of the last separation they were told. */
static int material_change(double from, double to)
{
    return fabs(to - from) > fmax(10.0, 0.1 * from);
}

static void conflict_update(dc_engine *e, dc_conflict *c, const eval_t *ev, int reset_acks,
                            dc_changes *ch)
{
    int changed = c->severity != ev->sev || c->stale != ev->stale || c->wstart != ev->ws ||
                  c->wend != ev->we || material_change(c->notified_dist, ev->dist);
    /* An acknowledgement covers the conflict as it was acknowledged: not a
     * critical conflict when a warning was acknowledged, and not the other
     * side coming materially closer than when it was acknowledged (a unit
     * walking from 240 m into the strike area). */
    int escalated = ev->sev > c->severity;
    if (reset_acks || escalated ||
        (c->ack_a && ev->dist < c->ack_dist_a && material_change(c->ack_dist_a, ev->dist))) {
        if (c->ack_a)
            changed = 1;
        c->ack_a = 0;
        free(c->note_a);
        c->note_a = NULL;
    }
    if (reset_acks || escalated ||
        (c->ack_b && ev->dist < c->ack_dist_b && material_change(c->ack_dist_b, ev->dist))) {
        if (c->ack_b)
            changed = 1;
        c->ack_b = 0;
        free(c->note_b);
        c->note_b = NULL;
    }
    c->severity = ev->sev;
    c->stale = ev->stale;
    c->dist = ev->dist;
    c->wstart = ev->ws;
    c->wend = ev->we;
    c->next_check = ev->next;
    due(e, c->next_check);
    if (changed) {
        c->notified_dist = ev->dist;
        change_add(ch, DC_CH_CHANGED, c, NULL);
    }
}

static void conflict_resolve(dc_engine *e, dc_conflict *c, dc_time now, dc_changes *ch)
{
    obj_del_cf(c->a, c);
    obj_del_cf(c->b, c);
    c->a = c->b = NULL;
    c->open = 0;
    c->resolved_at = now;
    e->open_conflicts--;
    change_add(ch, DC_CH_RESOLVED, c, NULL);
}

static void resolve_all(dc_engine *e, obj *o, dc_time now, dc_changes *ch)
{
    while (obj_ncf(o) > 0)
        conflict_resolve(e, obj_cf(o, 0), now, ch);
}

/* ---------- indexes ---------- */

static void site_index(dc_engine *e, site *s, dc_time now)
{
    if (s->indexed || s->valid_to <= now)
        return;
    due(e, s->valid_to);
    const geo_ball *b = shape_ball(s->shape);
    s->box = rtree_box_around(b->c, b->r + s->standoff_m + MARGIN);
    if (rtree_insert(e->site_tree, &s->box, s) == 0)
        s->indexed = 1;
}

static void site_unindex(dc_engine *e, site *s)
{
    if (s->indexed)
        rtree_delete(e->site_tree, &s->box, s);
    s->indexed = 0;
}

static void unit_index(dc_engine *e, unit *u)
{
    if (!u->has_pos)
        return;
    geo_pt P = unit_pt(u);
    if (u->indexed) {
        double dx = P.x - u->box_c[0], dy = P.y - u->box_c[1], dz = P.z - u->box_c[2];
        if (sqrt(dx * dx + dy * dy + dz * dz) + u->ce_m + 1e-3 <= u->box_r)
            return; /* still inside its slack box */
        rtree_box old = unit_box(u);
        rtree_delete(e->unit_tree, &old, u);
        u->indexed = 0;
    }
    u->nl_valid = 0; /* a new box: the neighbour list covered the old one */
    /* The float centre is within 0.5 m of pos and box_r within 0.1 m of
     * ce + UNIT_SLACK, so the disc is well inside (the test above, on the
     * stored values, decides when it leaves). */
    u->box_c[0] = (float)P.x;
    u->box_c[1] = (float)P.y;
    u->box_c[2] = (float)P.z;
    u->box_r = (float)(u->ce_m + UNIT_SLACK);
    rtree_box box = unit_box(u);
    if (rtree_insert(e->unit_tree, &box, u) == 0)
        u->indexed = 1;
}

static void unit_unindex(dc_engine *e, unit *u)
{
    rtree_box box = unit_box(u);
    if (u->indexed)
        rtree_delete(e->unit_tree, &box, u);
    u->indexed = 0;
    u->nl_valid = 0;
}

static int on_unit_invalidate(void *item, void *ud)
{
    (void)ud;
    ((unit *)item)->nl_valid = 0;
    return 0;
}

/* Every insertion into and removal from the volume index goes through
 * these two, which drop the neighbour list of every unit whose index box
 * meets the volume's box (a list covers exactly its unit's box; see
 * "neighbour lists" below). */
static void nl_invalidate_near(dc_engine *e, const volume *v)
{
    const geo_ball *b = shape_ball(v->shape);
    rtree_box box = rtree_box_around(b->c, b->r + op_reach(v->op) + MARGIN + 2.0);
    rtree_search(e->unit_tree, &box, on_unit_invalidate, NULL);
}

static void vol_insert(dc_engine *e, volume *v)
{
    const geo_ball *b = shape_ball(v->shape);
    v->box = rtree_box_around(b->c, b->r + op_reach(v->op) + MARGIN);
    if (rtree_insert(e->vol_tree, &v->box, v) == 0)
        v->indexed = 1;
    nl_invalidate_near(e, v);
}

static void vol_remove(dc_engine *e, volume *v)
{
    if (!v->indexed)
        return;
    rtree_delete(e->vol_tree, &v->box, v);
    v->indexed = 0;
    nl_invalidate_near(e, v);
}

static void op_index(dc_engine *e, op *o, dc_time now)
{
    if (!op_current(o))
        return;
    for (int i = 0; i < o->nvol; i++) {
        volume *v = &o->vols[i];
        due(e, v->end); /* also when already over: the clock must end it */
        if (v->indexed || v->end <= now)
            continue;
        vol_insert(e, v);
    }
}

static void op_unindex(dc_engine *e, op *o)
{
    for (int i = 0; i < o->nvol; i++)
        vol_remove(e, &o->vols[i]);
}

/* ---------- candidates and reconciliation ---------- */

typedef struct cand {
    obj *o;
    eval_t ev;
} cand;

typedef struct {
    dc_engine *e;
    obj *self;
    cand *v; /* the engine's reusable buffer: no allocation per report */
    size_t n, cap;
    int oom;
    uint64_t only; /* see eval_op_unit */
} cands;

static void cands_add(cands *cs, obj *o)
{
    if (o == cs->self || o->owner == cs->self->owner || o->mark == (uint32_t)cs->e->gen)
        return;
    if (cs->n == cs->cap) {
        size_t cap = cs->cap ? cs->cap * 2 : 16;
        cand *v = realloc(cs->v, sizeof *v * cap);
        if (!v) {
            cs->oom = 1;
            return;
        }
        cs->v = cs->e->cand_buf = v;
        cs->cap = cs->e->cand_cap = cap;
    }
    o->mark = (uint32_t)cs->e->gen;
    cs->v[cs->n++].o = o;
}

static int on_unit(void *item, void *ud)
{
    cands_add(ud, &((unit *)item)->h);
    return 0;
}

static int on_site(void *item, void *ud)
{
    cands_add(ud, &((site *)item)->h);
    return 0;
}

static int on_volume(void *item, void *ud)
{
    cands_add(ud, &((volume *)item)->op->h);
    return 0;
}

/* ---------- neighbour lists ----------
 *
 * The hot path of the whole service is a position report, and a unit that
 * moved 20 m has the same neighbours as before. So each indexed unit keeps
 * a neighbour list (a Verlet list, as in molecular dynamics): every
 * volume that could come within its threshold of the unit anywhere inside
 * the unit's index box, each with a lower bound on how far the unit may
 * move before the volume can matter. A report then costs one chord and a
 * comparison per neighbour, and only the few neighbours whose bound says
 * "maybe" are evaluated exactly. Hand-written because it is the product's
 * core and measured to be the cost of ingest (bench/README.md).
 *
 * Why it never misses a conflict:
 * - Coverage. The list holds every hazardous volume of another party
 *   whose index box meets the unit's index box. A unit at pos with error
 *   radius ce stays inside ball(box_c, box_r) (unit_index keeps it so), and
 *   a volume it can conflict with has that ball meeting ball(centre, r +
 *   reach + MARGIN), which lies inside the volume's index box. The list is
 *   dropped (nl_valid = 0) whenever the unit gets a new box, and whenever
 *   a volume enters or leaves the index near the box (vol_insert,
 *   vol_remove), so it is rebuilt from the index before its next use.
 *   Everything else (time windows, altitude bands, operation state) is
 *   tested by eval_op_unit at every report, not cached.
 * - Bounds. At build time each volume's separation d0 from the unit's
 *   position ref is computed exactly (within 1 mm). Later, at pos, the
 *   separation of the unit's disc is at least d0 - geodesic(ref, pos) -
 *   ce, and geodesic(ref, pos) <= geo_len_bound(chord): no geodesic of
 *   WGS84 bends more sharply than a circle of radius b^2/a, so by Schur's
 *   comparison theorem it is no longer than that circle's arc over the same
 *   chord. (A plain "chord * (1 + 1e-6)" is not enough: a report with a
 *   large ce gives a large box, inside which a later accurate report can be
 *   hundreds of km away from ref.) A volume is skipped only when that lower
 *   bound exceeds its threshold + MARGIN + NL_TOL. */
#define NL_TOL 0.01

/* An upper bound on the geodesic distance between two surface points
 * whose chord is c (see above); infinite when c is too long for it. */
static double geo_len_bound(double c)
{
    const double rmin = 6335439.0; /* b^2 / a, rounded down */
    double s = c / (2 * rmin);
    return s < 1 ? 2 * rmin * asin(s) + 1e-3 : INFINITY;
}

/* How far the unit's disc may reach beyond ref: geodesic(ref, pos) + ce. */
static double nl_moved(const unit *u, const double ref[3])
{
    geo_pt P = unit_pt(u);
    double dx = P.x - ref[0], dy = P.y - ref[1], dz = P.z - ref[2];
    return geo_len_bound(sqrt(dx * dx + dy * dy + dz * dz)) + u->ce_m;
}

typedef struct {
    volume *v;
    double slack; /* d0 - (threshold + MARGIN + NL_TOL) */
    shape_witness w; /* for v's shape: its exact distance from the unit, cheaply */
} nl_entry;

struct nlist {
    double ref[3]; /* ECEF of the position the bounds were computed at */
    int n, cap;
    nl_entry e[];
};

typedef struct {
    unit *u;
    double span; /* largest (distance from ref) + ce inside the box */
    int oom;
    geo_pt pt; /* the unit's point (unit_pt) */
} nl_build_t;

static int on_volume_nl(void *item, void *ud)
{
    volume *v = item;
    nl_build_t *b = ud;
    const op *o = v->op;
    unit *u = b->u;
    if (o->h.owner == u->h.owner || !op_hazardous(o))
        return 0;
    double T = o->hazard_m + o->warning_m + MARGIN + NL_TOL;
    double cutoff = T + b->span;
    shape_witness w;
    memset(&w, 0, sizeof w);
    double d0 = shape_separation_disc_w(&b->pt, 0, v->shape, cutoff, &w);
    if (d0 > cutoff)
        return 0; /* out of reach from anywhere in the box */
    struct nlist *nl = u->nl;
    if (nl->n == nl->cap) {
        int cap = nl->cap * 2;
        struct nlist *g = realloc(nl, sizeof *nl + sizeof nl->e[0] * (size_t)cap);
        if (!g) {
            b->oom = 1;
            return 1;
        }
        g->cap = cap;
        u->nl = nl = g;
    }
    nl->e[nl->n].v = v;
    nl->e[nl->n].slack = d0 - T;
    nl->e[nl->n].w = w;
    nl->n++;
    return 0;
}

/* Rebuilds u's neighbour list from the volume index. Returns 0, or -1 when
 * out of memory (the list stays invalid). */
static int nl_build(dc_engine *e, unit *u)
{
    if (!u->nl) {
        u->nl = malloc(sizeof *u->nl + sizeof u->nl->e[0] * 8);
        if (!u->nl)
            return -1;
        u->nl->cap = 8;
    }
    u->nl->n = 0;
    geo_pt P = unit_pt(u);
    u->nl->ref[0] = P.x;
    u->nl->ref[1] = P.y;
    u->nl->ref[2] = P.z;
    /* Inside the box, chord(ref, pos) + ce <= |ref - box_c| + box_r, and
     * geo_len_bound(x) + y <= geo_len_bound(x + y) (its slope is >= 1). */
    double dx = P.x - u->box_c[0], dy = P.y - u->box_c[1], dz = P.z - u->box_c[2];
    nl_build_t b = {u, geo_len_bound(sqrt(dx * dx + dy * dy + dz * dz) + u->box_r) + 1.0, 0, P};
    rtree_box box = rtree_box_around_f(u->box_c, (double)u->box_r + MARGIN);
    rtree_search(e->vol_tree, &box, on_volume_nl, &b);
    if (b.oom)
        return -1;
    if (u->nl->n == 0) { /* the common case in a quiet area: hold no memory */
        free(u->nl);
        u->nl = NULL;
    } else if (u->nl->n < u->nl->cap) {
        /* Entries carry a witness (~100 bytes each) and lists are short
         * (about 2 in the benchmark's dense theatre): hold no spare room.
         * Rebuilds are rare (a new index box), so regrowing is cheap. */
        struct nlist *g = realloc(u->nl, sizeof *g + sizeof g->e[0] * (size_t)u->nl->n);
        if (g) {
            g->cap = g->n;
            u->nl = g;
        }
    }
    u->nl_valid = 1;
    return 0;
}

/* Adds the operations of u's neighbours that may be within reach now. */
static void nl_gather(dc_engine *e, unit *u, cands *cs)
{
    if (!u->nl_valid && nl_build(e, u)) {
        cs->oom = 1;
        return;
    }
    struct nlist *nl = u->nl;
    if (!nl)
        return;
    double moved = nl_moved(u, nl->ref);
    for (int i = 0; i < nl->n; i++)
        if (nl->e[i].slack <= moved) {
            nl->e[i].v->mark = e->gen;
            nl->e[i].v->wit = &nl->e[i].w; /* its vertices: asked for by ingest.c */
            cands_add(cs, &nl->e[i].v->op->h);
        }
    /* Every volume that can be within reach is now marked; the volumes of
     * the unit's existing conflicts that are not are out of reach. */
    cs->only = e->gen;
}

/* engine_nl_prefetch (ingest.c's batches): asks the CPU to start loading
 * what a report of u will read through its neighbour list, one level of
 * pointers per stage (0: the list; 1: its volumes; 2: their operations,
 * shapes and the witnesses' vertices), each stage a few reports after the
 * one before, once the pointers it follows are in cache. A hint only: it
 * reads nothing but the current fields of a valid list, whose volumes are
 * all alive (vol_remove invalidates every list that may hold one). */
void engine_nl_prefetch(const unit *u, int stage)
{
    const struct nlist *nl = u->nl;
    if (!nl || !u->nl_valid)
        return;
    if (stage == 0) {
        size_t bytes = sizeof *nl + 2 * sizeof nl->e[0];
        for (size_t off = 0; off < bytes; off += 64)
            __builtin_prefetch((const char *)nl + off);
        return;
    }
    for (int i = 0; i < nl->n; i++) {
        const volume *v = nl->e[i].v;
        if (stage == 1) {
            __builtin_prefetch(v);
            __builtin_prefetch((const char *)v + 64);
            __builtin_prefetch(&v->mark);
        } else {
            __builtin_prefetch(&v->op->h);
            __builtin_prefetch(&v->op->kind);
            shape_witness_prefetch(&nl->e[i].w);
        }
    }
}

static int cand_cmp(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->o->type != y->o->type)
        return x->o->type - y->o->type;
    return strcmp(x->o->key, y->o->key);
}

static void obj_marks_reset(dc_engine *e)
{
    const hmap *maps[3] = {&e->sites, &e->units, &e->ops};
    for (int k = 0; k < 3; k++)
        for (size_t i = 0; i < maps[k]->cap; i++) {
            obj *o = hmap_at(maps[k], i);
            if (o)
                o->mark = 0;
        }
}

/* Gathers the candidates of x (spatial neighbours plus existing pairs). */
static void gather(dc_engine *e, obj *x, dc_time now, cands *cs)
{
    memset(cs, 0, sizeof *cs);
    cs->e = e;
    cs->self = x;
    cs->v = e->cand_buf;
    cs->cap = e->cand_cap;
    if ((uint32_t)++e->gen == 0) {
        obj_marks_reset(e); /* every 2^32 gathers: no mark may match again */
        e->gen++;
    }
    x->mark = (uint32_t)e->gen;
    for (int i = 0; i < obj_ncf(x); i++) {
        dc_conflict *c = obj_cf(x, i);
        cands_add(cs, c->a == x ? c->b : c->a);
    }
    if (x->type == OBJ_UNIT) {
        unit *u = (unit *)x;
        if (u->indexed) {
            nl_gather(e, u, cs);
        } else if (u->has_pos) {
            /* Not indexed (out of memory earlier): no box, no list; take
             * every volume near the unit and evaluate each exactly. */
            geo_pt P = unit_pt(u);
            double c[3] = {P.x, P.y, P.z};
            rtree_box b = rtree_box_around(c, u->ce_m + MARGIN);
            rtree_search(e->vol_tree, &b, on_volume, cs);
        }
    } else if (x->type == OBJ_SITE) {
        site *s = (site *)x;
        if (s->valid_to > now) {
            const geo_ball *gb = shape_ball(s->shape);
            rtree_box b = rtree_box_around(gb->c, gb->r + s->standoff_m + MARGIN);
            rtree_search(e->vol_tree, &b, on_volume, cs);
        }
    } else {
        op *o = (op *)x;
        if (op_current(o)) {
            double reach = op_reach(o) + MARGIN;
            for (int i = 0; i < o->nvol; i++) {
                if (o->vols[i].end <= now)
                    continue;
                const geo_ball *gb = shape_ball(o->vols[i].shape);
                rtree_box b = rtree_box_around(gb->c, gb->r + reach);
                if (op_hazardous(o)) {
                    rtree_search(e->unit_tree, &b, on_unit, cs);
                    rtree_search(e->site_tree, &b, on_site, cs);
                }
                rtree_search(e->vol_tree, &b, on_volume, cs);
            }
        }
    }
}

/* Evaluates every candidate of x and brings x's conflicts in line: resolve
 * what no longer holds, update what changed, open what is new (in key
 * order, so that ids are deterministic). */
static dc_status reconcile(dc_engine *e, obj *x, dc_time now, int reset_acks, dc_changes *ch)
{
    cands cs;
    if (now > e->now)
        e->now = now;
    gather(e, x, now, &cs);
    if (cs.oom)
        return DC_ERR_NOMEM;
    size_t nnew = 0;
    for (size_t i = 0; i < cs.n; i++) {
        obj *y = cs.v[i].o;
        eval_pair(x, y, now, cs.only, &cs.v[i].ev);
        dc_conflict *c = NULL;
        for (int k = 0; k < obj_ncf(x); k++)
            if (obj_cf(x, k)->a == y || obj_cf(x, k)->b == y) {
                c = obj_cf(x, k);
                break;
            }
        if (c && cs.v[i].ev.hit)
            conflict_update(e, c, &cs.v[i].ev, reset_acks, ch);
        else if (c)
            conflict_resolve(e, c, now, ch);
        else if (cs.v[i].ev.hit)
            cs.v[nnew++] = cs.v[i]; /* i >= nnew: compacting in place is safe */
    }
    /* New conflicts get their ids in key order, so ids are deterministic
     * whatever order the index returned the candidates in. */
    if (nnew > 1)
        qsort(cs.v, nnew, sizeof *cs.v, cand_cmp);
    for (size_t i = 0; i < nnew; i++)
        if (!conflict_open(e, x, cs.v[i].o, &cs.v[i].ev, now, ch))
            return DC_ERR_NOMEM;
    return DC_OK;
}

/* ---------- writes ---------- */

static dc_status need_party(const dc_engine *e, const char *id, party **out, dc_error *err)
{
    *out = engine_party(e, id);
    if (!*out)
        return model_fail(err, DC_ERR_NOTFOUND, "party", "unknown party '%.40s'", id ? id : "");
    return DC_OK;
}

dc_status dc_party_check(const dc_engine *e, const char *id, dc_error *err)
{
    party *p;
    return need_party(e, id, &p, err);
}

static dc_status register_obj(dc_engine *e, obj *o, int type, party *p, dc_error *err)
{
    o->type = type;
    o->owner = p;
    o->key = make_key(p, o->id);
    if (!o->key || hmap_put((hmap *)type_map(e, type), o)) {
        free(o->key);
        o->key = NULL;
        return model_fail(err, DC_ERR_NOMEM, "", "out of memory");
    }
    return DC_OK;
}

/* ---------- bodies parsed apart from the engine ----------
 * Validating a geometry can take long: a ring's simplicity check is
 * quadratic in the worst case (a 10,000-vertex star with long spikes:
 * 0.8 s; an operation of 20 such volumes, within the limits: 13 s). The
 * service holds its engine lock during a write, so it parses operation
 * and site bodies before taking it (dc_*_parse), then hands the result in
 * (dc_*_put_parsed): the lock is held for the engine's work only. */
enum { PARSED_NONE, PARSED_OP, PARSED_SITE }; /* not OBJ_*: OBJ_SITE is 0 */

struct dc_parsed {
    int type; /* PARSED_*; PARSED_NONE once taken */
    op o;
    site s;
};

static dc_status parsed_new(dc_parsed **out, dc_error *err)
{
    *out = calloc(1, sizeof **out);
    return *out ? DC_OK : model_fail(err, DC_ERR_NOMEM, "", "out of memory");
}

dc_status dc_operation_parse(const char *id, const json_t *body, dc_parsed **out, dc_error *err)
{
    dc_status rc = parsed_new(out, err);
    if (!rc && (rc = model_op(body, id, &(*out)->o, err))) {
        free(*out);
        *out = NULL;
    }
    if (!rc)
        (*out)->type = PARSED_OP;
    return rc;
}

dc_status dc_site_parse(const char *id, const json_t *body, dc_parsed **out, dc_error *err)
{
    dc_status rc = parsed_new(out, err);
    if (!rc && (rc = model_site(body, id, &(*out)->s, err))) {
        free(*out);
        *out = NULL;
    }
    if (!rc)
        (*out)->type = PARSED_SITE;
    return rc;
}

void dc_parsed_free(dc_parsed *pp)
{
    if (!pp)
        return;
    if (pp->type == PARSED_OP)
        model_op_clear(&pp->o);
    else if (pp->type == PARSED_SITE)
        model_site_clear(&pp->s);
    free(pp);
}

/* parsed_take: what every *_parsed call does first. It finds party_id
 * (*p), then moves pp's object of type t (PARSED_OP or PARSED_SITE) into
 * *o (an op or a site). pp is freed in every case. Returns DC_OK, or the
 * error: an unknown party (as dc_*_put gives it), or pp holding no such
 * object. */
static dc_status parsed_take(const dc_engine *e, const char *party_id, dc_parsed *pp, int t,
                             void *o, party **p, dc_error *err)
{
    dc_status rc = need_party(e, party_id, p, err);
    if (!rc && (!pp || pp->type != t))
        rc = model_fail(err, DC_ERR_MALFORMED, "", "not a parsed %s",
                        t == PARSED_OP ? "operation" : "site");
    if (rc) {
        dc_parsed_free(pp);
        return rc;
    }
    if (t == PARSED_OP)
        *(op *)o = pp->o;
    else
        *(site *)o = pp->s;
    pp->type = PARSED_NONE;
    free(pp);
    return DC_OK;
}

static dc_status site_put(dc_engine *e, party *p, site tmp, int create, dc_time now,
                          dc_changes *ch, dc_error *err);

dc_status dc_site_put(dc_engine *e, const char *party_id, const char *id, const json_t *body,
                      int create, dc_time now, dc_changes *ch, dc_error *err)
{
    party *p;
    dc_status rc;
    if ((rc = need_party(e, party_id, &p, err)))
        return rc;
    site tmp;
    if ((rc = model_site(body, id, &tmp, err)))
        return rc;
    return site_put(e, p, tmp, create, now, ch, err);
}

dc_status dc_site_put_parsed(dc_engine *e, const char *party_id, dc_parsed *pp, int create,
                             dc_time now, dc_changes *ch, dc_error *err)
{
    party *p;
    site tmp;
    dc_status rc = parsed_take(e, party_id, pp, PARSED_SITE, &tmp, &p, err);
    return rc ? rc : site_put(e, p, tmp, create, now, ch, err);
}

/* site_put files tmp (taken) for p. */
static dc_status site_put(dc_engine *e, party *p, site tmp, int create, dc_time now,
                          dc_changes *ch, dc_error *err)
{
    dc_status rc;
    site *old = (site *)engine_lookup(e, OBJ_SITE, p, tmp.h.id);
    if (old && create) {
        model_fail(err, DC_ERR_EXISTS, "id", "site '%s' already exists", tmp.h.id);
        model_site_clear(&tmp);
        return DC_ERR_EXISTS;
    }
    if (old) {
        /* Replace in place: keep the object (and its open conflicts),
         * swap the description, re-evaluate. */
        site_unindex(e, old);
        free(tmp.h.id);
        tmp.h = old->h;
        old->h.id = NULL;
        model_site_clear(old);
        *old = tmp;
        site_index(e, old, now);
        return reconcile(e, &old->h, now, 1, ch);
    }
    site *s = malloc(sizeof *s);
    if (!s) {
        model_site_clear(&tmp);
        return model_fail(err, DC_ERR_NOMEM, "", "out of memory");
    }
    *s = tmp;
    if ((rc = register_obj(e, &s->h, OBJ_SITE, p, err))) {
        model_site_clear(s);
        free(s);
        return rc;
    }
    site_index(e, s, now);
    return reconcile(e, &s->h, now, 0, ch);
}

dc_status dc_site_delete(dc_engine *e, const char *party_id, const char *id, dc_time now,
                         dc_changes *ch, dc_error *err)
{
    party *p;
    dc_status rc;
    if ((rc = need_party(e, party_id, &p, err)))
        return rc;
    site *s = (site *)engine_lookup(e, OBJ_SITE, p, id);
    if (!s)
        return model_fail(err, DC_ERR_NOTFOUND, "id", "no site '%.64s'", id ? id : "");
    resolve_all(e, &s->h, now, ch);
    site_unindex(e, s);
    hmap_del(&e->sites, s->h.key);
    site_free(s);
    return DC_OK;
}

dc_status dc_unit_put(dc_engine *e, const char *party_id, const char *id, const json_t *body,
                      dc_time now, dc_changes *ch, dc_error *err)
{
    party *p;
    dc_status rc;
    if ((rc = need_party(e, party_id, &p, err)))
        return rc;
    unit tmp;
    if ((rc = model_unit(body, id, &tmp, err)))
        return rc;
    unit *u = (unit *)engine_lookup(e, OBJ_UNIT, p, tmp.h.id);
    if (u) {
        free(tmp.h.id);
        char *in = unit_inline_callsign(u);
        if (u->callsign == in && strlen(tmp.callsign) <= strlen(in)) {
            strcpy(in, tmp.callsign); /* fits in the room it had */
            free(tmp.callsign);
        } else {
            if (u->callsign != in)
                free(u->callsign);
            u->callsign = tmp.callsign;
        }
        if (u->domain == tmp.domain)
            return DC_OK;
        u->domain = tmp.domain;
        return reconcile(e, &u->h, now, 0, ch);
    }
    /* One allocation holds the unit, its "OWNER/ID" key (h.id points
     * after the slash) and its callsign: a report touches one block, and a
     * unit costs no separate strings. */
    size_t np = strlen(p->id), ni = strlen(tmp.h.id), nc = strlen(tmp.callsign);
    u = malloc(sizeof *u + np + ni + nc + 3);
    if (!u) {
        free(tmp.h.id);
        free(tmp.callsign);
        return model_fail(err, DC_ERR_NOMEM, "", "out of memory");
    }
    *u = tmp;
    memcpy(u->key, p->id, np);
    u->key[np] = '/';
    memcpy(u->key + np + 1, tmp.h.id, ni + 1);
    free(tmp.h.id);
    u->h.id = u->key + np + 1;
    u->h.key = u->key;
    memcpy(u->key + np + ni + 2, tmp.callsign, nc + 1);
    free(tmp.callsign);
    u->callsign = u->key + np + ni + 2;
    u->h.type = OBJ_UNIT;
    u->h.owner = p;
    u->alt_m = NAN;
    if (hmap_put(&e->units, u)) {
        free(u);
        return model_fail(err, DC_ERR_NOMEM, "", "out of memory");
    }
    return DC_OK;
}

dc_status dc_unit_delete(dc_engine *e, const char *party_id, const char *id, dc_time now,
                         dc_changes *ch, dc_error *err)
{
    party *p;
    dc_status rc;
    if ((rc = need_party(e, party_id, &p, err)))
        return rc;
    unit *u = (unit *)engine_lookup(e, OBJ_UNIT, p, id);
    if (!u)
        return model_fail(err, DC_ERR_NOTFOUND, "id", "no unit '%.64s'", id ? id : "");
    resolve_all(e, &u->h, now, ch);
    unit_unindex(e, u);
    hmap_del(&e->units, u->h.key);
    unit_free(u);
    return DC_OK;
}

dc_status dc_position_report(dc_engine *e, const char *party_id, const char *unit_id, double lon,
                             double lat, double alt_m, double ce_m, dc_time t, dc_time now,
                             dc_changes *ch, dc_error *err)
{
    party *p;
    dc_status rc;
    if ((rc = need_party(e, party_id, &p, err)))
        return rc;
    unit *u = (unit *)engine_lookup(e, OBJ_UNIT, p, unit_id);
    if (!u)
        return model_fail(err, DC_ERR_INVALID, "unit", "no unit '%.64s'", unit_id ? unit_id : "");
    return dc_position_report_unit(e, (dc_unit_ref *)u, lon, lat, alt_m, ce_m, t, now, ch, err);
}

dc_unit_ref *dc_unit_find(const dc_engine *e, const char *party_id, const char *unit_id)
{
    return (dc_unit_ref *)engine_lookup(e, OBJ_UNIT, engine_party(e, party_id), unit_id);
}

dc_status dc_position_report_unit(dc_engine *e, dc_unit_ref *ref, double lon, double lat,
                                  double alt_m, double ce_m, dc_time t, dc_time now,
                                  dc_changes *ch, dc_error *err)
{
    unit *u = (unit *)ref;
    if (!(isfinite(lon) && isfinite(lat) && lon >= -180 && lon <= 180 && lat >= -90 && lat <= 90))
        return model_fail(err, DC_ERR_INVALID, "lon", "coordinates out of range");
    if (!(isfinite(ce_m) && ce_m >= 0 && ce_m <= 1e6))
        return model_fail(err, DC_ERR_INVALID, "ce_m", "ce_m must be within [0, 1000000]");
    if (t > now + DC_FUTURE_SLACK_US)
        return model_fail(err, DC_ERR_INVALID, "time",
                          "report time is more than 60 s ahead of the service clock");
    if (u->has_pos && t < u->t)
        return DC_OK; /* older than the current report: recorded, not applied */
    u->has_pos = 1;
    geo_pt P = geo_pt_make(lon, lat);
    u->lon = P.lon;
    u->lat = P.lat;
    unit_pt_remember(&P); /* unit_pt(u) is P: computed once per report */
    u->alt_m = alt_m;
    u->ce_m = ce_m;
    u->t = t;
    unit_index(e, u);
    return reconcile(e, &u->h, now, 0, ch);
}

static dc_status get_report(const json_t *r, size_t i, const char **unit_id, double *lon,
                            double *lat, double *alt, double *ce, dc_time *t, dc_error *err)
{
    static const char *const allowed[] = {"unit", "lon", "lat", "alt_m", "ce_m", "time", "owner",
                                          NULL};
    char f[96];
    snprintf(f, sizeof f, "reports[%zu]", i);
    if (!json_is_object(r))
        return model_fail(err, DC_ERR_INVALID, f, "report %zu must be an object", i);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)r, k, v)
    {
        int ok = 0;
        for (int j = 0; allowed[j]; j++)
            ok |= strcmp(allowed[j], k) == 0;
        if (!ok) {
            snprintf(f, sizeof f, "reports[%zu].%.40s", i, k);
            return model_fail(err, DC_ERR_INVALID, f, "unknown field in report %zu", i);
        }
    }
    const json_t *ju = json_object_get(r, "unit"), *jlon = json_object_get(r, "lon"),
                 *jlat = json_object_get(r, "lat"), *jalt = json_object_get(r, "alt_m"),
                 *jce = json_object_get(r, "ce_m"), *jt = json_object_get(r, "time");
    snprintf(f, sizeof f, "reports[%zu].unit", i);
    if (!json_is_string(ju))
        return model_fail(err, DC_ERR_INVALID, f, "report %zu: unit must be a string", i);
    *unit_id = json_string_value(ju);
    snprintf(f, sizeof f, "reports[%zu].lon", i);
    if (!json_is_number(jlon) || !isfinite(*lon = json_number_value(jlon)) || *lon < -180 ||
        *lon > 180)
        return model_fail(err, DC_ERR_INVALID, f, "report %zu: lon must be a number in [-180, 180]",
                          i);
    snprintf(f, sizeof f, "reports[%zu].lat", i);
    if (!json_is_number(jlat) || !isfinite(*lat = json_number_value(jlat)) || *lat < -90 ||
        *lat > 90)
        return model_fail(err, DC_ERR_INVALID, f, "report %zu: lat must be a number in [-90, 90]",
                          i);
    *alt = NAN;
    snprintf(f, sizeof f, "reports[%zu].alt_m", i);
    if (jalt && !json_is_null(jalt)) {
        if (!json_is_number(jalt) || !isfinite(*alt = json_number_value(jalt)) || *alt < -20000 ||
            *alt > 1e6)
            return model_fail(err, DC_ERR_INVALID, f,
                              "report %zu: alt_m must be a number in [-20000, 1000000]", i);
    }
    *ce = 0;
    snprintf(f, sizeof f, "reports[%zu].ce_m", i);
    if (jce && (!json_is_number(jce) || !isfinite(*ce = json_number_value(jce)) || *ce < 0 ||
                *ce > 1e6))
        return model_fail(err, DC_ERR_INVALID, f, "report %zu: ce_m must be a number in [0, 1e6]",
                          i);
    snprintf(f, sizeof f, "reports[%zu].time", i);
    if (!json_is_string(jt) || dc_time_parse(json_string_value(jt), t))
        return model_fail(err, DC_ERR_INVALID, f, "report %zu: time must be an RFC 3339 time", i);
    return DC_OK;
}

dc_status dc_positions_report(dc_engine *e, const char *party_id, const json_t *body, dc_time now,
                              size_t *accepted, dc_changes *ch, dc_error *err)
{
    party *p;
    dc_status rc;
    *accepted = 0;
    if ((rc = need_party(e, party_id, &p, err)))
        return rc;
    if (!json_is_object(body))
        return model_fail(err, DC_ERR_MALFORMED, "", "body must be {\"reports\": [...]}");
    const json_t *reports = json_object_get(body, "reports");
    if (!json_is_array(reports))
        return model_fail(err, DC_ERR_MALFORMED, "reports", "reports must be an array");
    if (json_object_size(body) != 1)
        return model_fail(err, DC_ERR_INVALID, "", "only \"reports\" is allowed in the body");
    size_t n = json_array_size(reports);
    if (n > DC_MAX_BATCH)
        return model_fail(err, DC_ERR_TOOLARGE, "reports", "at most 10000 reports per batch");
    /* Validate the whole batch before applying any of it. */
    for (size_t i = 0; i < n; i++) {
        const char *uid;
        double lon, lat, alt, ce;
        dc_time t;
        if ((rc = get_report(json_array_get(reports, i), i, &uid, &lon, &lat, &alt, &ce, &t, err)))
            return rc;
        char f[96];
        snprintf(f, sizeof f, "reports[%zu].unit", i);
        if (!engine_lookup(e, OBJ_UNIT, p, uid))
            return model_fail(err, DC_ERR_INVALID, f, "report %zu: no unit '%.64s'", i, uid);
        snprintf(f, sizeof f, "reports[%zu].time", i);
        if (t > now + DC_FUTURE_SLACK_US)
            return model_fail(err, DC_ERR_INVALID, f,
                              "report %zu: time is more than 60 s ahead of the service clock", i);
    }
    for (size_t i = 0; i < n; i++) {
        const char *uid;
        double lon, lat, alt, ce;
        dc_time t;
        get_report(json_array_get(reports, i), i, &uid, &lon, &lat, &alt, &ce, &t, err);
        if ((rc = dc_position_report(e, party_id, uid, lon, lat, alt, ce, t, now, ch, err)))
            return rc;
        (*accepted)++;
    }
    return DC_OK;
}

static dc_status op_put(dc_engine *e, party *p, op tmp, int create, dc_time now,
                        dc_changes *ch, dc_error *err);

dc_status dc_operation_put(dc_engine *e, const char *party_id, const char *id, const json_t *body,
                           int create, dc_time now, dc_changes *ch, dc_error *err)
{
    party *p;
    dc_status rc;
    if ((rc = need_party(e, party_id, &p, err)))
        return rc;
    op tmp;
    if ((rc = model_op(body, id, &tmp, err)))
        return rc;
    return op_put(e, p, tmp, create, now, ch, err);
}

dc_status dc_operation_put_parsed(dc_engine *e, const char *party_id, dc_parsed *pp, int create,
                                  dc_time now, dc_changes *ch, dc_error *err)
{
    party *p;
    op tmp;
    dc_status rc = parsed_take(e, party_id, pp, PARSED_OP, &tmp, &p, err);
    return rc ? rc : op_put(e, p, tmp, create, now, ch, err);
}

/* op_put files tmp (taken) for p. */
static dc_status op_put(dc_engine *e, party *p, op tmp, int create, dc_time now,
                        dc_changes *ch, dc_error *err)
{
    dc_status rc;
    op *old = (op *)engine_lookup(e, OBJ_OP, p, tmp.h.id);
    if (old && create) {
        model_fail(err, DC_ERR_EXISTS, "id", "operation '%s' already exists", tmp.h.id);
        model_op_clear(&tmp);
        return DC_ERR_EXISTS;
    }
    if (old) {
        if (!op_current(old)) {
            model_fail(err, DC_ERR_STATE, "state", "operation '%s' is %s and cannot be replaced",
                       old->h.id, dc_state_names[old->state]);
            model_op_clear(&tmp);
            return DC_ERR_STATE;
        }
        op_unindex(e, old);
        free(tmp.h.id);
        tmp.h = old->h;
        tmp.state = old->state;
        old->h.id = NULL;
        model_op_clear(old);
        *old = tmp;
        for (int i = 0; i < old->nvol; i++)
            old->vols[i].op = old;
        op_index(e, old, now);
        /* The plan changed: earlier acknowledgements no longer cover it. */
        rc = reconcile(e, &old->h, now, 1, ch);
        /* An active operation must not slip past the interlock by being
         * replaced: with a critical conflict lacking either side's
         * acknowledgement it is planned again and must be re-activated. */
        if (old->state == DC_OP_ACTIVE && op_blocked(old)) {
            old->state = DC_OP_PLANNED;
            free(old->override_reason);
            old->override_reason = NULL;
        }
        return rc;
    }
    op *o = malloc(sizeof *o);
    if (!o) {
        model_op_clear(&tmp);
        return model_fail(err, DC_ERR_NOMEM, "", "out of memory");
    }
    *o = tmp;
    o->state = DC_OP_PLANNED;
    for (int i = 0; i < o->nvol; i++)
        o->vols[i].op = o;
    if ((rc = register_obj(e, &o->h, OBJ_OP, p, err))) {
        model_op_clear(o);
        free(o);
        return rc;
    }
    /* An operation filed with every volume already over is ended at once. */
    int live = 0;
    for (int i = 0; i < o->nvol; i++)
        live |= o->vols[i].end > now;
    if (!live)
        o->state = DC_OP_ENDED;
    op_index(e, o, now);
    return reconcile(e, &o->h, now, 0, ch);
}

static dc_status own_op(dc_engine *e, const char *party_id, const char *id, op **out,
                        dc_error *err)
{
    party *p;
    dc_status rc;
    if ((rc = need_party(e, party_id, &p, err)))
        return rc;
    *out = (op *)engine_lookup(e, OBJ_OP, p, id);
    if (!*out)
        return model_fail(err, DC_ERR_NOTFOUND, "id", "no operation '%.64s'", id ? id : "");
    return DC_OK;
}

dc_status dc_operation_delete(dc_engine *e, const char *party_id, const char *id, dc_time now,
                              dc_changes *ch, dc_error *err)
{
    op *o;
    dc_status rc;
    if ((rc = own_op(e, party_id, id, &o, err)))
        return rc;
    resolve_all(e, &o->h, now, ch);
    op_unindex(e, o);
    hmap_del(&e->ops, o->h.key);
    op_free(o);
    return DC_OK;
}

/* The interlock's test: a critical conflict lacking either side's
 * acknowledgement blocks activation. */
static int conflict_blocks(const dc_conflict *c)
{
    return c->severity == SEV_CRITICAL && (!c->ack_a || !c->ack_b);
}

static int op_blocked(const op *o)
{
    for (int i = 0; i < obj_ncf(&o->h); i++) {
        const dc_conflict *c = obj_cf(&o->h, i);
        if (conflict_blocks(c))
            return 1;
    }
    return 0;
}

static json_t *blocking_list(const dc_engine *e, const op *o, const char *viewer)
{
    json_t *a = json_array();
    for (int i = 0; i < obj_ncf(&o->h); i++) {
        dc_conflict *c = obj_cf(&o->h, i);
        if (conflict_blocks(c))
            json_array_append_new(a, dc_conflict_view(e, c, viewer));
    }
    return a;
}

dc_status dc_operation_activate(dc_engine *e, const char *party_id, const char *id,
                                const char *override_reason, dc_time now, dc_changes *ch,
                                dc_error *err)
{
    op *o;
    dc_status rc;
    (void)now; /* activation changes no geometry, so no pair changes */
    if ((rc = own_op(e, party_id, id, &o, err)))
        return rc;
    if (o->state != DC_OP_PLANNED)
        return model_fail(err, DC_ERR_STATE, "state", "operation '%s' is %s, not planned",
                          o->h.id, dc_state_names[o->state]);
    if (override_reason && strlen(override_reason) > DC_MAX_NOTE)
        return model_fail(err, DC_ERR_INVALID, "override.reason",
                          "reason is longer than 1000 bytes");
    json_t *blocking = blocking_list(e, o, party_id);
    size_t nb = json_array_size(blocking);
    if (nb > 0 && !(override_reason && *override_reason)) {
        model_fail(err, DC_ERR_STATE, "conflicts",
                   "%zu critical conflict(s) are not acknowledged by both sides", nb);
        if (err)
            err->detail = json_pack("{s:o}", "blocking", blocking);
        else
            json_decref(blocking);
        return DC_ERR_STATE;
    }
    json_decref(blocking);
    o->state = DC_OP_ACTIVE;
    if (nb > 0) {
        free(o->override_reason);
        o->override_reason = strdup(override_reason);
        for (int i = 0; i < obj_ncf(&o->h); i++) {
            dc_conflict *c = obj_cf(&o->h, i);
            if (conflict_blocks(c))
                change_add(ch, DC_CH_OVERRIDDEN, c, o->h.owner->id);
        }
    }
    return DC_OK;
}

static dc_status op_finish(dc_engine *e, const char *party_id, const char *id, int state,
                           dc_time now, dc_changes *ch, dc_error *err)
{
    op *o;
    dc_status rc;
    if ((rc = own_op(e, party_id, id, &o, err)))
        return rc;
    if (!op_current(o))
        return model_fail(err, DC_ERR_STATE, "state", "operation '%s' is already %s", o->h.id,
                          dc_state_names[o->state]);
    /* planned -> active -> ended; a plan that never went active is
     * cancelled, not ended. */
    if (state == DC_OP_ENDED && o->state != DC_OP_ACTIVE)
        return model_fail(err, DC_ERR_STATE, "state",
                          "operation '%s' is planned: only an active operation can be ended "
                          "(cancel a plan instead)",
                          o->h.id);
    o->state = state;
    op_unindex(e, o);
    resolve_all(e, &o->h, now, ch);
    return DC_OK;
}

dc_status dc_operation_end(dc_engine *e, const char *party_id, const char *id, dc_time now,
                           dc_changes *ch, dc_error *err)
{
    return op_finish(e, party_id, id, DC_OP_ENDED, now, ch, err);
}

dc_status dc_operation_cancel(dc_engine *e, const char *party_id, const char *id, dc_time now,
                              dc_changes *ch, dc_error *err)
{
    return op_finish(e, party_id, id, DC_OP_CANCELLED, now, ch, err);
}

dc_conflict *dc_conflict_find(const dc_engine *e, const char *id)
{
    return id ? hmap_get(&e->conflict_by_id, id) : NULL;
}

dc_status dc_conflict_ack(dc_engine *e, const char *party_id, const char *conflict_id,
                          const char *note, dc_time now, dc_changes *ch, dc_error *err)
{
    party *p;
    dc_status rc;
    if ((rc = need_party(e, party_id, &p, err)))
        return rc;
    dc_conflict *c = dc_conflict_find(e, conflict_id);
    if (!c)
        return model_fail(err, DC_ERR_NOTFOUND, "id", "no conflict '%.40s'",
                          conflict_id ? conflict_id : "");
    if (c->pa != p && c->pb != p)
        return model_fail(err, DC_ERR_FORBIDDEN, "id", "you are not a side of conflict '%s'",
                          c->id);
    if (!c->open)
        return model_fail(err, DC_ERR_STATE, "state", "conflict '%s' is resolved", c->id);
    if (note && strlen(note) > DC_MAX_NOTE)
        return model_fail(err, DC_ERR_INVALID, "note", "note is longer than 1000 bytes");
    char *n = note ? strdup(note) : NULL;
    if (c->pa == p) {
        c->ack_a = now;
        c->ack_dist_a = c->dist;
        free(c->note_a);
        c->note_a = n;
    } else {
        c->ack_b = now;
        c->ack_dist_b = c->dist;
        free(c->note_b);
        c->note_b = n;
    }
    change_add(ch, DC_CH_ACKED, c, p->id);
    return DC_OK;
}

/* ---------- the clock ---------- */

static void reeval_conflict(dc_engine *e, dc_conflict *c, dc_time now, dc_changes *ch)
{
    eval_t ev;
    eval_pair(c->a, c->b, now, 0, &ev);
    if (ev.hit)
        conflict_update(e, c, &ev, 0, ch);
    else
        conflict_resolve(e, c, now, ch);
}

dc_status dc_advance(dc_engine *e, dc_time now, dc_changes *ch)
{
    if (now < e->now)
        now = e->now;
    e->now = now;
    /* Nothing has come due: the common case, and O(1), since the service
     * advances the clock before every write and every second. */
    if (now < e->next_due)
        return DC_OK;
    e->next_due = DC_TIME_MAX;
    /* Operations whose every volume has ended end by themselves; volumes
     * that ended leave the index. In hash-slot order: the events' order
     * follows it (hmap.c says why the hash must then stay as it is). */
    for (size_t i = 0; i < e->ops.cap; i++) {
        op *o = hmap_at(&e->ops, i);
        if (!o)
            continue;
        if (!op_current(o))
            continue;
        int live = 0;
        for (int k = 0; k < o->nvol; k++) {
            volume *v = &o->vols[k];
            if (v->end > now) {
                live = 1;
                due(e, v->end);
            } else {
                vol_remove(e, v);
            }
        }
        if (!live) {
            o->state = DC_OP_ENDED;
            op_unindex(e, o);
            resolve_all(e, &o->h, now, ch);
        }
    }
    for (size_t i = 0; i < e->sites.cap; i++) {
        site *s = hmap_at(&e->sites, i);
        if (!s)
            continue;
        if (s->valid_to <= now && s->indexed) {
            site_unindex(e, s);
            resolve_all(e, &s->h, now, ch);
        } else if (s->indexed) {
            due(e, s->valid_to);
        }
    }
    for (size_t i = 0; i < e->nconflicts; i++) {
        dc_conflict *c = e->conflicts[i];
        if (c->open && c->next_check <= now)
            reeval_conflict(e, c, now, ch);
        else if (c->open)
            due(e, c->next_check);
    }
    return DC_OK;
}

/* ---------- hypothetical check ---------- */

dc_status dc_check_parse(const json_t *body, dc_parsed **out, dc_error *err)
{
    *out = NULL;
    json_t *b = json_deep_copy(body);
    if (!b)
        return model_fail(err, DC_ERR_MALFORMED, "", "an operation must be a JSON object");
    if (json_is_object(b) && !json_object_get(b, "id"))
        json_object_set_new(b, "id", json_string("draft"));
    dc_status rc = dc_operation_parse(NULL, b, out, err);
    json_decref(b);
    return rc;
}

dc_status dc_check(dc_engine *e, const char *party_id, const json_t *body, dc_time now,
                   json_t **out, dc_error *err)
{
    party *p;
    dc_status rc;
    *out = NULL;
    if ((rc = need_party(e, party_id, &p, err)))
        return rc;
    dc_parsed *pp;
    if ((rc = dc_check_parse(body, &pp, err)))
        return rc;
    return dc_check_parsed(e, party_id, pp, now, out, err);
}

dc_status dc_check_parsed(dc_engine *e, const char *party_id, dc_parsed *pp, dc_time now,
                          json_t **out, dc_error *err)
{
    party *p;
    op tmp;
    *out = NULL;
    dc_status rc = parsed_take(e, party_id, pp, PARSED_OP, &tmp, &p, err);
    if (rc)
        return rc;
    tmp.h.type = OBJ_OP;
    tmp.h.owner = p;
    tmp.h.key = make_key(p, tmp.h.id);
    tmp.state = DC_OP_PLANNED;
    for (int i = 0; i < tmp.nvol; i++)
        tmp.vols[i].op = &tmp;
    cands cs;
    gather(e, &tmp.h, now, &cs);
    json_t *list = json_array();
    if (!cs.oom && tmp.h.key) {
        for (size_t i = 0; i < cs.n; i++)
            eval_pair(&tmp.h, cs.v[i].o, now, 0, &cs.v[i].ev);
        if (cs.n > 1)
            qsort(cs.v, cs.n, sizeof *cs.v, cand_cmp);
        for (size_t i = 0; i < cs.n; i++) {
            const eval_t *ev = &cs.v[i].ev;
            if (!ev->hit)
                continue;
            char ws[DC_TIME_BUFLEN], we[DC_TIME_BUFLEN];
            const obj *y = cs.v[i].o;
            json_array_append_new(
                list, json_pack("{s:s,s:b,s:f,s:{s:s,s:s},s:{s:s,s:s},s:o}", "severity",
                                ev->sev == SEV_CRITICAL ? "critical" : "warning", "stale",
                                ev->stale, "distance_m", round(ev->dist * 10) / 10, "window",
                                "start", dc_time_format(ev->ws, ws), "end",
                                dc_time_format(ev->we, we), "mine", "type", "operation", "id",
                                tmp.h.id, "other",
                                view_object_for_conflict(e, y->type, y->owner, y->id, 1)));
        }
    }
    free(tmp.h.key);
    tmp.h.key = NULL;
    model_op_clear(&tmp);
    if (cs.oom) {
        json_decref(list);
        return model_fail(err, DC_ERR_NOMEM, "", "out of memory");
    }
    *out = json_pack("{s:o}", "conflicts", list);
    return DC_OK;
}

/* ---------- statistics and invariant checks ---------- */

void dc_engine_stats(const dc_engine *e, dc_stats *st)
{
    memset(st, 0, sizeof *st);
    st->parties = e->nparties;
    st->sites = e->sites.n;
    st->units = e->units.n;
    st->operations = e->ops.n;
    for (size_t i = 0; i < e->ops.cap; i++)
        if (hmap_at(&e->ops, i))
            st->volumes += ((op *)hmap_at(&e->ops, i))->nvol;
    st->conflicts_open = e->open_conflicts;
    st->conflicts_total = e->nconflicts;
    st->index_bytes =
        rtree_memory(e->site_tree) + rtree_memory(e->unit_tree) + rtree_memory(e->vol_tree);
}

typedef struct {
    const void *want;
    int found;
} find_ud;

static int find_item(void *item, void *ud)
{
    find_ud *f = ud;
    if (item == f->want) {
        f->found = 1;
        return 1;
    }
    return 0;
}

static int in_tree(const rtree *t, const rtree_box *b, const void *item)
{
    find_ud f = {item, 0};
    rtree_search(t, b, find_item, &f);
    return f.found;
}

/* Checks a unit's valid neighbour list against the index: every volume
 * within reach of the unit now must be in the list and not skipped. */
typedef struct {
    const unit *u;
    int bad;
    const volume *missed;
} nl_check_t;

static int on_volume_nl_check(void *item, void *ud)
{
    const volume *v = item;
    nl_check_t *c = ud;
    const unit *u = c->u;
    const op *o = v->op;
    if (o->h.owner == u->h.owner || !op_hazardous(o))
        return 0;
    double T = o->hazard_m + o->warning_m + MARGIN;
    geo_pt P = unit_pt(u);
    if (shape_separation_disc(&P, u->ce_m, v->shape, T) > T)
        return 0;
    const struct nlist *nl = u->nl;
    if (nl) {
        double moved = nl_moved(u, nl->ref);
        for (int i = 0; i < nl->n; i++)
            if (nl->e[i].v == v && nl->e[i].slack <= moved)
                return 0;
    }
    c->bad = 1;
    c->missed = v;
    return 1;
}

int dc_engine_check(const dc_engine *e, char *buf, size_t len)
{
    if (rtree_check(e->site_tree) || rtree_check(e->unit_tree) || rtree_check(e->vol_tree)) {
        snprintf(buf, len, "R-tree invariant broken");
        return -1;
    }
    size_t nsite = 0, nunit = 0, nvol = 0;
    for (size_t i = 0; i < e->sites.cap; i++) {
        site *s = hmap_at(&e->sites, i);
        if (!s)
            continue;
        if (s->indexed) {
            nsite++;
            if (!in_tree(e->site_tree, &s->box, s)) {
                snprintf(buf, len, "site %s missing from index", s->h.key);
                return -1;
            }
        } else if (s->valid_to > e->now) {
            snprintf(buf, len, "current site %s not indexed", s->h.key);
            return -1;
        }
    }
    for (size_t i = 0; i < e->units.cap; i++) {
        unit *u = hmap_at(&e->units, i);
        if (!u)
            continue;
        if (u->has_pos != u->indexed) {
            snprintf(buf, len, "unit %s index state wrong", u->h.key);
            return -1;
        }
        if (u->indexed) {
            nunit++;
            geo_pt P = unit_pt(u);
            double dx = P.x - u->box_c[0], dy = P.y - u->box_c[1], dz = P.z - u->box_c[2];
            rtree_box box = unit_box(u);
            if (sqrt(dx * dx + dy * dy + dz * dz) + u->ce_m > u->box_r + 1e-3 ||
                !in_tree(e->unit_tree, &box, u)) {
                snprintf(buf, len, "unit %s outside its index box", u->h.key);
                return -1;
            }
            if (u->nl_valid) {
                nl_check_t c = {u, 0, NULL};
                double cc[3] = {P.x, P.y, P.z};
                rtree_box b = rtree_box_around(cc, u->ce_m + MARGIN);
                rtree_search(e->vol_tree, &b, on_volume_nl_check, &c);
                if (c.bad) {
                    snprintf(buf, len, "unit %s: neighbour list misses volume %s[%d]", u->h.key,
                             c.missed->op->h.key, c.missed->idx);
                    return -1;
                }
                /* Each witness holds for its volume's shape, and measuring
                 * with it (on a copy: checking changes nothing) gives what
                 * measuring without does, bit for bit up to the cutoff, and
                 * beyond it exactly when that is (shape.h). */
                for (int k = 0; u->nl && k < u->nl->n; k++) {
                    const nl_entry *ne = &u->nl->e[k];
                    const op *o = ne->v->op;
                    double T = o->hazard_m + o->warning_m + MARGIN;
                    shape_witness w = ne->w;
                    double d0 = shape_separation_disc(&P, u->ce_m, ne->v->shape, T);
                    double d1 = shape_separation_disc_w(&P, u->ce_m, ne->v->shape, T, &w);
                    int same = d0 <= T ? memcmp(&d0, &d1, sizeof d0) == 0 : d1 > T;
                    if (shape_witness_check(ne->v->shape, &ne->w) || !same) {
                        snprintf(buf, len, "unit %s: witness for volume %s[%d] wrong", u->h.key,
                                 o->h.key, ne->v->idx);
                        return -1;
                    }
                }
            }
        }
    }
    for (size_t i = 0; i < e->ops.cap; i++) {
        op *o = hmap_at(&e->ops, i);
        if (!o)
            continue;
        for (int k = 0; k < o->nvol; k++) {
            volume *v = &o->vols[k];
            if (v->indexed) {
                nvol++;
                if (!op_current(o) || !in_tree(e->vol_tree, &v->box, v)) {
                    snprintf(buf, len, "volume %s[%d] wrongly indexed", o->h.key, k);
                    return -1;
                }
            } else if (op_current(o) && v->end > e->now) {
                snprintf(buf, len, "volume %s[%d] of a current operation not indexed", o->h.key,
                         k);
                return -1;
            }
        }
    }
    if (nsite != rtree_count(e->site_tree) || nunit != rtree_count(e->unit_tree) ||
        nvol != rtree_count(e->vol_tree)) {
        snprintf(buf, len, "index holds stale entries");
        return -1;
    }
    size_t open = 0;
    for (size_t i = 0; i < e->nconflicts; i++) {
        dc_conflict *c = e->conflicts[i];
        if (!c->open)
            continue;
        open++;
        int fa = 0, fb = 0;
        for (int k = 0; k < obj_ncf(c->a); k++)
            fa |= obj_cf(c->a, k) == c;
        for (int k = 0; k < obj_ncf(c->b); k++)
            fb |= obj_cf(c->b, k) == c;
        if (!fa || !fb || c->a->type != OBJ_OP) {
            snprintf(buf, len, "conflict %s not linked from both sides", c->id);
            return -1;
        }
    }
    if (open != e->open_conflicts) {
        snprintf(buf, len, "open conflict count wrong");
        return -1;
    }
    return 0;
}

static void collect_objs(const hmap *m, obj ***out, size_t *n)
{
    *out = malloc(sizeof **out * (m->n + 1));
    *n = 0;
    for (size_t i = 0; i < m->cap; i++)
        if (hmap_at(m, i))
            (*out)[(*n)++] = hmap_at(m, i);
}

int dc_engine_recompute_check(const dc_engine *e, dc_time now, char *buf, size_t len)
{
    obj **ops, **others[3];
    size_t nops, nothers[3];
    collect_objs(&e->ops, &ops, &nops);
    collect_objs(&e->sites, &others[0], &nothers[0]);
    collect_objs(&e->units, &others[1], &nothers[1]);
    collect_objs(&e->ops, &others[2], &nothers[2]);
    size_t found = 0;
    int rc = 0;
    for (size_t i = 0; i < nops && rc == 0; i++) {
        obj *a = ops[i];
        for (int t = 0; t < 3 && rc == 0; t++) {
            for (size_t j = 0; j < nothers[t] && rc == 0; j++) {
                obj *b = others[t][j];
                if (b == a)
                    continue;
                if (t == 2) {
                    obj *x = a, *y = b;
                    canonical(&x, &y);
                    if (x != a)
                        continue; /* each operation pair once */
                }
                eval_t ev;
                eval_pair(a, b, now, 0, &ev);
                dc_conflict *c = NULL;
                for (int k = 0; k < obj_ncf(a); k++)
                    if (obj_cf(a, k)->a == b || obj_cf(a, k)->b == b)
                        c = obj_cf(a, k);
                if (ev.hit && !c) {
                    snprintf(buf, len, "missed conflict %s x %s (%.2f m)", a->key, b->key,
                             ev.dist);
                    rc = -1;
                } else if (!ev.hit && c) {
                    snprintf(buf, len, "spurious conflict %s: %s x %s", c->id, a->key, b->key);
                    rc = -1;
                } else if (c) {
                    found++;
                    if (c->severity != ev.sev || c->stale != ev.stale ||
                        fabs(c->dist - ev.dist) > 1e-6) {
                        snprintf(buf, len, "conflict %s differs: sev %d/%d stale %d/%d %.3f/%.3f",
                                 c->id, c->severity, ev.sev, c->stale, ev.stale, c->dist, ev.dist);
                        rc = -1;
                    }
                }
            }
        }
    }
    if (rc == 0 && found != e->open_conflicts) {
        snprintf(buf, len, "open conflicts %zu, recomputed %zu", e->open_conflicts, found);
        rc = -1;
    }
    free(ops);
    for (int t = 0; t < 3; t++)
        free(others[t]);
    return rc;
}
