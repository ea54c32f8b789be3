/* The backend operations of dir:// and nfs://, on the replayed log (log.c). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dir.h"
#include "mcs-grow.h"
#include "mcs-level.h"
#include "mcs-macro.h"

int dir_backend_ops_open(dir_io *io, const char *scheme, const mcs_registry_config *cfg, mcs_backend **out,
                         mcs_err *e) {
        dirb *b = calloc(1, sizeof *b);
        if (!b) {
                io->ops->close(io);
                return mcs_fail(e, MCS_E_NOMEM, "out of memory");
        }
        b->io = io;
        b->scheme = scheme;
        b->max_tries = 1000;
        int r = dir_open(b, cfg, e);
        if (r < 0) {
                dir_free(b);
                return r;
        }
        *out = b;
        return 0;
}

/* "dir:///abs/path" or "dir:/abs/path". */
static int dir_open_location(const char *location, const mcs_registry_config *cfg, mcs_backend **out, mcs_err *e) {
        const char *path = strncmp(location, "///", 3) == 0 ? location + 2 : location;
        char why[512];
        dir_io *io;
        if (path[0] != '/' || path[1] == '/')
                return mcs_fail(e, MCS_E_INVALID, "registry 'dir:%s': expected dir:///ABSOLUTE/PATH", location);
        int r = dir_io_posix_open(path, cfg->create, &io, why, sizeof why);
        if (r == -ENOENT && !cfg->create)
                return mcs_fail(e, MCS_E_NOTFOUND, "registry dir:%s: %s; %s", path, why, DIR_CREATE_HINT);
        if (r < 0)
                return mcs_fail(e, r == -ENOMEM ? MCS_E_NOMEM : MCS_E_IO, "registry dir:%s: %s", path, why);
        return dir_backend_ops_open(io, "dir", cfg, out, e);
}

/* ---- reads ---- */

/* Where the entries after cursor at begin in the handle's ring, or -1 when
 * the ring cannot go on from it. The mark: the registry id, then the token
 * of entry pos, so another registry, or another entry at pos, ends it. */
static long cursor_index(const dirb *b, const mcs_cursor *at) {
        size_t idlen = strlen(b->id);
        if (strncmp(at->mark, b->id, idlen) || at->mark[idlen] != ' ' || at->pos > b->seq || at->pos < b->base)
                return -1;
        const char *token = at->pos == b->base ? b->base_token : b->ring[at->pos - b->base - 1].token;
        if (strcmp(at->mark + idlen + 1, *token ? token : "-"))
                return -1;
        return (long) (at->pos - b->base);
}

static int d_changes(mcs_backend *b, mcs_cursor *at, mcs_change_fn fn, void *ctx, mcs_err *e) {
        int r = dir_refresh(b, e);
        if (r < 0)
                return r;
        long from = cursor_index(b, at);
        if (from < 0)
                return -(int) MCS_E_STALE;
        for (size_t i = (size_t) from; i < b->ring_n; i++) {
                const dir_seen *s = &b->ring[i];
                if (s->feed) {
                        mcs_change c = {.op = s->op, .uuid = s->uuid, .label = s->label};
                        if ((r = fn(ctx, &c, e)) < 0)
                                return r;
                }
                at->pos = s->seq;
                dir_mark(b, s->token, at->mark, sizeof at->mark);
                if (r > 0)
                        break;
        }
        return 0;
}

static int d_scan(mcs_backend *b, mcs_record_fn fn, void *ctx, mcs_cursor *at, mcs_err *e) {
        int r = dir_refresh(b, e);
        if (r < 0)
                return r;
        for (size_t i = 0; i < b->records.cap; i++)
                if (b->records.v[i].key && (r = fn(ctx, b->records.v[i].val, e)) != 0)
                        return r < 0 ? r : 0;
        at->pos = b->seq;
        dir_mark(b, b->token, at->mark, sizeof at->mark);
        return 0;
}

