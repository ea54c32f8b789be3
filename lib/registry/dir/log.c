/* The registry as a totally ordered log of entries in a directory, shared
 * by every host: correctness rests on one atomic step, an exclusive
 * publish (link() of a complete, synced temporary file to the next entry's
 * name, which fails with EEXIST when another writer took it), never on
 * locks or client caches. docs/registry.md gives the whole argument.
 *
 *   registry-id        random id, created once (exclusively)
 *   log/<seq>          entries 1, 2, ... (20 digits); never rewritten
 *   snap/<seq>         records and originals after entry seq, every 1000
 *   hosts/<host>       heartbeats, replaced by rename
 *   tmp/<host>.<pid>.<token>  files being written; their host removes leftovers
 *
 * A handle replays the log into memory and appends entry seq+1 where seq
 * is the last entry it replayed, after checking its condition against the
 * replayed state: the append succeeds only if nobody appended meanwhile,
 * so check and write are one atomic step. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "dir.h"
#include "mcs-macro.h"

#define ID_MAGIC "mcs-dir-registry 1"

int dir_fail(dirb *b, int err, const char *what, const char *name, mcs_err *e) {
        const char *d = b->io->detail;
        return mcs_fail(e, err == -ENOMEM ? MCS_E_NOMEM : MCS_E_IO, "registry %s:%s: %s %s: %s%s%s", b->scheme,
                        b->io->where, what, name, strerror(-err), *d ? " (" : "", *d ? d : "");
}

static void entry_name(uint64_t seq, char *out, size_t len) {
        snprintf(out, len, "log/%020" PRIu64, seq);
}

static int random_hex(char *out, size_t digits) {
        unsigned char raw[32];
        size_t n = (digits + 1) / 2;
        if (n > sizeof raw || getrandom(raw, n, 0) != (ssize_t) n)
                return -1;
        for (size_t i = 0; i < digits; i++)
                out[i] = "0123456789abcdef"[(raw[i / 2] >> (i % 2 ? 0 : 4)) & 15];
        out[digits] = '\0';
        return 0;
}

void dir_mark(const dirb *b, const char *token, char *out, size_t len) {
        snprintf(out, len, "%s %s", b->id, *token ? token : "-");
}

/* ---- the replayed state ---- */

static void ring_clear(dirb *b) {
        for (size_t i = 0; i < b->ring_n; i++)
                free(b->ring[i].label);
        free(b->ring);
        b->ring = NULL;
        b->ring_n = 0;
}

static void state_clear(dirb *b) {
        dir_map_free(&b->records, dir_record_free);
        dir_map_free(&b->originals, dir_original_free);
        ring_clear(b);
        b->seq = b->base = 0;
        b->token[0] = b->base_token[0] = '\0';
}

static int ring_push(dirb *b, uint64_t seq, const char *token, const dir_entry *en, bool feed, mcs_history_op op) {
        if (b->ring_n == DIR_RING_MAX) {
                /* Keep the newer half: a cursor older than that rescans. */
                size_t drop = DIR_RING_MAX / 2;
                b->base = b->ring[drop - 1].seq;
                memcpy(b->base_token, b->ring[drop - 1].token, sizeof b->base_token);
                for (size_t i = 0; i < drop; i++)
                        free(b->ring[i].label);
                memmove(b->ring, b->ring + drop, (b->ring_n - drop) * sizeof *b->ring);
                b->ring_n -= drop;
        }
        if (!b->ring && !(b->ring = malloc(DIR_RING_MAX * sizeof *b->ring)))
                return -ENOMEM;
        dir_seen *s = &b->ring[b->ring_n];
        *s = (dir_seen){.seq = seq, .feed = feed, .op = op};
        memcpy(s->token, token, sizeof s->token);
        if (feed) {
                memcpy(s->uuid, en->rec.uuid, sizeof s->uuid);
                if (!(s->label = strdup(en->rec.label)))
                        return -ENOMEM;
        }
        b->ring_n++;
        return 0;
}

static int put_record(dirb *b, const mcs_record *src) {
        mcs_record *rec = malloc(sizeof *rec);
        if (!rec || mcs_record_copy(rec, src, NULL) < 0) {
                free(rec);
                return -ENOMEM;
        }
        mcs_record *old = dir_map_del(&b->records, rec->uuid);
        if (old)
                dir_record_free(old);
        if (dir_map_put(&b->records, rec->uuid, rec) < 0) {
                dir_record_free(rec);
                return -ENOMEM;
        }
        return 0;
}

