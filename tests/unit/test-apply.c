/* daemon/apply.c's decisions, with a fake libvirt behind its port (an
 * in-memory table of guests) and a real sqlite registry in a temp dir:
 * what is reserved, what is defined, what is left alone, what a batch
 * commits. The real-libvirtd suites (tests/libvirt) cover the real port. */
#include <pthread.h>
#include <stdio.h>

#include "apply.h"
#include "guest-table.h"
#include "metrics.h"
#include "redefines.h"
#include "releases.h"
#include "test-util.h"

#define UUID(n) "00000000-0000-4000-8000-00000000000" #n
#define MAX_GUESTS 8
#define STALE_TRIES 3 /* apply.c's: how often a guest that keeps changing is read again */

/* ---- the fake libvirt ---- */

typedef struct fake fake;

struct apply_dom {
        fake *f;
        char uuid[VIR_UUID_STRING_BUFLEN];
        char name[32];
        char *xml; /* its persistent definition */
        bool persistent, active, gone;
        int reads; /* reads of its persistent XML */
        /* Runs after each read of its persistent XML, under the fake's lock:
         * the "operator" who changes the guest behind mcsd's back. */
        void (*after_read)(apply_dom *g);
};

struct fake {
        pthread_mutex_t lock;
        apply_dom g[MAX_GUESTS];
        size_t n;
        int defines;        /* defines that succeeded */
        const char *refuse; /* set: every define fails with this */
        mcs_registry *reg;  /* to look at the registry from inside a define */
        bool defined_in_batch; /* a define ran inside a shared commit */
};

static apply_dom *find(fake *f, const char *uuid) {
        for (size_t i = 0; i < f->n; i++)
                if (!f->g[i].gone && !strcmp(f->g[i].uuid, uuid))
                        return &f->g[i];
        return NULL;
}

static char *guest_xml(const char *name, const char *uuid, const char *extra) {
        char *xml;
        ck_assert_int_ge(asprintf(&xml,
                                  "<domain type='kvm'><name>%s</name><uuid>%s</uuid>%s"
                                  "<devices><emulator>/usr/bin/qemu-system-x86_64</emulator></devices></domain>",
                                  name, uuid, extra),
                         0);
        return xml;
}

static apply_dom *add_guest(fake *f, const char *name, const char *uuid) {
        ck_assert_uint_lt(f->n, MAX_GUESTS);
        apply_dom *g = &f->g[f->n++];
        *g = (apply_dom){.f = f, .persistent = true};
        snprintf(g->uuid, sizeof g->uuid, "%s", uuid);
        snprintf(g->name, sizeof g->name, "%s", name);
        g->xml = guest_xml(name, uuid, "");
        return g;
}

static int f_lookup(void *ctx, const char *uuid, apply_dom **out) {
        fake *f = ctx;
        pthread_mutex_lock(&f->lock);
        *out = find(f, uuid);
        pthread_mutex_unlock(&f->lock);
        return *out ? 1 : 0;
}

static void f_put(void *ctx, apply_dom *dom) {
        (void) ctx;
        (void) dom;
}

static void f_uuid(void *ctx, apply_dom *dom, char out[VIR_UUID_STRING_BUFLEN]) {
        (void) ctx;
        snprintf(out, VIR_UUID_STRING_BUFLEN, "%s", dom->uuid);
}

static const char *f_name(void *ctx, apply_dom *dom) {
        (void) ctx;
        return dom->name;
}

static int f_is_persistent(void *ctx, apply_dom *dom) {
        fake *f = ctx;
        pthread_mutex_lock(&f->lock);
        int r = dom->gone ? -1 : dom->persistent;
        pthread_mutex_unlock(&f->lock);
        return r;
}

static int f_is_active(void *ctx, apply_dom *dom) {
        fake *f = ctx;
        pthread_mutex_lock(&f->lock);
        int r = dom->gone ? -1 : dom->active;
        pthread_mutex_unlock(&f->lock);
        return r;
}

static char *f_xml(void *ctx, apply_dom *dom, bool persistent) {
        fake *f = ctx;
        char *xml = NULL;
        pthread_mutex_lock(&f->lock);
        if (!dom->gone) {
                xml = strdup(dom->xml);
                if (persistent) {
                        dom->reads++;
                        if (dom->after_read)
                                dom->after_read(dom);
                }
        }
        pthread_mutex_unlock(&f->lock);
        return xml;
}