static int lookup(dirb *b, const char *uuid, mcs_record *out, mcs_err *e) {
        const mcs_record *rec = dir_map_get(&b->records, uuid);
        if (!rec)
                return mcs_fail(e, MCS_E_NOTFOUND, "no reservation for %s", uuid);
        return mcs_record_copy(out, rec, e);
}

static int d_get(mcs_backend *b, const char *uuid, mcs_record *out, mcs_err *e) {
        int r = dir_refresh(b, e);
        return r < 0 ? r : lookup(b, uuid, out, e);
}

/* ---- conditional writes: check against the replayed state, append ---- */

/* Runs step until it does not lose the race for the next entry. step
 * checks its condition and appends; -MCS_E_STALE: somebody appended first. */
typedef int (*write_step)(dirb *b, void *arg, mcs_err *e);

static int retry(dirb *b, write_step step, void *arg, mcs_err *e) {
        for (unsigned n = 0; n < b->max_tries; n++) {
                int r = dir_refresh(b, e);
                if (r < 0 || (r = dir_writable(b, e)) < 0 || (r = step(b, arg, e)) != -(int) MCS_E_STALE)
                        return r;
        }
        return mcs_fail(e, MCS_E_BUSY, "registry %s:%s: other writers appended %u times in a row while this one "
                        "tried", b->scheme, b->io->where, b->max_tries);
}

static int d_create(mcs_backend *b, mcs_record *rec, const mcs_catset *claims, const mcs_cursor *view,
                    mcs_err *e) {
        /* The view stands for every entry up to b->seq if none since it
         * touched a category of claims (a label sharing none can neither
         * contain nor be contained in rec's); the append at b->seq + 1
         * fails if anything came after. */
        long from = cursor_index(b, view);
        if (from < 0)
                return -(int) MCS_E_STALE;
        for (size_t i = (size_t) from; i < b->ring_n; i++) {
                mcs_range held;
                if (!b->ring[i].feed)
                        continue;
                if (mcs_range_parse(b->ring[i].label, &held, NULL) < 0)
                        return -(int) MCS_E_STALE;
                for (unsigned w = 0; w < MCS_CATSET_WORDS; w++)
                        if (held.high.cats.w[w] & claims->w[w])
                                return -(int) MCS_E_STALE;
        }
        if (dir_map_get(&b->records, rec->uuid))
                return mcs_fail(e, MCS_E_EXISTS, "registry %s:%s: guest %s holds a label already", b->scheme,
                                b->io->where, rec->uuid);
        /* The number of the entry this appends: an earlier record of the
         * uuid went up by one generation an entry at most, so this one is
         * above every generation they had. */
        rec->generation = b->seq + 1;
        dir_entry en = {.op = DIR_RESERVE, .at_us = rec->created_us, .rec = *rec, .who = b->who};
        return dir_append(b, &en, e);
}

struct update_arg {
        const mcs_record *rec;
        uint64_t if_generation;
};

static int update_step(dirb *b, void *arg, mcs_err *e) {
        struct update_arg *a = arg;
        const mcs_record *now = dir_map_get(&b->records, a->rec->uuid);
        int r;
        if (!now)
                return mcs_fail(e, MCS_E_NOTFOUND, "no reservation for %s", a->rec->uuid);
        if ((r = mcs_registry_check_same_record(now, a->rec, a->if_generation, e)) < 0)
                return r;
        dir_entry en = {.op = DIR_STATE, .at_us = a->rec->updated_us, .rec = *a->rec, .who = b->who};
        return dir_append(b, &en, e);
}

static int d_update(mcs_backend *b, const mcs_record *rec, uint64_t if_generation, mcs_err *e) {
        struct update_arg a = {rec, if_generation};
        return retry(b, update_step, &a, e);
}

struct remove_arg {
        const char *uuid, *if_host;
        uint64_t if_generation;
        mcs_record *out;
};

