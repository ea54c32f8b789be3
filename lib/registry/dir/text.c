/* Log entries, snapshots and heartbeats as text: "key=value" fields split
 * by tabs, one item a line, values with '%', tabs, line ends and other
 * control bytes written as %XX. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dir.h"

#define ENTRY_MAGIC "mcs-dir-entry 1"
/* Version 2 ends with "end=<items>": a snapshot cut at a line end would
 * otherwise load as a smaller, wrong state. Version 1 (no such line) is
 * still read. */
#define SNAP_MAGIC "mcs-dir-snapshot 2"
#define SNAP_MAGIC_V1 "mcs-dir-snapshot 1"

static const char *const op_names[DIR_OP__MAX] = {
        [DIR_RESERVE] = "reserve",
        [DIR_RELEASE] = "release",
        [DIR_STATE] = "state",
        [DIR_REMEMBER] = "remember",
        [DIR_FORGET] = "forget",
        [DIR_IMPORT_RECORD] = "import-record",
        [DIR_IMPORT_HISTORY] = "import-history",
        [DIR_IMPORT_ORIGINAL] = "import-original",
};

const char *dir_op_name(dir_op op) {
        return (unsigned) op < DIR_OP__MAX ? op_names[op] : "unknown";
}

static bool is_record_op(dir_op op) {
        return op == DIR_RESERVE || op == DIR_RELEASE || op == DIR_STATE || op == DIR_IMPORT_RECORD ||
               op == DIR_IMPORT_HISTORY;
}

static void put_value(FILE *f, const char *key, const char *v) {
        fprintf(f, "\t%s=", key);
        for (const unsigned char *p = (const unsigned char *) (v ? v : ""); *p; p++)
                if (*p < 0x20 || *p == 0x7f || *p == '%')
                        fprintf(f, "%%%02X", *p);
                else
                        fputc(*p, f);
}

static void put_int(FILE *f, const char *key, int64_t v) {
        fprintf(f, "\t%s=%" PRId64, key, v);
}

static void put_item(FILE *f, const dir_entry *en) {
        fprintf(f, "op=%s", dir_op_name(en->op));
        put_int(f, "at", en->at_us);
        if (en->op == DIR_IMPORT_HISTORY)
                put_value(f, "hop", mcs_history_op_name(en->hop));
        if (is_record_op(en->op)) {
                const mcs_record *r = &en->rec;
                put_value(f, "uuid", r->uuid);
                put_value(f, "name", r->name);
                put_value(f, "label", r->label);
                put_value(f, "kind", mcs_kind_name(r->kind));
                put_value(f, "host", r->host);
                put_value(f, "state", mcs_state_name(r->state));
                put_int(f, "created", r->created_us);
                put_int(f, "updated", r->updated_us);
                put_int(f, "generation", (int64_t) r->generation);
        } else {
                const mcs_original *o = &en->orig;
                put_value(f, "path", o->path);
                if (en->op != DIR_FORGET) {
                        put_value(f, "uuid", o->uuid);
                        put_value(f, "context", o->context);
                        put_value(f, "host", o->host);
                        put_int(f, "saved", o->saved_us);
                }
        }
        fputc('\n', f);
}

int dir_entry_format(const dir_entry *en, const char *token, char **out, mcs_err *e) {
        size_t len;
        FILE *f = open_memstream(out, &len);
        if (!f)
                return mcs_fail(e, MCS_E_NOMEM, "out of memory");
        fprintf(f, ENTRY_MAGIC "\ntoken=%s\n", token);
        put_item(f, en);
        if (fclose(f) != 0) {
                free(*out);
                return mcs_fail(e, MCS_E_NOMEM, "out of memory");
        }
        return 0;
}

/* ---- parsing ---- */

struct fields {
        char *op, *at, *hop, *uuid, *name, *label, *kind, *host, *state, *created, *updated, *generation, *path,
                *context, *saved;
};

