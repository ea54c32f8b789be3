/* Methods that label files: relabel_tree, nfs_export. */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mcs-context.h"
#include "mcs-file-fd.h"
#include "mcs-nfs-export.h"
#include "mcs-policy.h"
#include "mcs-tree-relabel.h"
#include "methods.h"

/* Root may label any path with any context the policy accepts; a member
 * of admin_group only paths inside the image roots (shared roots lie
 * inside them), with the virt image and content types (and, for
 * nfs_export, virt_var_lib_t). */
static bool restricted(const request *rq) {
        return rq->peer->cred.uid != 0;
}

static int check_reach(request *rq, const char *path, const char *type, bool nfs, reply_err *err) {
        const mcs_image_types *t;
        mcs_err e = {0};
        size_t n;
        mcs_images *im = images_of(rq->d);
        if (!im)
                return fail(err, "no-memory", "out of memory");
        if (mcs_images_types(im, &t, &e) < 0)
                return fail_mcs(err, &e);
        const char *const *roots = mcs_config_image_roots(&rq->d->cfg, &n);
        if (!mcs_path_in_roots(path, roots, n))
                return fail(err, MCS_PERR_DENIED,
                            "%s: %s is not inside an image_root; members of admin_group may only label there "
                            "(you are uid %u)",
                            rq->method, path, (unsigned) rq->peer->cred.uid);
        if (type && strcmp(type, t->image.type) && strcmp(type, t->content.type) &&
            (!nfs || strcmp(type, MCS_NFS_DEFAULT_TYPE)))
                return fail(err, MCS_PERR_DENIED,
                            "%s: members of admin_group may only use the types %s, %s%s%s, not %s (you are uid %u)",
                            rq->method, t->image.type, t->content.type, nfs ? " and " : "",
                            nfs ? MCS_NFS_DEFAULT_TYPE : "", type, (unsigned) rq->peer->cred.uid);
        return 0;
}

/* What a job needs, copied: a reload may free the config meanwhile. */
typedef struct file_job {
        char *path, *label, *type, *semanage_root;
        char *roots[MCS_CONFIG_MAX_IMAGE_ROOTS];
        size_t n_roots;
        bool remove;
        uid_t uid;
        pid_t pid;
} file_job;

static void file_job_free(void *arg) {
        file_job *j = arg;
        if (!j)
                return;
        free(j->path);
        free(j->label);
        free(j->type);
        free(j->semanage_root);
        for (size_t i = 0; i < j->n_roots; i++)
                free(j->roots[i]);
        free(j);
}

static bool dup_to(char **out, const char *s) {
        return !s || (*out = strdup(s)) != NULL;
}

static file_job *file_job_new(request *rq, const char *path, const char *label, const char *type,
                              const char *const *roots, size_t n_roots) {
        file_job *j = calloc(1, sizeof *j);
        bool ok = j && dup_to(&j->path, path) && dup_to(&j->label, label) && dup_to(&j->type, type) &&
                  dup_to(&j->semanage_root, rq->d->cfg.semanage_root);
        for (size_t i = 0; ok && i < n_roots; i++, j->n_roots++)
                ok = dup_to(&j->roots[i], roots[i]);
        if (!ok) {
                file_job_free(j);
                return NULL;
        }
        j->uid = rq->peer->cred.uid;
        j->pid = rq->peer->cred.pid;
        return j;
}

/* On the job's thread: the tree, while the main loop goes on. */
static int run_relabel_tree(void *arg, json_object **result, reply_err *err) {
        file_job *j = arg;
        mcs_tree_stats st;
        mcs_err e = {0};
        int r = mcs_tree_relabel(j->path, (const char *const *) j->roots, j->n_roots, j->label, 0, &st, &e);
        log_msg(MCS_LOG_INFO, "uid %u pid %d: tree %s: %llu labelled, %llu links and special files left alone, %llu failed%s%s",
                (unsigned) j->uid, (int) j->pid, j->path, (unsigned long long) st.labelled,
                (unsigned long long) st.skipped, (unsigned long long) st.failed, r < 0 ? ": " : "", r < 0 ? e.msg : "");
        if (r < 0)
                return fail_mcs(err, &e);
        *result = json_object_new_object();
        json_object_object_add(*result, "labelled", json_object_new_int64((int64_t) st.labelled));
        json_object_object_add(*result, "skipped", json_object_new_int64((int64_t) st.skipped));
        return 0;
}

