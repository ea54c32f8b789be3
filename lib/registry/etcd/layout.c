/* Where things live under the prefix, and what the values hold.
 *
 *   id               the registry's random id, created once (the cursor's mark)
 *   rec/<uuid>       a record, as JSON
 *   label/<label>    the uuid holding exactly this label
 *   cat/<n>          put by every reservation whose label has category n
 *   feed             put by every write of a record: the change it made
 *   hist/<uuid>/<r>  a history entry (r random; ordered by create revision)
 *   orig/<path>      the original label of a file
 *   hosts/<host>     a host's last heartbeat, attached to its lease */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "ec.h"

char *ec_key(const ec *b, const char *kind, const char *name) {
        char *k;
        return asprintf(&k, "%s%s%s", b->prefix, kind, name ? name : "") < 0 ? NULL : k;
}

char *ec_prefix_end(const char *prefix) {
        size_t n = strlen(prefix);
        char *end = strdup(prefix);
        if (end && n)
                end[n - 1]++; /* the prefixes end in '/', which has a successor */
        return end;
}

int ec_random_hex(char *out, size_t bytes, mcs_err *e) {
        unsigned char raw[32];
        if (bytes > sizeof raw)
                bytes = sizeof raw;
        if (getrandom(raw, bytes, 0) != (ssize_t) bytes)
                return mcs_fail(e, MCS_E_IO, "getrandom failed");
        for (size_t i = 0; i < bytes; i++)
                snprintf(out + 2 * i, 3, "%02x", raw[i]);
        return 0;
}

char *ec_history_key(const ec *b, const char *uuid) {
        char r[33], *k;
        if (ec_random_hex(r, 16, NULL) < 0)
                return NULL;
        return asprintf(&k, "%shist/%s/%s", b->prefix, uuid, r) < 0 ? NULL : k;
}

char *ec_history_prefix(const ec *b, const char *uuid) {
        char *k;
        return asprintf(&k, "%shist/%s/", b->prefix, uuid) < 0 ? NULL : k;
}

static char *to_text(json_object *o) {
        char *s = o ? strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN)) : NULL;
        json_object_put(o);
        return s;
}

static json_object *record_obj(const mcs_record *rec) {
        json_object *o = json_object_new_object();
        if (!o)
                return NULL;
        json_object_object_add(o, "uuid", json_object_new_string(rec->uuid));
        json_object_object_add(o, "name", json_object_new_string(rec->name));
        json_object_object_add(o, "label", json_object_new_string(rec->label));
        json_object_object_add(o, "kind", json_object_new_string(mcs_kind_name(rec->kind)));
        json_object_object_add(o, "host", json_object_new_string(rec->host));
        json_object_object_add(o, "state", json_object_new_string(mcs_state_name(rec->state)));
        json_object_object_add(o, "created_us", json_object_new_int64(rec->created_us));
        json_object_object_add(o, "updated_us", json_object_new_int64(rec->updated_us));
        json_object_object_add(o, "generation", json_object_new_int64((int64_t) rec->generation));
        return o;
}

char *ec_record_json(const mcs_record *rec) {
        return to_text(record_obj(rec));
}

static json_object *parse_object(const ec *b, const char *text, const char *what, mcs_err *e) {
        json_tokener *tok = json_tokener_new_ex(16);
        json_object *o = tok ? json_tokener_parse_ex(tok, text, (int) strlen(text)) : NULL;
        bool ok = tok && json_tokener_get_error(tok) == json_tokener_success && o &&
                  json_object_is_type(o, json_type_object);
        if (tok)
                json_tokener_free(tok);
        if (!ok) {
                json_object_put(o);
                mcs_fail(e, MCS_E_SCHEMA, "registry %s: %s is not a JSON object", b->location, what);
                return NULL;
        }
        return o;
}

static int str_field(const ec *b, json_object *o, const char *field, char **out, const char *what, mcs_err *e) {
        const char *s;
        int r = ec_json_str(o, field, false, &s, what, e);
        if (r < 0) {
                mcs_err_prefix(e, "registry %s", b->location);
                if (e)
                        e->code = MCS_E_SCHEMA;
                return -(int) MCS_E_SCHEMA;
        }
        if (!(*out = strdup(s)))
                return ec_fail_nomem(e);
        return 0;
}

static int int_field(const ec *b, json_object *o, const char *field, int64_t *out, const char *what, mcs_err *e) {
        json_object *v;
        if (!json_object_object_get_ex(o, field, &v) || !json_object_is_type(v, json_type_int))
                return mcs_fail(e, MCS_E_SCHEMA, "registry %s: %s: field %s is not an integer", b->location, what,
                                field);
        *out = json_object_get_int64(v);
        return 0;
}

static int record_from(const ec *b, json_object *o, mcs_record *rec, const char *what, mcs_err *e) {
        char *uuid = NULL, *kind = NULL, *state = NULL;
        int64_t gen = 0;
        int r;
        memset(rec, 0, sizeof *rec);
        if ((r = str_field(b, o, "uuid", &uuid, what, e)) < 0 ||
            (r = str_field(b, o, "name", &rec->name, what, e)) < 0 ||
            (r = str_field(b, o, "label", &rec->label, what, e)) < 0 ||
            (r = str_field(b, o, "kind", &kind, what, e)) < 0 ||
            (r = str_field(b, o, "host", &rec->host, what, e)) < 0 ||
            (r = str_field(b, o, "state", &state, what, e)) < 0 ||
            (r = int_field(b, o, "created_us", &rec->created_us, what, e)) < 0 ||
            (r = int_field(b, o, "updated_us", &rec->updated_us, what, e)) < 0 ||
            (r = int_field(b, o, "generation", &gen, what, e)) < 0)
                goto done;
        if (mcs_uuid_canonical(uuid, rec->uuid, NULL) < 0 || mcs_kind_from_name(kind, &rec->kind) < 0 ||
            mcs_state_from_name(state, &rec->state) < 0 || gen < 0)
                r = mcs_fail(e, MCS_E_SCHEMA, "registry %s: %s has an unknown uuid, kind, state or generation",
                             b->location, what);
        rec->generation = (uint64_t) gen;
        if (r == 0)
                r = mcs_stored_record_check(rec, b->location, e);
done:
        free(uuid);
        free(kind);
        free(state);
        if (r < 0)
                mcs_record_clear(rec);
        return r;
}

