/* Checks of what backends read back from shared storage (backend.h): the
 * same rules as a client's arguments (registry.c), so that no name with a
 * line end reaches a log and no label a client could not reserve reaches
 * the allocator view. */
#include <stdio.h>
#include <string.h>

#include "handle.h"

static int schema(int r, const char *where, const char *what, mcs_err *e) {
        if (r >= 0)
                return r;
        mcs_err_prefix(e, "registry %s: %s read back is refused", where, what);
        if (e)
                e->code = MCS_E_SCHEMA;
        return -(int) MCS_E_SCHEMA;
}

static int check_uuid(const char *uuid, const char *where, const char *what, mcs_err *e) {
        char canon[MCS_UUID_STRLEN + 1];
        int r = mcs_uuid_canonical(uuid, canon, e);
        if (r == 0 && strcmp(canon, uuid))
                r = mcs_fail(e, MCS_E_INVALID, "UUID %s is not in canonical form", uuid);
        return schema(r, where, what, e);
}

int mcs_stored_label_check(const char *label, const char *where, mcs_err *e) {
        mcs_label l;
        int r = mcs_registry_parse_label(label, &l, e);
        if (r == 0 && strcmp(l.text, label)) {
                char q[MCS_QUOTE_MAX];
                r = mcs_fail(e, MCS_E_INVALID, "label '%s' is not in canonical form (%s)",
                             mcs_quote(label, q, sizeof q), l.text);
        }
        return schema(r, where, "a label", e);
}

int mcs_stored_host_check(const char *host, const char *where, mcs_err *e) {
        return schema(mcs_registry_check_text("host id", host, MCS_HOST_MAX, false, e), where, "a host id", e);
}

int mcs_stored_record_check(const mcs_record *rec, const char *where, mcs_err *e) {
        int r;
        if ((r = check_uuid(rec->uuid, where, "a record", e)) < 0 ||
            (r = schema(mcs_registry_check_text("guest name", rec->name, MCS_NAME_MAX, true, e), where,
                        "a record", e)) < 0 ||
            (r = mcs_stored_label_check(rec->label, where, e)) < 0 ||
            (r = mcs_stored_host_check(rec->host, where, e)) < 0)
                return r;
        return 0;
}

int mcs_stored_path_check(const char *path, const char *where, mcs_err *e) {
        char q[MCS_QUOTE_MAX];
        int r;
        if (!path || path[0] != '/')
                r = mcs_fail(e, MCS_E_INVALID, "'%s' is not an absolute path",
                             path ? mcs_quote(path, q, sizeof q) : "");
        else
                r = mcs_registry_check_text("path", path, 4095, true, e);
        return schema(r, where, "a path", e);
}

int mcs_stored_original_check(const mcs_original *o, const char *where, mcs_err *e) {
        char q[MCS_QUOTE_MAX];
        int r;
        if ((r = mcs_stored_path_check(o->path, where, e)) < 0 ||
            (r = check_uuid(o->uuid, where, "an original label", e)) < 0 || (r = mcs_stored_host_check(o->host, where, e)) < 0)
                return r;
        /* As mcs_registry_remember_original takes it ("" is no label); libselinux checks it before use. */
        if (!o->context || strlen(o->context) > 4095 || strchr(o->context, '\n'))
                r = mcs_fail(e, MCS_E_INVALID, "unusable original label for %s", mcs_quote(o->path, q, sizeof q));
        return schema(r, where, "an original label", e);
}

int mcs_stored_actor_check(const mcs_actor *who, const char *where, mcs_err *e) {
        int r = 0;
        /* uid -1 is "no uid"; pids are 1 .. PID_MAX_LIMIT (2^22) on Linux. */
        if (who->known && (who->uid == UINT32_MAX || who->pid <= 0 || who->pid > (1 << 22)))
                r = mcs_fail(e, MCS_E_INVALID, "uid %u pid %d is no process that could have asked",
                             (unsigned) who->uid, (int) who->pid);
        return schema(r, where, "who asked", e);
}