/* The tree is labelled on a job's thread (about 0.2 s per 100,000 files on
 * two cores): events and other clients are answered meanwhile. */
int method_relabel_tree(request *rq, json_object **result, reply_err *err) {
        const char *path, *label;
        const char *const *roots = NULL;
        size_t n_roots = 0;
        mcs_context ctx;
        mcs_err e = {0};

        (void) result;
        if (param_required(rq, "path", &path, err) < 0 || param_required(rq, "label", &label, err) < 0)
                return -1;
        if (path[0] != '/')
                return fail(err, mcs_code_name(MCS_E_INVALID), "relabel_tree: '%s' is not an absolute path", path);
        mcs_images *im = images_of(rq->d);
        if (!im)
                return fail(err, "no-memory", "out of memory");
        int r = mcs_images_check_context(im, label, &e);
        if (r < 0)
                return fail_mcs(err, &e);
        if (restricted(rq)) {
                if (mcs_context_parse(label, &ctx, &e) < 0)
                        return fail_mcs(err, &e);
                if (check_reach(rq, path, ctx.type, false, err) < 0) {
                        log_change(rq, "relabel_tree %s refused: %s", path, err->msg);
                        return -1;
                }
                roots = mcs_config_image_roots(&rq->d->cfg, &n_roots);
        }
        file_job *j = file_job_new(rq, path, label, NULL, roots, n_roots);
        if (!j)
                return fail(err, "no-memory", "out of memory");
        log_change(rq, "relabelling the tree %s with %s", path, label);
        return job_start(rq, run_relabel_tree, j, file_job_free, false, err);
}

/* On the job's thread, one at a time (libsemanage's root is process-wide);
 * the commit takes about half a second. */
static int run_nfs_export(void *arg, json_object **result, reply_err *err) {
        file_job *j = arg;
        mcs_nfs_result res;
        mcs_err e = {0};
        if (mcs_nfs_export(j->semanage_root, j->path, j->type, j->remove, (const char *const *) j->roots, j->n_roots,
                           &res, &e) < 0) {
                log_msg(MCS_LOG_INFO, "uid %u pid %d: nfs-export %s refused: %s", (unsigned) j->uid, (int) j->pid,
                        j->path, e.msg);
                return fail_mcs(err, &e);
        }
        log_msg(MCS_LOG_INFO, "uid %u pid %d: nfs-export %s: rule %s -> %s %s%s%s", (unsigned) j->uid, (int) j->pid,
                j->path, res.expr, res.context, mcs_nfs_outcome_name(res.outcome), res.applied[0] ? "; " : "",
                res.applied);
        *result = json_object_new_object();
        json_object_object_add(*result, "outcome", json_str(mcs_nfs_outcome_name(res.outcome)));
        json_object_object_add(*result, "rule", json_str(res.expr));
        json_object_object_add(*result, "context", json_str(res.context));
        json_object_object_add(*result, "applied", json_str(res.applied[0] ? res.applied : NULL));
        return 0;
}

int method_nfs_export(request *rq, json_object **result, reply_err *err) {
        const char *path, *type = NULL;
        const char *const *roots = NULL;
        size_t n_roots = 0;
        bool remove = false;

        (void) result;
        if (param_required(rq, "path", &path, err) < 0 || param_string(rq, "type", &type, err) < 0 ||
            param_bool(rq, "remove", &remove, err) < 0)
                return -1;
        if (restricted(rq)) {
                if (check_reach(rq, path, type ? type : MCS_NFS_DEFAULT_TYPE, true, err) < 0) {
                        log_change(rq, "nfs-export %s refused: %s", path, err->msg);
                        return -1;
                }
                roots = mcs_config_image_roots(&rq->d->cfg, &n_roots);
        }
        file_job *j = file_job_new(rq, path, NULL, type, roots, n_roots);
        if (!j)
                return fail(err, "no-memory", "out of memory");
        j->remove = remove;
        return job_start(rq, run_nfs_export, j, file_job_free, true, err);
}