static char *f_live_xml(void *ctx, apply_dom *dom) {
        return f_xml(ctx, dom, false);
}

static int f_process_label(void *ctx, apply_dom *dom, char *out, size_t len) {
        (void) ctx;
        (void) dom;
        snprintf(out, len, "%s", "");
        return 0;
}

static bool f_migrating(void *ctx, apply_dom *dom) {
        (void) ctx;
        (void) dom;
        return false;
}

/* Replaces the definition of the guest the XML names, as libvirt does. */
static int f_define(void *ctx, const char *xml, char **after) {
        fake *f = ctx;
        mcs_domain parsed = {0};
        mcs_err e = {0};
        ck_assert_ok(mcs_domain_parse(xml, &parsed, &e), &e);
        pthread_mutex_lock(&f->lock);
        f->defined_in_batch |= mcs_registry_in_batch(f->reg);
        apply_dom *g = f->refuse ? NULL : find(f, parsed.uuid);
        int r = -1;
        if (g) {
                free(g->xml);
                g->xml = strdup(xml);
                g->persistent = true;
                *after = strdup(xml);
                f->defines++;
                r = 0;
        }
        pthread_mutex_unlock(&f->lock);
        mcs_domain_clear(&parsed);
        return r;
}

static const char *f_error(void *ctx) {
        fake *f = ctx;
        return f->refuse ? f->refuse : "fake: no such guest";
}

static apply_port fake_port(fake *f) {
        return (apply_port){.ctx = f, .lookup = f_lookup, .put = f_put, .uuid = f_uuid, .name = f_name,
                            .is_persistent = f_is_persistent, .is_active = f_is_active, .xml = f_xml,
                            .live_xml = f_live_xml, .process_label = f_process_label, .migrating = f_migrating,
                            .define = f_define, .error = f_error};
}

/* ---- the daemon's state apply works on ---- */

static void no_retry(mcsd *d) {
        (void) d;
}

static struct {
        mcsd d;
        fake f;
        apply_port port;
        mcsd_metrics *metrics;
} t;

static void setup(void) {
        mcs_err e = {0};
        test_db_setup();
        memset(&t, 0, sizeof t);
        pthread_mutex_init(&t.f.lock, NULL);
        mcs_config_init(&t.d.cfg);
        snprintf(t.d.host_id, sizeof t.d.host_id, "host-a");
        t.d.guests = guest_table_new(t.d.host_id);
        ck_assert_ptr_nonnull(t.d.guests);
        t.d.releases = releases_new();
        ck_assert_ptr_nonnull(t.d.releases);
        t.d.redefines = redefines_new();
        ck_assert_ptr_nonnull(t.d.redefines);
        t.d.reg = test_open_registry("host-a", "c0.c1023");
        t.d.policy = MCS_LABELS_WRITE;
        t.d.events = (guest_events){.retry = no_retry, .label_freed = no_retry};
        char *types;
        ck_assert_int_ge(asprintf(&types, "%s/virtual_domain_context", test_dir), 0);
        FILE *fp = fopen(types, "w");
        ck_assert_ptr_nonnull(fp);
        fputs("system_u:system_r:svirt_t:s0\nsystem_u:system_r:svirt_tcg_t:s0\n", fp);
        fclose(fp);
        ck_assert_ok(mcs_domain_types_load(types, &t.d.types, &e), &e);
        free(types);
        ck_assert_ok(metrics_new(&t.metrics, &e), &e);
        t.d.metrics = t.metrics;
        t.f.reg = t.d.reg;
        t.port = fake_port(&t.f);
}

static void teardown(void) {
        guest_table_free(t.d.guests);
        releases_free(t.d.releases);
        redefines_free(t.d.redefines);
        mcs_registry_close(t.d.reg);
        mcs_config_clear(&t.d.cfg);
        metrics_free(t.metrics);
        for (size_t i = 0; i < t.f.n; i++)
                free(t.f.g[i].xml);
        pthread_mutex_destroy(&t.f.lock);
        test_db_teardown();
}

/* The record the registry holds for uuid; false when none. */
static bool registry_holds(const char *uuid, mcs_record *out) {
        mcs_err e = {0};
        int r = mcs_registry_get(t.d.reg, uuid, out, &e);
        ck_assert_msg(r == 0 || r == -MCS_E_NOTFOUND, "get %s: %s", uuid, e.msg);
        return r == 0;
}