/* A state entry changes what a state change may (name, host, state,
 * times, generation) of the record it was decided against, and nothing
 * else: one whose label, kind or creation time is not the record's (an
 * older mcsd appended it over a record released and reserved again
 * meanwhile), or whose generation is not above the record's (decided
 * against an older read of it), changes nothing, so neither an old label
 * nor an old host or generation comes back, which a release_if() by a
 * reader of the old record would take for its own. With no record there
 * (released meanwhile), it changes nothing either. 1: applied, 0: not. */
static int put_state(dirb *b, const mcs_record *src) {
        const mcs_record *now = dir_map_get(&b->records, src->uuid);
        if (!now || strcmp(now->label, src->label) || now->kind != src->kind || now->created_us != src->created_us ||
            src->generation <= now->generation)
                return 0;
        int r = put_record(b, src);
        return r < 0 ? r : 1;
}

static int put_original(dirb *b, const mcs_original *src) {
        if (dir_map_get(&b->originals, src->path))
                return 0; /* the first one stays */
        mcs_original *o = calloc(1, sizeof *o);
        if (!o)
                return -ENOMEM;
        memcpy(o->uuid, src->uuid, sizeof o->uuid);
        o->saved_us = src->saved_us;
        o->path = strdup(src->path);
        o->context = strdup(src->context);
        o->host = strdup(src->host);
        if (!o->path || !o->context || !o->host || dir_map_put(&b->originals, o->path, o) < 0) {
                dir_original_free(o);
                return -ENOMEM;
        }
        return 0;
}

/* Entry seq, already checked by its writer against this same state. */
static int apply(dirb *b, uint64_t seq, const char *token, const dir_entry *en, mcs_err *e) {
        int r = 0;
        bool feed = false;
        mcs_history_op op = MCS_OP_STATE;
        void *old;
        switch (en->op) {
        case DIR_RESERVE:
        case DIR_IMPORT_RECORD:
                r = put_record(b, &en->rec);
                feed = true;
                op = MCS_OP_RESERVE;
                break;
        case DIR_STATE:
                /* One that changes nothing is not in the feed either. */
                r = put_state(b, &en->rec);
                feed = r == 1;
                r = r < 0 ? r : 0;
                break;
        case DIR_RELEASE:
                if ((old = dir_map_del(&b->records, en->rec.uuid)) != NULL)
                        dir_record_free(old);
                feed = true;
                op = MCS_OP_RELEASE;
                break;
        case DIR_REMEMBER:
        case DIR_IMPORT_ORIGINAL:
                r = put_original(b, &en->orig);
                break;
        case DIR_FORGET:
                if ((old = dir_map_del(&b->originals, en->orig.path)) != NULL)
                        dir_original_free(old);
                break;
        case DIR_IMPORT_HISTORY:
        case DIR_OP__MAX:
                break;
        }
        if (r == 0)
                r = ring_push(b, seq, token, en, feed, op);
        if (r < 0)
                return mcs_fail(e, MCS_E_NOMEM, "out of memory");
        b->seq = seq;
        memcpy(b->token, token, sizeof b->token);
        return 0;
}

/* ---- reading ---- */

int dir_read_entry(dirb *b, uint64_t seq, dir_entry *en, char token[DIR_TOKEN_LEN + 1], mcs_err *e) {
        char name[64];
        _cleanup_free_ char *text = NULL;
        size_t len;
        entry_name(seq, name, sizeof name);
        int r = b->io->ops->read(b->io, name, &text, &len);
        if (r == -ENOENT)
                return -(int) MCS_E_NOTFOUND;
        if (r < 0)
                return dir_fail(b, r, "read", name, e);
        if (strlen(text) != len)
                r = mcs_fail(e, MCS_E_SCHEMA, "a NUL byte");
        else
                r = dir_entry_parse(text, en, token, e);
        if (r < 0) {
                mcs_err_prefix(e, "registry %s:%s: %s", b->scheme, b->io->where, name);
                return -(int) MCS_E_SCHEMA;
        }
        return 0;
}

