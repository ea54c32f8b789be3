/* policy-check POLICY TABLE: answers each line of TABLE from the binary
 * POLICY as the kernel would, through libsepol's security server (type
 * rules, conditional rules under the booleans the line sets, RBAC and the
 * MCS constraints), and compares with the expected answer. Prints one line
 * per check; exits 1 when any answer differs, 2 on bad input.
 *
 * TABLE lines (fields split by blanks; '#' starts a comment):
 *   KEY allow|deny SCONTEXT TCONTEXT CLASS PERM[,PERM...] [BOOL=on|off...]
 *       every PERM granted (allow), or at least one refused (deny)
 *   KEY new SCONTEXT TCONTEXT CLASS NAME|- TYPE [BOOL=on|off...]
 *       an object of CLASS created by SCONTEXT in TCONTEXT (a process:
 *       SCONTEXT executing TCONTEXT) gets TYPE; NAME is the new file's
 *       name, for name-based transitions
 * KEY names the policy rule the line exercises ("-" for none).
 *
 * Linked with the static libsepol: the security server's policy and
 * boolean setters are not exported by the shared library. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* No <stdbool.h>: conditional.h has a member named bool. */
#include <sepol/policydb/conditional.h>
#include <sepol/policydb/ebitmap.h>
#include <sepol/policydb/hashtab.h>
#include <sepol/policydb/policydb.h>
#include <sepol/policydb/services.h>
#include <sepol/policydb/sidtab.h>

#define MAX_FIELDS 16

struct line {
        const char *where; /* TABLE:N */
        char *f[MAX_FIELDS];
        int n;
};

static int set_bools(policydb_t *db, struct line *l, int first, int restore, int *saved) {
        for (int i = first; i < l->n; i++) {
                char *eq = strchr(l->f[i], '=');
                if (!eq || (strcmp(eq + 1, "on") && strcmp(eq + 1, "off"))) {
                        fprintf(stderr, "%s: '%s' is not BOOL=on or BOOL=off\n", l->where, l->f[i]);
                        return -1;
                }
                *eq = '\0';
                cond_bool_datum_t *b = hashtab_search(db->p_bools.table, l->f[i]);
                *eq = '=';
                if (!b) {
                        fprintf(stderr, "%s: no boolean %.*s in the policy\n", l->where, (int) (eq - l->f[i]), l->f[i]);
                        return -1;
                }
                if (restore) {
                        b->state = saved[i];
                } else {
                        saved[i] = b->state;
                        b->state = !strcmp(eq + 1, "on");
                }
        }
        return evaluate_conds(db) < 0 ? -1 : 0;
}

static int sid_of(struct line *l, const char *context, sepol_security_id_t *sid) {
        if (sepol_context_to_sid(context, strlen(context) + 1, sid) < 0) {
                fprintf(stderr, "%s: '%s' is not a valid context in this policy\n", l->where, context);
                return -1;
        }
        return 0;
}

static int class_of(struct line *l, const char *name, sepol_security_class_t *c) {
        if (sepol_string_to_security_class(name, c) < 0) {
                fprintf(stderr, "%s: no class %s in the policy\n", l->where, name);
                return -1;
        }
        return 0;
}

/* 1: the answer is as expected, 0: it is not, -1: bad line. */
static int check_access(struct line *l) {
        sepol_security_id_t s, t;
        sepol_security_class_t c;
        sepol_access_vector_t want = 0, perm;
        struct sepol_av_decision avd;
        unsigned int reason = 0;

        if (sid_of(l, l->f[2], &s) < 0 || sid_of(l, l->f[3], &t) < 0 || class_of(l, l->f[4], &c) < 0)
                return -1;
        for (char *save = NULL, *p = strtok_r(l->f[5], ",", &save); p; p = strtok_r(NULL, ",", &save)) {
                if (sepol_string_to_av_perm(c, p, &perm) < 0) {
                        fprintf(stderr, "%s: class %s has no permission %s\n", l->where, l->f[4], p);
                        return -1;
                }
                want |= perm;
        }
        if (sepol_compute_av_reason(s, t, c, want, &avd, &reason) < 0) {
                fprintf(stderr, "%s: libsepol could not compute the decision\n", l->where);
                return -1;
        }
        int granted = (avd.allowed & want) == want;
        int expect = !strcmp(l->f[1], "allow");
        if (granted != expect)
                printf("FAIL %s [%s]: %s -> %s %s: expected %s, the policy says %s%s\n", l->where, l->f[0], l->f[2],
                       l->f[3], l->f[4], l->f[1], granted ? "allow" : "deny",
                       !granted && (reason & SEPOL_COMPUTEAV_CONS) ? " (a constraint refuses it)" : "");
        return granted == expect;
}

static const char *type_name(policydb_t *db, uint32_t value) {
        return value && value <= db->p_types.nprim ? db->p_type_val_to_name[value - 1] : "?";
}