/* Asserts that the guest's XML carries a static label at level. */
static void assert_static_label(const apply_dom *g, const char *level) {
        mcs_domain parsed = {0};
        mcs_err e = {0};
        char got[MCS_RANGE_STRMAX];
        ck_assert_ok(mcs_domain_parse(g->xml, &parsed, &e), &e);
        ck_assert_int_eq(parsed.mode, MCS_SECLABEL_STATIC);
        ck_assert_ptr_nonnull(parsed.label);
        ck_assert_ok(mcs_context_level(parsed.label, got, sizeof got, &e), &e);
        ck_assert_str_eq(got, level);
        mcs_domain_clear(&parsed);
}

static uint64_t reservations(metrics_reserve_result r) {
        metrics_snapshot s;
        metrics_read(t.metrics, &s);
        return s.reservations[r];
}

/* ---- the decisions ---- */

/* An unlabelled guest gets a dynamic pair, written into its XML as a
 * static label; mcsd watches its own define (redefines). */
START_TEST(unlabelled_guest_gets_a_pair_and_its_label_is_defined) {
        apply_dom *g = add_guest(&t.f, "web", UUID(1));
        guest_report rep;
        mcs_record rec = {0};

        ck_assert_int_eq(apply_one(&t.d, &t.port, g, &rep), 0);
        ck_assert_msg(rep.created && rep.rewritten && !rep.failed, "report: %s", rep.why);
        ck_assert_int_eq(rep.status, MCS_GUEST_MANAGED);
        ck_assert(registry_holds(UUID(1), &rec));
        ck_assert_int_eq(rec.kind, MCS_KIND_DYNAMIC);
        ck_assert_str_eq(rec.host, "host-a");
        ck_assert_str_eq(rec.label, rep.label);
        ck_assert_int_eq(t.f.defines, 1);
        assert_static_label(g, rec.label);
        /* read, then read again right before the define */
        ck_assert_int_eq(g->reads, 2);
        const guest_entry *e = guests_find(t.d.guests, UUID(1));
        ck_assert_ptr_nonnull(e);
        ck_assert_int_eq(guest_status(e), MCS_GUEST_MANAGED);
        ck_assert_str_eq(guest_written(e), rec.label);
        ck_assert_uint_eq(redefines_count(&t.d), 1);
        ck_assert_str_eq(redefines_xml(&t.d, UUID(1)), g->xml);
        ck_assert_uint_eq(reservations(METRICS_RESERVE_CREATED), 1);

        /* Applied again: it holds its label, nothing is written. */
        ck_assert_int_eq(apply_one(&t.d, &t.port, g, &rep), 0);
        ck_assert(!rep.created && !rep.rewritten);
        ck_assert_str_eq(rep.label, rec.label);
        ck_assert_int_eq(t.f.defines, 1);
        mcs_record_clear(&rec);
}
END_TEST

/* Someone rewrites the guest on every read: mcsd never writes over it. */
static void rewrite_on_read(apply_dom *g) {
        char extra[64];
        snprintf(extra, sizeof extra, "<description>rewrite %d</description>", g->reads);
        free(g->xml);
        g->xml = guest_xml(g->name, g->uuid, extra);
}

START_TEST(guest_changed_between_read_and_define_is_not_written) {
        apply_dom *g = add_guest(&t.f, "busy", UUID(2));
        g->after_read = rewrite_on_read;
        guest_report rep;

        ck_assert_int_eq(apply_one(&t.d, &t.port, g, &rep), 0);
        ck_assert_int_eq(t.f.defines, 0);
        ck_assert_uint_eq(redefines_count(&t.d), 0);
        /* each try: read, read again before the define, stale */
        ck_assert_int_eq(g->reads, 2 * STALE_TRIES);
        ck_assert_ptr_nonnull(strstr(g->xml, "<description>rewrite"));
        ck_assert_ptr_null(strstr(g->xml, "<seclabel"));
}
END_TEST

/* Changed once: the second try defines the label into the changed XML,
 * which keeps the change. */
static void rewrite_once(apply_dom *g) {
        rewrite_on_read(g);
        g->after_read = NULL;
}

START_TEST(guest_changed_once_gets_its_label_over_the_change) {
        apply_dom *g = add_guest(&t.f, "edited", UUID(3));
        g->after_read = rewrite_once;
        guest_report rep;
        mcs_record rec = {0};

        ck_assert_int_eq(apply_one(&t.d, &t.port, g, &rep), 0);
        ck_assert_int_eq(t.f.defines, 1);
        ck_assert(registry_holds(UUID(3), &rec));
        assert_static_label(g, rec.label);
        ck_assert_ptr_nonnull(strstr(g->xml, "<description>rewrite 1</description>"));
        mcs_record_clear(&rec);
}
END_TEST

