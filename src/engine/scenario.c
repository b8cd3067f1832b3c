/* scenario: applies a scenario object through the same engine calls that
 * the service makes, so `check` finds exactly what the service would. */
#include "scenario.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "engine_int.h"

/* Prefixes err with the section, index and object name. */
static dc_status locate(dc_status rc, dc_error *err, const char *section, size_t i,
                        const char *what, const char *owner, const char *id)
{
    char field[sizeof err->field], msg[sizeof err->message];
    snprintf(field, sizeof field, "%s[%zu]%s%s", section, i, err->field[0] ? "." : "",
             err->field);
    if (owner && id)
        snprintf(msg, sizeof msg, "%s %s/%s: %s", what, owner, id, err->message);
    else if (owner || id)
        snprintf(msg, sizeof msg, "%s %s: %s", what, owner ? owner : id, err->message);
    else
        snprintf(msg, sizeof msg, "%s %zu: %s", what, i, err->message);
    memcpy(err->field, field, sizeof field);
    memcpy(err->message, msg, sizeof msg);
    return rc;
}

static const char *str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static dc_status section(const json_t *scn, const char *name, const json_t **out, dc_error *err)
{
    *out = json_object_get(scn, name);
    if (*out && !json_is_array(*out))
        return model_fail(err, DC_ERR_MALFORMED, name, "%s must be an array", name);
    return DC_OK;
}

/* A copy of body without "owner", for the per-object validators. */
static json_t *strip_owner(const json_t *body)
{
    json_t *c = json_copy((json_t *)body);
    if (c)
        json_object_del(c, "owner");
    return c;
}

dc_status dc_scenario_load(dc_engine *e, const json_t *scn, dc_time *clock_out, dc_changes *ch,
                           dc_error *err)
{
    static const char *const allowed[] = {"description", "clock", "parties", "sharing", "sites",
                                          "units",       "positions", "operations", NULL};
    dc_status rc;
    if (!json_is_object(scn))
        return model_fail(err, DC_ERR_MALFORMED, "", "a scenario must be a JSON object");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)scn, k, v)
    {
        int ok = 0;
        for (int i = 0; allowed[i]; i++)
            ok |= strcmp(allowed[i], k) == 0;
        if (!ok)
            return model_fail(err, DC_ERR_INVALID, k, "unknown scenario field '%.60s'", k);
    }
    const char *clock = str(scn, "clock");
    dc_time now;
    if (!clock || dc_time_parse(clock, &now))
        return model_fail(err, DC_ERR_INVALID, "clock", "clock must be an RFC 3339 time");
    *clock_out = now;
    dc_advance(e, now, ch);

    const json_t *parties, *sharing, *sites, *units, *positions, *ops;
    if ((rc = section(scn, "parties", &parties, err)) || (rc = section(scn, "sharing", &sharing, err)) ||
        (rc = section(scn, "sites", &sites, err)) || (rc = section(scn, "units", &units, err)) ||
        (rc = section(scn, "positions", &positions, err)) ||
        (rc = section(scn, "operations", &ops, err)))
        return rc;
    size_t i;
    json_array_foreach(parties, i, v)
    {
        if (!json_is_object(v) || !json_is_string(json_object_get(v, "id")))
            return locate(model_fail(err, DC_ERR_INVALID, "id", "a party needs a string id"), err,
                          "parties", i, "party", NULL, NULL);
        const json_t *stale = json_object_get(v, "stale_after_s");
        if (stale && !json_is_integer(stale))
            return locate(model_fail(err, DC_ERR_INVALID, "stale_after_s",
                                     "stale_after_s must be an integer"),
                          err, "parties", i, "party", str(v, "id"), NULL);
        const json_t *name = json_object_get(v, "name");
        if (name && !json_is_string(name))
            return locate(model_fail(err, DC_ERR_INVALID, "name", "name must be a string"), err,
                          "parties", i, "party", str(v, "id"), NULL);
        if ((rc = dc_party_add(e, str(v, "id"), str(v, "name"),
                               stale ? json_integer_value(stale) : 0, err)))
            return locate(rc, err, "parties", i, "party", str(v, "id"), NULL);
    }
    json_array_foreach(sharing, i, v)
    {
        const json_t *u = json_object_get(v, "units"), *o = json_object_get(v, "operations");
        if (!json_is_object(v) || !str(v, "from") || !str(v, "to") || (u && !json_is_boolean(u)) ||
            (o && !json_is_boolean(o)))
            return locate(model_fail(err, DC_ERR_INVALID, "",
                                     "sharing needs from, to and boolean units/operations"),
                          err, "sharing", i, "sharing", NULL, NULL);
        if ((rc = dc_sharing_set(e, str(v, "from"), str(v, "to"), json_is_true(u),
                                 json_is_true(o), err)))
            return locate(rc, err, "sharing", i, "sharing", NULL, NULL);
    }
    struct {
        const char *name, *what;
        const json_t *arr;
        int type;
    } objs[] = {{"sites", "site", sites, OBJ_SITE},
                {"units", "unit", units, OBJ_UNIT},
                {"positions", "position", positions, -1},
                {"operations", "operation", ops, OBJ_OP}};
    for (int s = 0; s < 4; s++) {
        json_array_foreach(objs[s].arr, i, v)
        {
            const char *owner = json_is_object(v) ? str(v, "owner") : NULL;
            const char *id = json_is_object(v) ? str(v, objs[s].type < 0 ? "unit" : "id") : NULL;
            if (!owner) {
                model_fail(err, DC_ERR_INVALID, "owner", "owner (a party id) is required");
                return locate(DC_ERR_INVALID, err, objs[s].name, i, objs[s].what, owner, id);
            }
            if (!dc_party_exists(e, owner)) {
                model_fail(err, DC_ERR_INVALID, "owner", "unknown party '%.40s'", owner);
                return locate(DC_ERR_INVALID, err, objs[s].name, i, objs[s].what, owner, id);
            }
            json_t *body = strip_owner(v);
            if (objs[s].type == OBJ_SITE)
                rc = dc_site_put(e, owner, NULL, body, 1, now, ch, err);
            else if (objs[s].type == OBJ_UNIT)
                rc = id ? dc_unit_put(e, owner, NULL, body, now, ch, err)
                        : model_fail(err, DC_ERR_INVALID, "id", "id is required");
            else if (objs[s].type == OBJ_OP)
                rc = dc_operation_put(e, owner, NULL, body, 1, now, ch, err);
            else {
                json_t *batch = json_pack("{s:[O]}", "reports", body);
                size_t acc;
                rc = dc_positions_report(e, owner, batch, now, &acc, ch, err);
                json_decref(batch);
                /* Errors name "reports[0].x": keep just the field. */
                if (rc && strncmp(err->field, "reports[0].", 11) == 0)
                    memmove(err->field, err->field + 11, strlen(err->field + 11) + 1);
                if (rc && strncmp(err->message, "report 0: ", 10) == 0)
                    memmove(err->message, err->message + 10, strlen(err->message + 10) + 1);
            }
            json_decref(body);
            if (rc)
                return locate(rc, err, objs[s].name, i, objs[s].what, owner, id);
        }
    }
    return DC_OK;
}