static int read_id(dirb *b, char id[DIR_ID_LEN + 1], mcs_err *e) {
        _cleanup_free_ char *text = NULL;
        size_t len;
        int r = b->io->ops->read(b->io, "registry-id", &text, &len);
        if (r == -ENOENT)
                return mcs_fail(e, MCS_E_IO, "registry %s:%s: no registry-id file: the directory is not (or no "
                                "longer) a registry", b->scheme, b->io->where);
        if (r < 0)
                return dir_fail(b, r, "read", "registry-id", e);
        const char *p = strchr(text, '\n');
        if (strncmp(text, ID_MAGIC "\n", sizeof ID_MAGIC) || !p || strncmp(p + 1, "id=", 3) ||
            strspn(p + 4, "0123456789abcdef") != DIR_ID_LEN || strcmp(p + 4 + DIR_ID_LEN, "\n"))
                return mcs_fail(e, MCS_E_SCHEMA, "registry %s:%s: registry-id is not a registry id of this version "
                                "(expected '%s')", b->scheme, b->io->where, ID_MAGIC);
        memcpy(id, p + 4, DIR_ID_LEN);
        id[DIR_ID_LEN] = '\0';
        return 0;
}

/* Replays entries seq+1, seq+2, ... up to the first that does not exist. */
static int replay(dirb *b, mcs_err *e) {
        for (;;) {
                dir_entry en;
                char token[DIR_TOKEN_LEN + 1];
                int r = dir_read_entry(b, b->seq + 1, &en, token, e);
                if (r == -(int) MCS_E_NOTFOUND)
                        return 0;
                if (r < 0)
                        return r;
                r = apply(b, b->seq + 1, token, &en, e);
                dir_entry_clear(&en);
                if (r < 0)
                        return r;
        }
}

static int is_seq_name(const char *name, uint64_t *seq) {
        if (strlen(name) != 20 || strspn(name, "0123456789") != 20)
                return 0;
        *seq = strtoull(name, NULL, 10);
        return 1;
}

/* The highest number among the names of a listing (0: none). */
static int note_highest(void *ctx, const char *name) {
        uint64_t *highest = ctx, seq;
        if (is_seq_name(name, &seq) && seq > *highest)
                *highest = seq;
        return 0;
}

/* The lowest and highest numbers among the names of a listing (0: none). */
struct span {
        uint64_t lowest, highest;
};

static int note_span(void *ctx, const char *name) {
        struct span *s = ctx;
        uint64_t seq;
        if (is_seq_name(name, &seq)) {
                if (seq > s->highest)
                        s->highest = seq;
                if (!s->lowest || seq < s->lowest)
                        s->lowest = seq;
        }
        return 0;
}

/* The state replayed so far, set aside while a reload tries to replace it. */
typedef struct dir_saved {
        dir_map records, originals;
        dir_seen *ring;
        size_t ring_n;
        uint64_t seq, base;
        char token[DIR_TOKEN_LEN + 1], base_token[DIR_TOKEN_LEN + 1];
} dir_saved;

static void state_set_aside(dirb *b, dir_saved *s) {
        *s = (dir_saved){.records = b->records, .originals = b->originals, .ring = b->ring, .ring_n = b->ring_n,
                         .seq = b->seq, .base = b->base};
        memcpy(s->token, b->token, sizeof s->token);
        memcpy(s->base_token, b->base_token, sizeof s->base_token);
        b->records = b->originals = (dir_map){0};
        b->ring = NULL;
        b->ring_n = 0;
        state_clear(b);
}

/* Puts s back in place of b's state; s is b's again. */
static void state_put_back(dirb *b, dir_saved *s) {
        state_clear(b);
        b->records = s->records;
        b->originals = s->originals;
        b->ring = s->ring;
        b->ring_n = s->ring_n;
        b->seq = s->seq;
        b->base = s->base;
        memcpy(b->token, s->token, sizeof b->token);
        memcpy(b->base_token, s->base_token, sizeof b->base_token);
}

static void saved_free(dir_saved *s) {
        dir_map_free(&s->records, dir_record_free);
        dir_map_free(&s->originals, dir_original_free);
        for (size_t i = 0; i < s->ring_n; i++)
                free(s->ring[i].label);
        free(s->ring);
}

static int snap_unusable(dirb *b, const char *name, mcs_code code, const char *why, mcs_err *e) {
        return mcs_fail(e, code, "registry %s:%s: %s, the newest snapshot, cannot be used: %s; writes stop (an "
                        "older state could hand out a label held since) until it is repaired or moved away",
                        b->scheme, b->io->where, name, why);
}