/* Undefined between the read and the define: nothing is written (libvirt
 * would create the guest again); its UNDEFINED event releases the pair. */
static void undefine_on_read(apply_dom *g) {
        g->gone = true;
}

START_TEST(guest_gone_before_the_define_is_not_written) {
        apply_dom *g = add_guest(&t.f, "gone", UUID(4));
        g->after_read = undefine_on_read;
        guest_report rep;
        mcs_record rec = {0};

        ck_assert_int_eq(apply_one(&t.d, &t.port, g, &rep), 0);
        ck_assert_int_eq(t.f.defines, 0);
        ck_assert_int_eq(g->reads, 1);
        ck_assert_uint_eq(redefines_count(&t.d), 0);
        ck_assert_ptr_null(guests_find(t.d.guests, UUID(4)));
        /* The reservation stands until the undefine's event lets it go. */
        ck_assert(registry_holds(UUID(4), &rec));
        ck_assert_uint_eq(releases_count(&t.d), 0);
        mcs_record_clear(&rec);
}
END_TEST

/* libvirt refuses the define: the guest is failed with the reason, and
 * keeps the pair reserved for it (the next try writes the same one). */
START_TEST(define_failure_leaves_the_guest_failed) {
        apply_dom *g = add_guest(&t.f, "refused", UUID(5));
        t.f.refuse = "fake: the define is refused";
        guest_report rep;
        mcs_record rec = {0};

        ck_assert_int_eq(apply_one(&t.d, &t.port, g, &rep), -1);
        ck_assert(rep.failed);
        ck_assert_str_eq(rep.why, "cannot write its static label: fake: the define is refused");
        const guest_entry *e = guests_find(t.d.guests, UUID(5));
        ck_assert_ptr_nonnull(e);
        ck_assert_int_eq(guest_status(e), MCS_GUEST_FAILED);
        ck_assert_str_eq(guest_why(e), "cannot write its static label: fake: the define is refused");
        ck_assert(!guest_written(e)[0]);
        ck_assert_ptr_null(strstr(g->xml, "<seclabel"));
        ck_assert_uint_eq(redefines_count(&t.d), 0);
        ck_assert(registry_holds(UUID(5), &rec));
        ck_assert_int_eq(rec.kind, MCS_KIND_DYNAMIC);
        ck_assert_uint_eq(reservations(METRICS_RESERVE_FAILED), 1);

        /* libvirt takes it now: the same pair is written, the guest managed. */
        t.f.refuse = NULL;
        ck_assert_int_eq(apply_one(&t.d, &t.port, g, &rep), 0);
        ck_assert_str_eq(rep.label, rec.label);
        assert_static_label(g, rec.label);
        ck_assert_int_eq(guest_status(guests_find(t.d.guests, UUID(5))), MCS_GUEST_MANAGED);
        mcs_record_clear(&rec);
}
END_TEST

/* ---- a batch: one commit, then the defines ----
 * A guest that comes back cancels its pending release inside the rules,
 * which re-arms the release timer: the fake event loop notes whether the
 * registry was inside a shared commit then. */

static int timer_calls, timer_calls_in_batch;

static void note_timer(int timer, int timeout) {
        (void) timer;
        (void) timeout;
        timer_calls++;
        timer_calls_in_batch += mcs_registry_in_batch(t.d.reg);
}

/* What adding a timer returns: -1 (failed), or an id while the test wants
 * the release timer to exist. */
static int next_timer = -1;

static int no_timer(int timeout, virEventTimeoutCallback cb, void *opaque, virFreeCallback ff) {
        (void) timeout, (void) cb, (void) opaque, (void) ff;
        return next_timer;
}

static int no_remove(int id) {
        (void) id;
        return 0;
}

static int no_handle(int fd, int events, virEventHandleCallback cb, void *opaque, virFreeCallback ff) {
        (void) fd, (void) events, (void) cb, (void) opaque, (void) ff;
        return -1;
}

static void no_update_handle(int w, int events) {
        (void) w, (void) events;
}