static int check_new(policydb_t *db, sidtab_t *sidtab, struct line *l) {
        sepol_security_id_t s, t, out;
        sepol_security_class_t c;
        uint32_t got = 0;

        if (sid_of(l, l->f[2], &s) < 0 || sid_of(l, l->f[3], &t) < 0 || class_of(l, l->f[4], &c) < 0)
                return -1;
        context_struct_t *sc = sepol_sidtab_search(sidtab, s), *tc = sepol_sidtab_search(sidtab, t);
        type_datum_t *want = hashtab_search(db->p_types.table, l->f[6]);
        if (!sc || !tc || !want) {
                fprintf(stderr, "%s: no type %s in the policy\n", l->where, l->f[6]);
                return -1;
        }
        /* A rule for the new file's name comes first, as in the kernel. */
        if (strcmp(l->f[5], "-")) {
                filename_trans_key_t key = {.ttype = tc->type, .tclass = c, .name = l->f[5]};
                for (filename_trans_datum_t *d = hashtab_search(db->filename_trans, (hashtab_key_t) &key); d && !got;
                     d = d->next)
                        if (ebitmap_get_bit(&d->stypes, sc->type - 1))
                                got = d->otype;
        }
        if (!got) {
                if (sepol_transition_sid(s, t, c, &out) < 0) {
                        fprintf(stderr, "%s: libsepol could not compute the new context\n", l->where);
                        return -1;
                }
                context_struct_t *oc = sepol_sidtab_search(sidtab, out);
                got = oc ? oc->type : 0;
        }
        if (got != want->s.value)
                printf("FAIL %s [%s]: new %s by %s in %s (%s): expected %s, the policy gives %s\n", l->where, l->f[0],
                       l->f[4], l->f[2], l->f[3], l->f[5], l->f[6], type_name(db, got));
        return got == want->s.value;
}

static int split(char *text, struct line *l) {
        char *hash = strchr(text, '#');
        if (hash)
                *hash = '\0';
        l->n = 0;
        for (char *save = NULL, *p = strtok_r(text, " \t\n", &save); p; p = strtok_r(NULL, " \t\n", &save)) {
                if (l->n == MAX_FIELDS) {
                        fprintf(stderr, "%s: more than %d fields\n", l->where, MAX_FIELDS);
                        return -1;
                }
                l->f[l->n++] = p;
        }
        return 0;
}

static int run_line(policydb_t *db, sidtab_t *sidtab, struct line *l) {
        int saved[MAX_FIELDS] = {0}, first, r;
        int access = !strcmp(l->f[1], "allow") || !strcmp(l->f[1], "deny");

        if (!access && strcmp(l->f[1], "new")) {
                fprintf(stderr, "%s: '%s' is not allow, deny or new\n", l->where, l->f[1]);
                return -1;
        }
        first = access ? 6 : 7;
        if (l->n < first) {
                fprintf(stderr, "%s: %d fields; a%s line has at least %d\n", l->where, l->n,
                        access ? "n allow or deny" : " new", first);
                return -1;
        }
        if (set_bools(db, l, first, 0, saved) < 0)
                return -1;
        r = access ? check_access(l) : check_new(db, sidtab, l);
        if (set_bools(db, l, first, 1, saved) < 0)
                return -1;
        return r;
}

int main(int argc, char **argv) {
        policydb_t db;
        sidtab_t sidtab = {0};
        policy_file_t pf;
        FILE *pol, *table;
        char buf[4096], where[512];
        int lineno = 0, checks = 0, failed = 0, status = 0;

        if (argc != 3) {
                fprintf(stderr, "usage: %s POLICY TABLE\n", argv[0]);
                return 2;
        }
        if (!(pol = fopen(argv[1], "re"))) {
                fprintf(stderr, "%s: %s\n", argv[1], strerror(errno));
                return 2;
        }
        if (!(table = fopen(argv[2], "re"))) {
                fprintf(stderr, "%s: %s\n", argv[2], strerror(errno));
                fclose(pol);
                return 2;
        }
        policy_file_init(&pf);
        pf.type = PF_USE_STDIO;
        pf.fp = pol;
        if (policydb_init(&db) < 0) {
                fprintf(stderr, "out of memory\n");
                fclose(pol);
                fclose(table);
                return 2;
        }
        if (policydb_read(&db, &pf, 0) < 0) {
                fprintf(stderr, "%s: not a binary policy libsepol can read\n", argv[1]);
                status = 2;
        }
        fclose(pol);
        if (status)
                goto out;
        /* policydb_load_isids initialises the table itself. */
        if (policydb_load_isids(&db, &sidtab) < 0) {
                fprintf(stderr, "%s: cannot load the initial SIDs\n", argv[1]);
                status = 2;
                goto out;
        }
        sepol_set_policydb(&db);
        sepol_set_sidtab(&sidtab);

        while (fgets(buf, sizeof buf, table)) {
                struct line l = {.where = where};
                snprintf(where, sizeof where, "%s:%d", argv[2], ++lineno);
                if (split(buf, &l) < 0) {
                        status = 2;
                        break;
                }
                if (l.n == 0)
                        continue;
                int r = run_line(&db, &sidtab, &l);
                if (r < 0) {
                        status = 2;
                        break;
                }
                checks++;
                failed += !r;
        }
        if (status == 0) {
                printf("%d checks, %d failed\n", checks, failed);
                status = failed ? 1 : 0;
        }
out:
        fclose(table);
        sepol_sidtab_destroy(&sidtab);
        policydb_destroy(&db);
        return status;
}