/* Loads snapshot seq, which the listing says is the newest: an older one
 * is never taken instead, since the entries between may be gone (moved
 * away as docs/registry.md allows) and the first of them missing would
 * look like the end of the log. */
static int load_snap(dirb *b, uint64_t seq, mcs_err *e) {
        char name[64], why[512];
        _cleanup_free_ char *text = NULL;
        size_t len;
        mcs_err parse = {0};
        snprintf(name, sizeof name, "snap/%020" PRIu64, seq);
        int r = b->io->ops->read(b->io, name, &text, &len);
        if (r == -EFBIG) {
                snprintf(why, sizeof why, "it is larger than %zu bytes, the most a registry file may hold",
                         b->io->read_max);
                return snap_unusable(b, name, MCS_E_IO, why, e);
        }
        if (r < 0) {
                const char *d = b->io->detail;
                snprintf(why, sizeof why, "read: %s%s%s%s", strerror(-r), *d ? " (" : "", d, *d ? ")" : "");
                return snap_unusable(b, name, r == -ENOMEM ? MCS_E_NOMEM : MCS_E_IO, why, e);
        }
        if (strlen(text) != len)
                return snap_unusable(b, name, MCS_E_SCHEMA, "it holds a NUL byte", e);
        if (dir_snap_load(b, text, &parse) < 0)
                return snap_unusable(b, name, parse.code, parse.msg, e);
        if (b->seq != seq) {
                snprintf(why, sizeof why, "it holds the state after entry %" PRIu64, b->seq);
                return snap_unusable(b, name, MCS_E_SCHEMA, why, e);
        }
        b->base = b->seq;
        memcpy(b->base_token, b->token, sizeof b->base_token);
        return 0;
}

/* The newest snapshot (or nothing), then every entry after it: the log is
 * listed before the entries are read, so an entry listed but not replayed
 * is a gap (entries are created in order and never removed by mcsd), not a
 * writer that came meanwhile. */
static int load_newest(dirb *b, mcs_err *e) {
        struct span snaps = {0}, log = {0};
        int r = b->io->ops->list(b->io, "snap", note_span, &snaps);
        uint64_t newest = snaps.highest, highest;
        if (r < 0)
                return dir_fail(b, r, "list", "snap", e);
        if (newest > 0 && (r = load_snap(b, newest, e)) < 0)
                return r;
        if ((r = b->io->ops->list(b->io, "log", note_span, &log)) < 0)
                return dir_fail(b, r, "list", "log", e);
        highest = log.highest;
        /* Entries go away from the start: the oldest snapshot is the one
         * whose next entry goes first. */
        b->snap_left = snaps.lowest < newest && log.lowest > snaps.lowest + 1 ? snaps.lowest : 0;
        if ((r = replay(b, e)) < 0)
                return r;
        if (b->seq >= highest)
                return 0;
        char missing[64], last[64], from[64] = "no snapshot";
        entry_name(b->seq + 1, missing, sizeof missing);
        entry_name(highest, last, sizeof last);
        if (newest)
                snprintf(from, sizeof from, "replayed from snap/%020" PRIu64, newest);
        if (newest == 0 && b->seq == 0)
                return mcs_fail(e, MCS_E_SCHEMA, "registry %s:%s: %s is gone and no snapshot loads: the log cannot "
                                "be replayed (%s exists)", b->scheme, b->io->where, missing, last);
        return mcs_fail(e, MCS_E_SCHEMA, "registry %s:%s: %s is missing but %s exists: the log has a gap after "
                        "entry %" PRIu64 " (%s); writes stop (the next one would be decided against the state "
                        "before the gap) until the missing entries are put back", b->scheme, b->io->where, missing,
                        last, b->seq, from);
}

/* Starts again from the newest snapshot and the log after it. When that
 * fails on a registry this handle had replayed, the state it had stays
 * for reads and writes stop (b->stop) until a later refresh succeeds;
 * with nothing to fall back on, the failure is the answer. */
static int reload(dirb *b, const char *id, mcs_err *e) {
        dir_saved old;
        bool had = b->id[0] && strcmp(b->id, id) == 0;
        mcs_err why = {0};
        state_set_aside(b, &old);
        memcpy(b->id, id, sizeof b->id);
        int r = load_newest(b, &why);
        if (r == 0) {
                saved_free(&old);
                return 0;
        }
        if (had) {
                state_put_back(b, &old);
                b->stop = why;
                return 0;
        }
        saved_free(&old);
        state_clear(b);
        b->id[0] = '\0'; /* load again at the next refresh, not on top of a part */
        if (e)
                *e = why;
        return r;
}