int ec_record_parse(const ec *b, const char *text, mcs_record *rec, mcs_err *e) {
        json_object *o = parse_object(b, text, "a record", e);
        if (!o)
                return -(int) MCS_E_SCHEMA;
        int r = record_from(b, o, rec, "a record", e);
        json_object_put(o);
        return r;
}

char *ec_change_json(mcs_history_op op, const char *uuid, const char *label) {
        json_object *o = json_object_new_object();
        if (!o)
                return NULL;
        json_object_object_add(o, "op", json_object_new_string(mcs_history_op_name(op)));
        json_object_object_add(o, "uuid", json_object_new_string(uuid));
        json_object_object_add(o, "label", json_object_new_string(label));
        return to_text(o);
}

int ec_change_parse(const ec *b, const char *text, mcs_history_op *op, char **uuid, char **label, mcs_err *e) {
        json_object *o = parse_object(b, text, "the feed", e);
        char *name = NULL;
        int r;
        *uuid = *label = NULL;
        if (!o)
                return -(int) MCS_E_SCHEMA;
        if ((r = str_field(b, o, "op", &name, "the feed", e)) == 0 &&
            (r = str_field(b, o, "uuid", uuid, "the feed", e)) == 0 &&
            (r = str_field(b, o, "label", label, "the feed", e)) == 0 && mcs_history_op_from_name(name, op) < 0)
                r = mcs_fail(e, MCS_E_SCHEMA, "registry %s: the feed has an unknown operation", b->location);
        if (r == 0)
                r = mcs_stored_label_check(*label, b->location, e);
        free(name);
        json_object_put(o);
        if (r < 0) {
                free(*uuid);
                free(*label);
                *uuid = *label = NULL;
        }
        return r;
}

char *ec_history_json(mcs_history_op op, int64_t at_us, const mcs_record *rec, const mcs_actor *who) {
        json_object *o = json_object_new_object(), *r = record_obj(rec);
        if (!o || !r) {
                json_object_put(o);
                json_object_put(r);
                return NULL;
        }
        json_object_object_add(o, "op", json_object_new_string(mcs_history_op_name(op)));
        json_object_object_add(o, "at_us", json_object_new_int64(at_us));
        json_object_object_add(o, "record", r);
        /* Optional: an mcsd that predates it ignores fields it does not read. */
        if (who->known) {
                json_object *w = json_object_new_object();
                if (!w) {
                        json_object_put(o);
                        return NULL;
                }
                json_object_object_add(w, "uid", json_object_new_int64(who->uid));
                json_object_object_add(w, "pid", json_object_new_int64(who->pid));
                json_object_object_add(o, "who", w);
        }
        return to_text(o);
}

/* "who" of a history entry: absent (nobody outside mcsd), or exactly
 * {uid, pid} as ec_history_json writes it. */
static int who_from(const ec *b, json_object *o, mcs_actor *out, mcs_err *e) {
        json_object *w;
        int64_t uid, pid;
        int r;
        *out = (mcs_actor){0};
        if (!json_object_object_get_ex(o, "who", &w))
                return 0;
        if (!json_object_is_type(w, json_type_object) || json_object_object_length(w) != 2)
                return mcs_fail(e, MCS_E_SCHEMA, "registry %s: a history entry: field who is not {uid, pid}",
                                b->location);
        if ((r = int_field(b, w, "uid", &uid, "a history entry's who", e)) < 0 ||
            (r = int_field(b, w, "pid", &pid, "a history entry's who", e)) < 0)
                return r;
        if (uid < 0 || uid > UINT32_MAX || pid <= 0 || pid > INT32_MAX)
                return mcs_fail(e, MCS_E_SCHEMA, "registry %s: a history entry: who is no uid and pid",
                                b->location);
        *out = (mcs_actor){.known = true, .uid = (uint32_t) uid, .pid = (int32_t) pid};
        return mcs_stored_actor_check(out, b->location, e);
}

int ec_history_parse(const ec *b, const char *text, mcs_history_entry *h, mcs_err *e) {
        json_object *o = parse_object(b, text, "a history entry", e), *rec;
        char *op = NULL;
        int r;
        if (!o)
                return -(int) MCS_E_SCHEMA;
        memset(h, 0, sizeof *h);
        if ((r = str_field(b, o, "op", &op, "a history entry", e)) < 0 ||
            (r = int_field(b, o, "at_us", &h->at_us, "a history entry", e)) < 0)
                goto done;
        if (mcs_history_op_from_name(op, &h->op) < 0) {
                r = mcs_fail(e, MCS_E_SCHEMA, "registry %s: a history entry has an unknown operation", b->location);
                goto done;
        }
        if (!json_object_object_get_ex(o, "record", &rec) || !json_object_is_type(rec, json_type_object)) {
                r = mcs_fail(e, MCS_E_SCHEMA, "registry %s: a history entry has no record", b->location);
                goto done;
        }
        if ((r = record_from(b, rec, &h->rec, "a history entry", e)) == 0 && (r = who_from(b, o, &h->who, e)) < 0)
                mcs_record_clear(&h->rec);
done:
        free(op);
        json_object_put(o);
        return r;
}