static int remove_step(dirb *b, void *arg, mcs_err *e) {
        struct remove_arg *a = arg;
        const mcs_record *now = dir_map_get(&b->records, a->uuid);
        int r;
        if (!now)
                return mcs_fail(e, MCS_E_NOTFOUND, "no reservation for %s", a->uuid);
        if ((r = mcs_registry_check_unchanged(now, a->if_host, a->if_generation, "released", e)) < 0)
                return r;
        mcs_record gone;
        if ((r = mcs_record_copy(&gone, now, e)) < 0)
                return r;
        dir_entry en = {.op = DIR_RELEASE, .at_us = mcs_registry_now_us(), .rec = gone, .who = b->who};
        if ((r = dir_append(b, &en, e)) < 0 || !a->out)
                mcs_record_clear(&gone);
        else
                *a->out = gone;
        return r;
}

static int d_remove(mcs_backend *b, const char *uuid, const char *if_host, uint64_t if_generation, mcs_record *out,
                    mcs_err *e) {
        struct remove_arg a = {uuid, if_host, if_generation, out};
        return retry(b, remove_step, &a, e);
}

/* ---- history: read back from the log ---- */

/* Entry seq as a history entry: 1 and *h filled, 0 when it is none (an
 * original's entry, or moved away by an operator), or an error. */
static int history_entry(dirb *b, uint64_t seq, mcs_history_entry *h, mcs_err *e) {
        dir_entry en;
        char token[DIR_TOKEN_LEN + 1];
        int r = dir_read_entry(b, seq, &en, token, e);
        if (r == -(int) MCS_E_NOTFOUND)
                return 0;
        if (r < 0)
                return r;
        if (en.op != DIR_RESERVE && en.op != DIR_RELEASE && en.op != DIR_STATE && en.op != DIR_IMPORT_HISTORY) {
                dir_entry_clear(&en);
                return 0;
        }
        *h = (mcs_history_entry){.seq = seq, .at_us = en.at_us};
        h->op = en.op == DIR_IMPORT_HISTORY ? en.hop
                : en.op == DIR_RESERVE      ? MCS_OP_RESERVE
                : en.op == DIR_RELEASE      ? MCS_OP_RELEASE
                                            : MCS_OP_STATE;
        h->rec = en.rec;
        if (en.op != DIR_IMPORT_HISTORY)
                h->rec.created_us = h->rec.updated_us = en.at_us;
        en.rec = (mcs_record){0};
        dir_entry_clear(&en);
        if ((r = dir_read_who(b, token, &h->who, e)) < 0) {
                mcs_record_clear(&h->rec);
                return r;
        }
        return 1;
}

static int d_history(mcs_backend *b, const char *uuid, mcs_history_list *out, mcs_err *e) {
        size_t cap = 0;
        int r = dir_refresh(b, e);
        *out = (mcs_history_list){0};
        if (r < 0)
                return r;
        for (uint64_t seq = 1; seq <= b->seq; seq++) {
                mcs_history_entry h;
                if ((r = history_entry(b, seq, &h, e)) <= 0) {
                        if (r < 0)
                                break;
                        continue;
                }
                if (uuid && strcmp(h.rec.uuid, uuid)) {
                        mcs_record_clear(&h.rec);
                        continue;
                }
                if (mcs_grow((void **) &out->v, &cap, out->n, sizeof *out->v, 16) < 0) {
                        mcs_record_clear(&h.rec);
                        r = mcs_fail(e, MCS_E_NOMEM, "out of memory");
                        break;
                }
                out->v[out->n++] = h;
        }
        if (r < 0)
                mcs_history_list_clear(out);
        return r < 0 ? r : 0;
}

/* Newest first: entries from the one below q->before back to the lowest
 * the log lists (entries below it were moved away with their history;
 * snapshots keep only the state). Each entry is one file read, so the
 * walk stops as soon as the page is full. */