/* Is entry seq still the one this handle replayed? (An older copy of the
 * directory put back has other entries, or none, from some seq on.) An
 * entry moved away by an operator counts as changed too: the entries after
 * it may be gone as well, and a handle that took the first missing name
 * for the end of the log would write there. It starts again from the
 * newest snapshot, whose own entry must stay. */
static int same_entry(dirb *b, mcs_err *e) {
        char name[64];
        _cleanup_free_ char *text = NULL;
        size_t len;
        entry_name(b->seq, name, sizeof name);
        int r = b->io->ops->read(b->io, name, &text, &len);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return dir_fail(b, r, "read", name, e);
        char *t = strstr(text, "\ntoken=");
        return t && strncmp(t + 7, b->token, DIR_TOKEN_LEN) == 0;
}

int dir_writable(const dirb *b, mcs_err *e) {
        if (b->stop.code == MCS_OK)
                return 0;
        if (e)
                *e = b->stop;
        return -(int) b->stop.code;
}

int dir_refresh(dirb *b, mcs_err *e) {
        char id[DIR_ID_LEN + 1];
        mcs_err_clear(&b->stop); /* set again below if it still holds */
        int r = b->io->ops->refresh(b->io);
        if (r < 0)
                return dir_fail(b, r, "reach", "the registry directory", e);
        if ((r = read_id(b, id, e)) < 0)
                return r;
        if (strcmp(id, b->id) != 0)
                return reload(b, id, e);
        /* At entry 0 there is no entry of ours to check: log/1 missing
         * is an empty log or a log whose start was moved away, which only
         * the listings tell apart (load_newest). */
        if (b->seq == 0)
                return reload(b, id, e);
        if ((r = same_entry(b, e)) <= 0)
                return r < 0 ? r : reload(b, id, e);
        return replay(b, e);
}

/* ---- writing ---- */

/* Writes data to a new temporary file, complete and synced; its name in tmp. */
int dir_put_tmp(dirb *b, const char *data, size_t len, char *tmp, size_t tmp_len, mcs_err *e) {
        for (int tries = 0;; tries++) {
                char rnd[DIR_TOKEN_LEN + 1];
                if (random_hex(rnd, DIR_TOKEN_LEN) < 0)
                        return mcs_fail(e, MCS_E_IO, "no random bytes: %s", strerror(errno));
                snprintf(tmp, tmp_len, "tmp/%s.%ld.%s", b->hostkey, (long) getpid(), rnd);
                int r = b->io->ops->put_new(b->io, tmp, data, len);
                if (r == 0)
                        return 0;
                /* EEXIST for a fresh random name: our own create, answered twice. */
                if (r != -EEXIST || tries == 3)
                        return dir_fail(b, r, "write", tmp, e);
        }
}

/* Publishes tmp as name. 1: done; 0: another file has the name; or an error. */
static int publish(dirb *b, const char *tmp, const char *name, const char *token, mcs_err *e) {
        int r = b->io->ops->link(b->io, tmp, name);
        if (r == -EEXIST && token) {
                /* Ours when the server did the link but its answer was lost and the retry found it. */
                _cleanup_free_ char *text = NULL;
                size_t len;
                if (b->io->ops->read(b->io, name, &text, &len) == 0) {
                        char *t = strstr(text, "\ntoken=");
                        if (t && strncmp(t + 7, token, DIR_TOKEN_LEN) == 0)
                                r = 0;
                }
        }
        b->io->ops->unlink(b->io, tmp);
        if (r == -EEXIST)
                return 0;
        return r < 0 ? dir_fail(b, r, "publish", name, e) : 1;
}

/* Best effort: a handle that finds no newer snapshot replays more entries.
 * One longer than a reader takes is not written: as the newest it would
 * stop every writer (load_snap). */
static void snapshot(dirb *b) {
        _cleanup_free_ char *text = NULL;
        char tmp[256], name[64];
        if (dir_snap_format(b, &text, NULL) < 0)
                return;
        if (strlen(text) > b->io->read_max) {
                b->snap_skipped = b->seq;
                b->snap_skipped_len = strlen(text);
                return;
        }
        if (dir_put_tmp(b, text, strlen(text), tmp, sizeof tmp, NULL) < 0)
                return;
        snprintf(name, sizeof name, "snap/%020" PRIu64, b->seq);
        if (publish(b, tmp, name, NULL, NULL) == 1)
                b->io->ops->sync_dir(b->io, "snap");
}