static int hexval(char c) {
        return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int unescape(char *s) {
        char *w = s;
        for (char *p = s; *p; p++) {
                if (*p != '%') {
                        *w++ = *p;
                        continue;
                }
                int hi = hexval(p[1]), lo = hi < 0 ? -1 : hexval(p[2]);
                if (lo < 0 || (hi == 0 && lo == 0))
                        return -1;
                *w++ = (char) (hi * 16 + lo);
                p += 2;
        }
        *w = '\0';
        return 0;
}

static int split_fields(char *line, struct fields *f) {
        *f = (struct fields){0};
        for (char *save = NULL, *tok = strtok_r(line, "\t", &save); tok; tok = strtok_r(NULL, "\t", &save)) {
                char *eq = strchr(tok, '=');
                if (!eq)
                        return -1;
                *eq = '\0';
                char *v = eq + 1, **slot = NULL;
                static const struct {
                        const char *key;
                        size_t off;
                } keys[] = {
#define K(k) {#k, offsetof(struct fields, k)}
                        K(op), K(at), K(hop), K(uuid), K(name), K(label), K(kind), K(host), K(state),
                        K(created), K(updated), K(generation), K(path), K(context), K(saved),
#undef K
                };
                for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
                        if (strcmp(keys[i].key, tok) == 0)
                                slot = (char **) ((char *) f + keys[i].off);
                if (!slot || *slot || unescape(v) < 0)
                        return -1;
                *slot = v;
        }
        return f->op ? 0 : -1;
}

static int parse_int(const char *s, int64_t *out) {
        char *end;
        if (!s || !*s)
                return -1;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (errno || *end)
                return -1;
        *out = v;
        return 0;
}

/* -1 for a line of the wrong shape; -1 with why set for fields that parse
 * but are not what a client could have written (backend.h). */
static int parse_item(char *line, dir_entry *en, mcs_err *why) {
        struct fields f;
        int64_t gen;
        *en = (dir_entry){0};
        if (split_fields(line, &f) < 0 || parse_int(f.at, &en->at_us) < 0)
                return -1;
        int op = -1;
        for (int i = 0; i < DIR_OP__MAX; i++)
                if (strcmp(op_names[i], f.op) == 0)
                        op = i;
        if (op < 0)
                return -1;
        en->op = (dir_op) op;
        if (en->op == DIR_IMPORT_HISTORY && mcs_history_op_from_name(f.hop, &en->hop) < 0)
                return -1;
        if (is_record_op(en->op)) {
                mcs_record *r = &en->rec;
                if (!f.uuid || strlen(f.uuid) != MCS_UUID_STRLEN || !f.name || !f.label || !f.host ||
                    mcs_kind_from_name(f.kind, &r->kind) < 0 || mcs_state_from_name(f.state, &r->state) < 0 ||
                    parse_int(f.created, &r->created_us) < 0 || parse_int(f.updated, &r->updated_us) < 0 ||
                    parse_int(f.generation, &gen) < 0)
                        return -1;
                memcpy(r->uuid, f.uuid, sizeof r->uuid);
                r->generation = (uint64_t) gen;
                r->name = strdup(f.name);
                r->label = strdup(f.label);
                r->host = strdup(f.host);
                return r->name && r->label && r->host && mcs_stored_record_check(r, "log", why) == 0 ? 0 : -1;
        }
        mcs_original *o = &en->orig;
        if (!f.path || !(o->path = strdup(f.path)))
                return -1;
        if (en->op == DIR_FORGET)
                return mcs_stored_path_check(o->path, "log", why) == 0 ? 0 : -1;
        if (!f.uuid || strlen(f.uuid) != MCS_UUID_STRLEN || !f.context || !f.host ||
            parse_int(f.saved, &o->saved_us) < 0)
                return -1;
        memcpy(o->uuid, f.uuid, sizeof o->uuid);
        o->context = strdup(f.context);
        o->host = strdup(f.host);
        return o->context && o->host && mcs_stored_original_check(o, "log", why) == 0 ? 0 : -1;
}

void dir_entry_clear(dir_entry *en) {
        mcs_record_clear(&en->rec);
        free(en->orig.path);
        free(en->orig.context);
        free(en->orig.host);
        *en = (dir_entry){0};
}

static char *next_line(char **p) {
        char *s = *p, *nl = s ? strchr(s, '\n') : NULL;
        if (!nl)
                return NULL;
        *nl = '\0';
        *p = nl + 1;
        return s;
}

static int parse_token(const char *line, char token[DIR_TOKEN_LEN + 1]) {
        if (strncmp(line, "token=", 6) || strlen(line + 6) != DIR_TOKEN_LEN ||
            strspn(line + 6, "0123456789abcdef") != DIR_TOKEN_LEN)
                return -1;
        memcpy(token, line + 6, DIR_TOKEN_LEN + 1);
        return 0;
}

int dir_entry_parse(char *text, dir_entry *en, char token[DIR_TOKEN_LEN + 1], mcs_err *e) {
        char *p = text, *magic = next_line(&p), *tok = next_line(&p), *item = next_line(&p);
        mcs_err why = {0};
        *en = (dir_entry){0};
        if (!magic || strcmp(magic, ENTRY_MAGIC) || !tok || parse_token(tok, token) < 0 || !item ||
            parse_item(item, en, &why) < 0 || *p) {
                dir_entry_clear(en);
                if (why.code)
                        return mcs_fail(e, MCS_E_SCHEMA, "%s", why.msg);
                return mcs_fail(e, MCS_E_SCHEMA, "not a registry entry of this version (expected '%s')",
                                ENTRY_MAGIC);
        }
        return 0;
}

/* ---- snapshots: the records and originals after entry seq, as imports ---- */

int dir_snap_format(dirb *b, char **out, mcs_err *e) {
        size_t len;
        FILE *f = open_memstream(out, &len);
        if (!f)
                return mcs_fail(e, MCS_E_NOMEM, "out of memory");
        fprintf(f, SNAP_MAGIC "\nseq=%" PRIu64 "\ntoken=%s\n", b->seq, b->token);
        for (size_t i = 0; i < b->records.cap; i++)
                if (b->records.v[i].key) {
                        dir_entry en = {.op = DIR_IMPORT_RECORD, .rec = *(mcs_record *) b->records.v[i].val};
                        put_item(f, &en);
                }
        for (size_t i = 0; i < b->originals.cap; i++)
                if (b->originals.v[i].key) {
                        dir_entry en = {.op = DIR_IMPORT_ORIGINAL, .orig = *(mcs_original *) b->originals.v[i].val};
                        put_item(f, &en);
                }
        fprintf(f, "end=%zu\n", b->records.n + b->originals.n);
        if (fclose(f) != 0) {
                free(*out);
                return mcs_fail(e, MCS_E_NOMEM, "out of memory");
        }
        return 0;
}

void dir_record_free(void *p) {
        mcs_record_clear(p);
        free(p);
}

void dir_original_free(void *p) {
        mcs_original *o = p;
        free(o->path);
        free(o->context);
        free(o->host);
        free(o);
}

int dir_snap_load(dirb *b, char *text, mcs_err *e) {
        char *p = text, *magic = next_line(&p), *seq = next_line(&p), *tok = next_line(&p), *line;
        int64_t s, end = -1, items = 0;
        bool v1 = magic && strcmp(magic, SNAP_MAGIC_V1) == 0;
        if (!magic || (strcmp(magic, SNAP_MAGIC) && !v1) || !seq || strncmp(seq, "seq=", 4) ||
            parse_int(seq + 4, &s) < 0 || s < 0 || !tok || parse_token(tok, b->token) < 0)
                return mcs_fail(e, MCS_E_SCHEMA, "not a registry snapshot of this version");
        b->seq = (uint64_t) s;
        while ((line = next_line(&p)) != NULL) {
                dir_entry en;
                if (end >= 0)
                        return mcs_fail(e, MCS_E_SCHEMA, "a snapshot goes on after its end line");
                if (!v1 && strncmp(line, "end=", 4) == 0) {
                        if (parse_int(line + 4, &end) < 0 || end != items)
                                return mcs_fail(e, MCS_E_SCHEMA, "a snapshot's end line does not count its %" PRId64
                                                " items", items);
                        continue;
                }
                items++;
                mcs_err why = {0};
                if (parse_item(line, &en, &why) < 0 || (en.op != DIR_IMPORT_RECORD && en.op != DIR_IMPORT_ORIGINAL)) {
                        dir_entry_clear(&en);
                        return mcs_fail(e, MCS_E_SCHEMA, "a snapshot line does not parse%s%s", why.code ? ": " : "",
                                        why.msg);
                }
                int r = -1;
                if (en.op == DIR_IMPORT_RECORD) {
                        mcs_record *rec = malloc(sizeof *rec);
                        if (rec) {
                                *rec = en.rec;
                                en.rec = (mcs_record){0};
                                r = dir_map_get(&b->records, rec->uuid) ? -1 : dir_map_put(&b->records, rec->uuid, rec);
                                if (r < 0)
                                        dir_record_free(rec);
                        }
                } else {
                        mcs_original *o = malloc(sizeof *o);
                        if (o) {
                                *o = en.orig;
                                en.orig = (mcs_original){0};
                                r = dir_map_get(&b->originals, o->path) ? -1 : dir_map_put(&b->originals, o->path, o);
                                if (r < 0)
                                        dir_original_free(o);
                        }
                }
                dir_entry_clear(&en);
                if (r < 0)
                        return mcs_fail(e, MCS_E_SCHEMA, "a snapshot holds a record twice, or out of memory");
        }
        if (*p)
                return mcs_fail(e, MCS_E_SCHEMA, "a snapshot ends without a line end");
        return v1 || end >= 0 ? 0 : mcs_fail(e, MCS_E_SCHEMA, "a snapshot ends without its end line (cut short)");
}

/* ---- host names as file names ---- */

void dir_hostkey(const char *host, char *out, size_t len) {
        size_t n = 0;
        for (const unsigned char *p = (const unsigned char *) host; *p && n + 4 < len; p++) {
                if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
                    *p == '_' || (*p == '.' && p != (const unsigned char *) host))
                        out[n++] = (char) *p;
                else
                        n += (size_t) snprintf(out + n, len - n, "%%%02X", *p);
        }
        out[n] = '\0';
        if (strlen(host) * 3 + 1 > len) { /* may not fit: a hash names it instead */
                uint64_t h = 1469598103934665603ull;
                for (const unsigned char *p = (const unsigned char *) host; *p; p++)
                        h = (h ^ *p) * 1099511628211ull;
                snprintf(out, len, "%%hash-%016" PRIx64, h);
        }
}