static int d_history_page(mcs_backend *b, const mcs_history_query *q, mcs_history_fn fn, void *ctx, mcs_err *e) {
        uint64_t lowest;
        int r = dir_refresh(b, e);
        if (r < 0 || (r = dir_lowest_entry(b, &lowest, e)) < 0 || !lowest)
                return r;
        uint64_t top = q->before && q->before - 1 < b->seq ? q->before - 1 : b->seq;
        for (uint64_t seq = top; r == 0 && seq >= lowest && seq > 0; seq--) {
                mcs_history_entry h;
                if ((r = history_entry(b, seq, &h, e)) <= 0)
                        continue;
                r = fn(ctx, &h, e);
                mcs_record_clear(&h.rec);
        }
        return r < 0 ? r : 0;
}

/* Entry 1 missing while others are there: moved away (the load refuses
 * a log without its start unless a snapshot covers it). */
static int d_history_start(mcs_backend *b, uint64_t *first, mcs_err *e) {
        uint64_t lowest;
        int r = dir_refresh(b, e);
        if (r < 0 || (r = dir_lowest_entry(b, &lowest, e)) < 0)
                return r;
        *first = lowest > 1 ? lowest : b->seq && !lowest ? b->seq + 1 : 0;
        return 0;
}

static void d_set_actor(mcs_backend *b, const mcs_actor *who) {
        b->who = who ? *who : (mcs_actor){0};
}

/* ---- originals ---- */

struct orig_arg {
        const mcs_original *o;
        bool import;
};

static int remember_step(dirb *b, void *arg, mcs_err *e) {
        struct orig_arg *a = arg;
        const mcs_original *now = dir_map_get(&b->originals, a->o->path);
        if (now && a->import)
                return mcs_fail(e, MCS_E_EXISTS, "registry %s:%s: an original label of %s is there already",
                                b->scheme, b->io->where, a->o->path);
        if (now)
                return strcmp(now->uuid, a->o->uuid) == 0
                               ? 0
                               : mcs_fail(e, MCS_E_CONFLICT, "%s is already labelled for guest %s; guest %s cannot "
                                          "have it as a private image", a->o->path, now->uuid, a->o->uuid);
        dir_entry en = {.op = a->import ? DIR_IMPORT_ORIGINAL : DIR_REMEMBER, .at_us = a->o->saved_us, .orig = *a->o};
        return dir_append(b, &en, e);
}

static int d_remember_original(mcs_backend *b, const char *uuid, const char *path, const char *context, mcs_err *e) {
        mcs_original o = {.path = (char *) path, .context = (char *) context, .host = b->host,
                          .saved_us = mcs_registry_now_us()};
        snprintf(o.uuid, sizeof o.uuid, "%s", uuid);
        struct orig_arg a = {&o, false};
        return retry(b, remember_step, &a, e);
}

static int d_import_original(mcs_backend *b, const mcs_original *o, mcs_err *e) {
        struct orig_arg a = {o, true};
        return retry(b, remember_step, &a, e);
}

static int by_path(const void *x, const void *y) {
        return strcmp(((const mcs_original *) x)->path, ((const mcs_original *) y)->path);
}

static int d_originals(mcs_backend *b, const char *uuid, mcs_original_list *out, mcs_err *e) {
        int r = dir_refresh(b, e);
        *out = (mcs_original_list){0};
        if (r < 0)
                return r;
        if (b->originals.n && !(out->v = calloc(b->originals.n, sizeof *out->v)))
                return mcs_fail(e, MCS_E_NOMEM, "out of memory");
        for (size_t i = 0; i < b->originals.cap; i++) {
                const mcs_original *o = b->originals.v[i].val;
                if (!b->originals.v[i].key || (uuid && strcmp(o->uuid, uuid)))
                        continue;
                mcs_original *c = &out->v[out->n++];
                *c = (mcs_original){.path = strdup(o->path), .context = strdup(o->context), .host = strdup(o->host),
                                    .saved_us = o->saved_us};
                memcpy(c->uuid, o->uuid, sizeof c->uuid);
                if (!c->path || !c->context || !c->host) {
                        mcs_original_list_clear(out);
                        return mcs_fail(e, MCS_E_NOMEM, "out of memory");
                }
        }
        if (out->n > 1)
                qsort(out->v, out->n, sizeof *out->v, by_path);
        return 0;
}