/* Entry 1 is written only into an empty log: a snapshot means entries
 * were there (and log/1 may be free because they were moved away). The
 * refresh reloads at entry 0; this also covers a move since it. */
static int first_entry_free(dirb *b, mcs_err *e) {
        uint64_t newest = 0;
        int r = b->io->ops->list(b->io, "snap", note_highest, &newest);
        if (r < 0)
                return dir_fail(b, r, "list", "snap", e);
        return newest ? -(int) MCS_E_STALE : 0;
}

/* who/<token>, written before the entry it belongs to, so that no entry
 * is ever visible without it; one whose entry lost its race is removed
 * (one left by a crash names no entry: nothing reads it). The directory
 * is made on first use: registries older than it have none. */
static int put_who(dirb *b, const char *token, const mcs_actor *who, mcs_err *e) {
        char text[64], tmp[256], name[64];
        int r = b->io->ops->mkdir(b->io, "who");
        if (r < 0)
                return dir_fail(b, r, "create", "who", e);
        if (dir_who_format(who, text, sizeof text) < 0)
                return mcs_fail(e, MCS_E_INVALID, "uid %u pid %d cannot be recorded", (unsigned) who->uid,
                                (int) who->pid);
        if ((r = dir_put_tmp(b, text, strlen(text), tmp, sizeof tmp, e)) < 0)
                return r;
        snprintf(name, sizeof name, "who/%s", token);
        if ((r = publish(b, tmp, name, NULL, e)) < 0)
                return r;
        if (r == 0) /* a fresh random token taken: our own link, answered twice */
                return mcs_fail(e, MCS_E_IO, "registry %s:%s: %s exists already", b->scheme, b->io->where, name);
        r = b->io->ops->sync_dir(b->io, "who");
        return r < 0 ? dir_fail(b, r, "sync", "who", e) : 0;
}

int dir_read_who(dirb *b, const char *token, mcs_actor *out, mcs_err *e) {
        char name[64];
        _cleanup_free_ char *text = NULL;
        size_t len;
        *out = (mcs_actor){0};
        snprintf(name, sizeof name, "who/%s", token);
        int r = b->io->ops->read(b->io, name, &text, &len);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return dir_fail(b, r, "read", name, e);
        if (strlen(text) != len || dir_who_parse(text, out, e) < 0) {
                *out = (mcs_actor){0};
                if (e && !e->code)
                        mcs_fail(e, MCS_E_SCHEMA, "a NUL byte");
                mcs_err_prefix(e, "registry %s:%s: %s", b->scheme, b->io->where, name);
                return -(int) MCS_E_SCHEMA;
        }
        return 0;
}

int dir_lowest_entry(dirb *b, uint64_t *out, mcs_err *e) {
        struct span log = {0};
        int r = b->io->ops->list(b->io, "log", note_span, &log);
        *out = log.lowest;
        return r < 0 ? dir_fail(b, r, "list", "log", e) : 0;
}

int dir_append(dirb *b, const dir_entry *en, mcs_err *e) {
        char token[DIR_TOKEN_LEN + 1], tmp[256], name[64];
        _cleanup_free_ char *text = NULL;
        int r = dir_writable(b, e);
        if (r < 0 || (b->seq == 0 && (r = first_entry_free(b, e)) < 0))
                return r;
        if (random_hex(token, DIR_TOKEN_LEN) < 0)
                return mcs_fail(e, MCS_E_IO, "no random bytes: %s", strerror(errno));
        if ((r = dir_entry_format(en, token, &text, e)) < 0 ||
            (en->who.known && (r = put_who(b, token, &en->who, e)) < 0) ||
            (r = dir_put_tmp(b, text, strlen(text), tmp, sizeof tmp, e)) < 0)
                return r;
        uint64_t seq = b->seq + 1;
        entry_name(seq, name, sizeof name);
        if ((r = publish(b, tmp, name, token, e)) <= 0) {
                if (r == 0 && en->who.known) { /* lost the race: nobody will publish it */
                        char who[64];
                        snprintf(who, sizeof who, "who/%s", token);
                        b->io->ops->unlink(b->io, who);
                }
                return r < 0 ? r : -(int) MCS_E_STALE;
        }
        if ((r = b->io->ops->sync_dir(b->io, "log")) < 0)
                return dir_fail(b, r, "sync", "log", e);
        if ((r = apply(b, seq, token, en, e)) < 0)
                return r;
        if (seq % DIR_SNAP_EVERY == 0)
                snapshot(b);
        return 0;
}