START_TEST(batch_shares_one_commit_and_labels_each_guest) {
        enum { N = 5 };
        apply_item items[N];
        const char *uuids[N] = {UUID(1), UUID(2), UUID(3), UUID(4), UUID(5)};
        char labels[N][MCS_RANGE_STRMAX];
        bool waiting = false;
        mcs_err stop = {0};

        virEventRegisterImpl(no_handle, no_update_handle, no_remove, no_timer, note_timer, no_remove);
        for (int i = 0; i < N; i++) {
                char name[16];
                snprintf(name, sizeof name, "g%d", i);
                items[i] = (apply_item){add_guest(&t.f, name, uuids[i]), 1, 0};
                next_timer = 1;
                releases_schedule(&t.d, uuids[i]);
                next_timer = -1;
        }
        ck_assert_uint_eq(releases_count(&t.d), N);
        timer_calls = timer_calls_in_batch = 0;
        ck_assert_int_eq(apply_batch(&t.d, &t.port, items, N, &waiting, &stop), 0);
        ck_assert_msg(!stop.code, "stopped: %s", stop.msg);
        ck_assert(!waiting);
        /* Every guest's rules ran inside one shared commit; no define did. */
        ck_assert_int_eq(timer_calls, N);
        ck_assert_int_eq(timer_calls_in_batch, N);
        ck_assert(!t.f.defined_in_batch);
        ck_assert_uint_eq(releases_count(&t.d), 0);
        ck_assert_int_eq(t.f.defines, N);
        for (int i = 0; i < N; i++) {
                mcs_record rec = {0};
                ck_assert(registry_holds(uuids[i], &rec));
                assert_static_label(&t.f.g[i], rec.label);
                ck_assert_int_eq(guest_status(guests_find(t.d.guests, uuids[i])), MCS_GUEST_MANAGED);
                snprintf(labels[i], sizeof labels[i], "%s", rec.label);
                for (int j = 0; j < i; j++)
                        ck_assert_str_ne(labels[i], labels[j]);
                mcs_record_clear(&rec);
        }
        ck_assert_uint_eq(redefines_count(&t.d), N);
        ck_assert_uint_eq(reservations(METRICS_RESERVE_CREATED), N);
}
END_TEST

/* ---- the guest table ----
 * A reconcile drops the guests libvirt no longer lists, naming each by the
 * UUID in its own entry: the partners of one in collision are freed all
 * the same, and no other guest's. */

START_TEST(dropped_guest_in_collision_frees_its_partner) {
        mcs_record other = {.name = (char *) "g2", .label = (char *) "s0:c1,c2", .host = (char *) "host-a"};
        snprintf(other.uuid, sizeof other.uuid, "%s", UUID(2));
        /* 1 is refused the label 2 holds; 2 runs with it; 3 only follows. */
        guests_set(t.d.guests, UUID(1), "g1", MCS_GUEST_COLLISION, "overlaps g2");
        guests_set_collision(t.d.guests, UUID(1), "", &other);
        guests_set(t.d.guests, UUID(2), "g2", MCS_GUEST_COLLISION, "holds what g1 runs with");
        guests_set_partner(t.d.guests, UUID(2), UUID(1));
        guests_set(t.d.guests, UUID(3), "g3", MCS_GUEST_MANAGED, "");
        ck_assert_str_eq(guest_uuid(guests_at(t.d.guests, 0)), UUID(1));

        guests_drop(t.d.guests, guest_uuid(guests_at(t.d.guests, 0)));
        ck_assert_ptr_null(guests_find(t.d.guests, UUID(1)));
        const guest_entry *g2 = guests_find(t.d.guests, UUID(2));
        ck_assert_ptr_nonnull(g2);
        ck_assert_int_eq(guest_status(g2), MCS_GUEST_MANAGED);
        ck_assert_str_eq(guest_partner(g2), "");
        ck_assert_int_eq(guest_status(guests_find(t.d.guests, UUID(3))), MCS_GUEST_MANAGED);
}
END_TEST

int main(void) {
        Suite *s = suite_create("apply");
        TCase *tc = tcase_create("decisions");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, unlabelled_guest_gets_a_pair_and_its_label_is_defined);
        tcase_add_test(tc, guest_changed_between_read_and_define_is_not_written);
        tcase_add_test(tc, guest_changed_once_gets_its_label_over_the_change);
        tcase_add_test(tc, guest_gone_before_the_define_is_not_written);
        tcase_add_test(tc, define_failure_leaves_the_guest_failed);
        tcase_add_test(tc, batch_shares_one_commit_and_labels_each_guest);
        tcase_add_test(tc, dropped_guest_in_collision_frees_its_partner);
        suite_add_tcase(s, tc);
        return test_run(s);
}