static int forget_step(dirb *b, void *arg, mcs_err *e) {
        const char *path = arg;
        if (!dir_map_get(&b->originals, path))
                return 0;
        dir_entry en = {.op = DIR_FORGET, .at_us = mcs_registry_now_us(), .orig = {.path = (char *) path}};
        return dir_append(b, &en, e);
}

static int d_forget_original(mcs_backend *b, const char *path, mcs_err *e) {
        return retry(b, forget_step, (void *) path, e);
}

/* ---- imports into an empty registry ---- */

static int import_record_step(dirb *b, void *arg, mcs_err *e) {
        const mcs_record *rec = arg;
        if (dir_map_get(&b->records, rec->uuid))
                return mcs_fail(e, MCS_E_EXISTS, "registry %s:%s: guest %s holds a label already", b->scheme,
                                b->io->where, rec->uuid);
        for (size_t i = 0; i < b->records.cap; i++)
                if (b->records.v[i].key && strcmp(((mcs_record *) b->records.v[i].val)->label, rec->label) == 0)
                        return mcs_fail(e, MCS_E_EXISTS, "registry %s:%s: label %s is held already", b->scheme,
                                        b->io->where, rec->label);
        dir_entry en = {.op = DIR_IMPORT_RECORD, .at_us = rec->updated_us, .rec = *rec};
        return dir_append(b, &en, e);
}

static int d_import_record(mcs_backend *b, const mcs_record *rec, mcs_err *e) {
        return retry(b, import_record_step, (void *) rec, e);
}

static int import_history_step(dirb *b, void *arg, mcs_err *e) {
        const mcs_history_entry *h = arg;
        dir_entry en = {.op = DIR_IMPORT_HISTORY, .hop = h->op, .at_us = h->at_us, .rec = h->rec, .who = h->who};
        return dir_append(b, &en, e);
}

static int d_import_history(mcs_backend *b, const mcs_history_entry *h, mcs_err *e) {
        return retry(b, import_history_step, (void *) h, e);
}

/* ---- hosts and health ---- */

static int d_heartbeat(mcs_backend *b, mcs_err *e) {
        _cleanup_free_ char *text = NULL;
        char tmp[256], name[256];
        int r = b->io->ops->refresh(b->io);
        if (r < 0)
                return dir_fail(b, r, "reach", "the registry directory", e);
        if (dir_heartbeat_format(b->host, mcs_registry_now_us(), &text) < 0)
                return mcs_fail(e, MCS_E_NOMEM, "out of memory");
        if ((r = dir_put_tmp(b, text, strlen(text), tmp, sizeof tmp, e)) < 0)
                return r;
        snprintf(name, sizeof name, "hosts/%s", b->hostkey);
        if ((r = b->io->ops->rename(b->io, tmp, name)) < 0) {
                b->io->ops->unlink(b->io, tmp);
                return dir_fail(b, r, "replace", name, e);
        }
        dir_cleanup_tmp(b);
        return 0;
}

struct beats {
        dirb *b;
        mcs_host_beat *v;
        char **texts;
        size_t n, cap;
};

static int add_beat(void *ctx, const char *name) {
        struct beats *s = ctx;
        char path[512];
        char *text;
        size_t len;
        snprintf(path, sizeof path, "hosts/%s", name);
        if (s->b->io->ops->read(s->b->io, path, &text, &len) < 0)
                return 0; /* replaced meanwhile, or not a heartbeat */
        /* Two arrays of one length: s->cap grows once both have. */
        size_t cap_v = s->cap, cap_t = s->cap;
        if (mcs_grow((void **) &s->v, &cap_v, s->n, sizeof *s->v, 8) < 0 ||
            mcs_grow((void **) &s->texts, &cap_t, s->n, sizeof *s->texts, 8) < 0) {
                free(text);
                return -ENOMEM;
        }
        s->cap = cap_v;
        char *host;
        int64_t seen;
        if (dir_heartbeat_parse(text, &host, &seen) < 0) {
                free(text);
                return 0;
        }
        s->texts[s->n] = text;
        s->v[s->n++] = (mcs_host_beat){host, seen};
        return 0;
}