/* ---- opening ---- */

struct foreign {
        int n;
        char first[64];
};

static int count_foreign(void *ctx, const char *name) {
        static const char *const ours[] = {"log", "snap", "tmp", "hosts", "who", "registry-id"};
        struct foreign *f = ctx;
        for (size_t i = 0; i < MCS_ARRAY_SIZE(ours); i++)
                if (strcmp(name, ours[i]) == 0)
                        return 0;
        if (f->n++ == 0)
                snprintf(f->first, sizeof f->first, "%s", name);
        return 0;
}

static int create_id(dirb *b, mcs_err *e) {
        struct foreign f = {0};
        char id[DIR_ID_LEN + 1], text[128], tmp[256];
        int r = b->io->ops->list(b->io, ".", count_foreign, &f);
        if (r < 0)
                return dir_fail(b, r, "list", "the registry directory", e);
        if (f.n)
                return mcs_fail(e, MCS_E_INVALID, "registry %s:%s: the directory holds '%s' and %d more names of "
                                "its own, and no registry-id: not a registry; name an empty or new directory",
                                b->scheme, b->io->where, f.first, f.n - 1);
        static const char *const dirs[] = {"log", "snap", "tmp", "hosts"};
        for (size_t i = 0; i < MCS_ARRAY_SIZE(dirs); i++)
                if ((r = b->io->ops->mkdir(b->io, dirs[i])) < 0)
                        return dir_fail(b, r, "create", dirs[i], e);
        if (random_hex(id, DIR_ID_LEN) < 0)
                return mcs_fail(e, MCS_E_IO, "no random bytes: %s", strerror(errno));
        snprintf(text, sizeof text, ID_MAGIC "\nid=%s\n", id);
        if ((r = dir_put_tmp(b, text, strlen(text), tmp, sizeof tmp, e)) < 0 ||
            (r = publish(b, tmp, "registry-id", NULL, e)) < 0) /* 0: another host created it first */
                return r;
        r = b->io->ops->sync_dir(b->io, ".");
        return r < 0 ? dir_fail(b, r, "sync", "the registry directory", e) : 0;
}

static int tmp_leftover(void *ctx, const char *name) {
        dirb *b = ctx;
        size_t k = strlen(b->hostkey);
        if (strncmp(name, b->hostkey, k) || name[k] != '.')
                return 0;
        char *end;
        long pid = strtol(name + k + 1, &end, 10);
        /* "<hostkey>.<pid>.<random>": a longer host key with ours as its start has more dots. */
        if (*end != '.' || strchr(end + 1, '.') || pid <= 0 || pid == (long) getpid())
                return 0;
        /* Written on this host by a process that is gone: nobody will publish it. */
        if (kill((pid_t) pid, 0) < 0 && errno == ESRCH) {
                char path[512];
                snprintf(path, sizeof path, "tmp/%s", name);
                b->io->ops->unlink(b->io, path);
        }
        return 0;
}

void dir_cleanup_tmp(dirb *b) {
        b->io->ops->list(b->io, "tmp", tmp_leftover, b);
}

int dir_open(dirb *b, const mcs_registry_config *cfg, mcs_err *e) {
        char id[DIR_ID_LEN + 1];
        int r;
        if (!(b->host = strdup(cfg->host_id)))
                return mcs_fail(e, MCS_E_NOMEM, "out of memory");
        dir_hostkey(b->host, b->hostkey, sizeof b->hostkey);
        mcs_err probe = {0};
        if (read_id(b, id, &probe) < 0 && !cfg->create)
                return mcs_fail(e, probe.code == MCS_E_IO ? MCS_E_NOTFOUND : probe.code, "%s; %s", probe.msg,
                                DIR_CREATE_HINT);
        if (probe.code && (r = create_id(b, e)) < 0)
                return r;
        if ((r = dir_refresh(b, e)) < 0)
                return r;
        dir_cleanup_tmp(b);
        return 0;
}

void dir_free(dirb *b) {
        if (!b)
                return;
        state_clear(b);
        if (b->io)
                b->io->ops->close(b->io);
        free(b->host);
        free(b);
}