int dir_heartbeat_parse(char *text, char **host, int64_t *seen_us) {
        char *p = text, *line = next_line(&p);
        struct fields f;
        if (!line || split_fields(line, &f) < 0 || strcmp(f.op, "beat") || !f.host || parse_int(f.at, seen_us) < 0 ||
            mcs_stored_host_check(f.host, "heartbeat", NULL) < 0)
                return -1;
        *host = f.host;
        return 0;
}

int dir_heartbeat_format(const char *host, int64_t seen_us, char **out) {
        size_t len;
        FILE *f = open_memstream(out, &len);
        if (!f)
                return -1;
        fprintf(f, "op=beat");
        put_int(f, "at", seen_us);
        put_value(f, "host", host);
        fputc('\n', f);
        return fclose(f) == 0 ? 0 : -1;
}

/* ---- who asked for an entry: who/<token> ---- */

#define WHO_MAGIC "mcs-dir-who 1"

int dir_who_format(const mcs_actor *who, char *out, size_t len) {
        int n = snprintf(out, len, WHO_MAGIC "\nuid=%" PRIu32 "\tpid=%" PRId32 "\n", who->uid, who->pid);
        return n < 0 || (size_t) n >= len ? -1 : 0;
}

int dir_who_parse(const char *text, mcs_actor *out, mcs_err *e) {
        char uid[16], pid[16], again[64];
        int64_t u, p;
        mcs_actor who;
        /* Exactly what dir_who_format writes: the numbers read back must
         * format into the same text (no sign, no leading zero, no more). */
        if (strncmp(text, WHO_MAGIC "\nuid=", sizeof WHO_MAGIC + 4) ||
            sscanf(text + sizeof WHO_MAGIC + 4, "%10[0-9]\tpid=%10[0-9]", uid, pid) != 2 || parse_int(uid, &u) < 0 ||
            parse_int(pid, &p) < 0 || u > UINT32_MAX || p > INT32_MAX ||
            (who = (mcs_actor){.known = true, .uid = (uint32_t) u, .pid = (int32_t) p},
             dir_who_format(&who, again, sizeof again) < 0) ||
            strcmp(again, text))
                return mcs_fail(e, MCS_E_SCHEMA, "not a record of who asked of this version (expected '%s')",
                                WHO_MAGIC);
        *out = who;
        return mcs_stored_actor_check(out, "who", e);
}