static int by_host(const void *x, const void *y) {
        return strcmp(((const mcs_host_beat *) x)->host, ((const mcs_host_beat *) y)->host);
}

static int d_hosts(mcs_backend *b, mcs_host_fn fn, void *ctx, mcs_err *e) {
        struct beats s = {.b = b};
        int r = b->io->ops->refresh(b->io);
        if (r == 0)
                r = b->io->ops->list(b->io, "hosts", add_beat, &s);
        if (r < 0)
                r = dir_fail(b, r, "list", "hosts", e);
        else if (s.n > 1)
                qsort(s.v, s.n, sizeof *s.v, by_host);
        for (size_t i = 0; r >= 0 && i < s.n; i++)
                if ((r = fn(ctx, &s.v[i], e)) > 0)
                        r = 0, i = s.n;
        for (size_t i = 0; i < s.n; i++)
                free(s.texts[i]);
        free(s.texts);
        free(s.v);
        return r < 0 ? r : 0;
}

static int d_health(mcs_backend *b, char *out, size_t len, mcs_err *e) {
        mcs_err why = {0};
        int r = dir_refresh(b, &why);
        if (r == 0)
                r = dir_writable(b, &why);
        if (r < 0) {
                snprintf(out, len, "%s", why.msg);
                if (e)
                        *e = why;
                return r;
        }
        int n = snprintf(out, len, "ok: %s registry %s, id %s, %" PRIu64 " log entries, %zu records", b->scheme,
                         b->io->where, b->id, b->seq, b->records.n);
        if (b->snap_skipped && n >= 0 && (size_t) n < len)
                snprintf(out + n, len - (size_t) n, "; snapshot %" PRIu64 " not written: %zu bytes, above the "
                         "%zu-byte read limit (new handles replay the log from an older snapshot)",
                         b->snap_skipped, b->snap_skipped_len, b->io->read_max);
        n = (int) strlen(out);
        if (b->snap_left && (size_t) n < len)
                snprintf(out + n, len - (size_t) n, "; snap/%020" PRIu64 " is older than the entries left in "
                         "log/: an mcsd that cannot read the newest snapshot (before snapshot version 2) would "
                         "start from it and write into the gap; move it away (docs/registry.md)", b->snap_left);
        return 0;
}

/* Asked before a write is decided: a refused write is then this fault,
 * not an answer (a conflict, the guest's label) read off an older state. */
static int d_writable(mcs_backend *b, mcs_err *e) {
        return dir_writable(b, e);
}

static void d_close(mcs_backend *b) {
        dir_free(b);
}

#define DIR_OPS(scheme_name, open_fn)                                                                           \
        {                                                                                                       \
                .version = MCS_BACKEND_VERSION, .size = sizeof(mcs_backend_ops), .name = scheme_name,          \
                .open = open_fn, .close = d_close, .changes = d_changes, .scan = d_scan, .get = d_get,         \
                .create = d_create, .update = d_update, .remove = d_remove, .history = d_history,              \
                .remember_original = d_remember_original, .originals = d_originals,                            \
                .forget_original = d_forget_original, .heartbeat = d_heartbeat, .hosts = d_hosts,              \
                .health = d_health, .import_record = d_import_record, .import_history = d_import_history,      \
                .import_original = d_import_original, .writable = d_writable, .history_page = d_history_page, \
                .set_actor = d_set_actor, .history_start = d_history_start,                             \
        }

const mcs_backend_ops mcs_backend_dir = DIR_OPS("dir", dir_open_location);
const mcs_backend_ops mcs_backend_nfs = DIR_OPS("nfs", dir_nfs_open);
