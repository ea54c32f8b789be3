/* mcsctl hook: the libvirt hook's entry point (contrib/libvirt/hooks).
 *   mcsctl hook qemu|lxc GUEST OPERATION SUB-OPERATION [EXTRA] < domain XML
 * Sends the XML as it came, with the operation and libvirt's guest name, to
 * mcsd over its hook socket, and exits 0 to let libvirt go on or 1 to stop
 * it, with the reason on stderr, which libvirt shows the user. mcsd parses
 * the XML: this client links no XML parser, so that each guest start pays
 * for as little as possible. Never calls libvirt: libvirtd is waiting for
 * the hook. When mcsd does not answer in hook_timeout, a start is refused
 * (fail closed) unless mcsd.conf says hook_fail_open = yes. Only that fails
 * open: an answer is final, whatever it says, and so is a failure here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <syslog.h>

#include "client.h"
#include "hook.h"
#include "journal.h"
#include "mcs-message-ids.h"
#include "mcs-config.h"
#include "mcs-domain-xml.h" /* its size limit only: mcsd parses the XML */
#include "mcs-hook-rules.h"
#include "mcs-macro.h"
#include "mcs-protocol.h"

/* Operations that let a guest run with its label: these fail closed. */
static bool gates_start(mcs_hook_op op) {
        return op == MCS_HOOK_PREPARE || op == MCS_HOOK_START || op == MCS_HOOK_RESTORE || op == MCS_HOOK_MIGRATE;
}

/* All of stdin (libvirt writes the whole XML and may fail if it is not read). */
static char *read_stdin(size_t max, size_t *out_len, bool *too_long) {
        size_t cap = 65536, len = 0;
        char *buf = malloc(cap + 1);
        *too_long = false;
        while (buf) {
                if (len == cap) {
                        char *nb = realloc(buf, cap * 2 + 1);
                        if (!nb)
                                break;
                        buf = nb;
                        cap *= 2;
                }
                size_t n = fread(buf + len, 1, cap - len, stdin);
                len += n;
                if (n == 0)
                        break;
                if (len > max) {
                        *too_long = true;
                        len = 0; /* keep reading so libvirt's write completes, but keep nothing */
                }
        }
        if (buf)
                buf[len] = '\0';
        *out_len = len;
        return buf;
}

/* Stops an operation that lets a guest run; any other goes on. */
static int refuse(mcs_hook_op op, const char *guest, const char *why, const char *hint) {
        if (!gates_start(op)) {
                fprintf(stderr, "mcsd hook: guest '%s' (%s): %s\n", guest, mcs_hook_op_name(op), why);
                return EXIT_OK;
        }
        fprintf(stderr, "mcsd: refusing to start guest '%s': %s%s\n", guest, why, hint);
        return EXIT_FAILED;
}

/* mcsd did not answer: no connection, or not one byte of a reply before
 * the connection ended or hook_timeout passed. The one case that may fail
 * open. mcsd may still decide the request; told that this hook may let
 * the start go on, it keeps what it reserves (daemon/hook-server.c). Any
 * byte of a reply is an answer and goes to refuse(): it may be the start
 * of a refusal, after which mcsd holds nothing for this guest, and mcsd,
 * having answered, would never learn that the guest runs. */
static int no_answer(const mcs_config *cfg, mcs_hook_op op, const char *guest, const char *why) {
        if (gates_start(op) && cfg->hook_fail_open) {
                /* Loudly: libvirt discards a successful hook's output. The
                 * journal with its MESSAGE_ID, or syslog without journald. */
                char msg[2048];
                snprintf(msg, sizeof msg, "FAIL-OPEN: guest '%s' starts unchecked (%s): %s", guest,
                         mcs_hook_op_name(op), why);
                if (journal_event(MCS_MSGID_FAIL_OPEN, LOG_WARNING, guest, msg) < 0) {
                        openlog("mcsctl-hook", LOG_PID, LOG_DAEMON);
                        syslog(LOG_WARNING, "%s", msg);
                        closelog();
                }
                fprintf(stderr, "mcsd hook: FAIL-OPEN: guest '%s' starts unchecked: %s\n", guest, why);
                return EXIT_OK;
        }
        return refuse(op, guest, why,
                      " (mcsd must confirm its label is unique in the cluster; "
                      "hook_fail_open = yes in mcsd.conf would allow it)");
}

int hook_main(int argc, char **argv) {
        if (argc < 5 || argc > 6 || (strcmp(argv[1], "qemu") && strcmp(argv[1], "lxc"))) {
                fprintf(stderr, "usage: mcsctl hook qemu|lxc GUEST OPERATION SUB-OPERATION [EXTRA] < DOMAIN-XML\n");
                return EXIT_USAGE;
        }
        const char *guest = argv[2];
        mcs_hook_op op = mcs_hook_op_parse(argv[3], argv[4]);
        bool too_long;
        size_t len;
        _cleanup_free_ char *xml = read_stdin(MCS_DOMAIN_XML_MAX, &len, &too_long);
        if (op == MCS_HOOK_OTHER)
                return EXIT_OK;

        mcs_config cfg;
        mcs_err e = {0};
        const char *path = getenv("MCSD_CONFIG") && *getenv("MCSD_CONFIG") ? getenv("MCSD_CONFIG") : MCS_DEFAULT_CONFIG;
        mcs_config_init(&cfg);
        if (mcs_config_load(&cfg, path, true, &e) < 0)
                return refuse(op, guest, e.msg, "");

        char why[MCS_ERR_MSG_MAX + 128];
        int rc;
        /* Nothing to check, and nothing that needs mcsd (mcsd checks that the
         * XML names the same guest). */
        if (mcs_config_excludes(&cfg, guest)) {
                mcs_config_clear(&cfg);
                return EXIT_OK;
        }
        if (!xml || too_long) {
                snprintf(why, sizeof why, "cannot read its domain XML: %s", !xml ? "out of memory" : "longer than 16 MiB");
                rc = refuse(op, guest, why, "");
                mcs_config_clear(&cfg);
                return rc;
        }
        json_object *params = json_object_new_object(), *result = NULL;
        json_object_object_add(params, "op", json_object_new_string(mcs_hook_op_name(op)));
        json_object_object_add(params, "name", json_object_new_string(guest));
        json_object_object_add(params, "xml", json_object_new_string_len(xml, (int) len));
        /* mcsd drops the request once this hook has given up on it. */
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        json_object_object_add(params, "deadline",
                               json_object_new_int64((int64_t) now.tv_sec * 1000 + now.tv_nsec / 1000000 +
                                                     (int64_t) cfg.hook_timeout_ms));
        /* Then mcsd must not undo a reservation for a request it finds this
         * hook gave up on: the start may have gone on. */
        if (cfg.hook_fail_open)
                json_object_object_add(params, "fail_open", json_object_new_boolean(true));
        client_opts o = {
                .socket = mcs_config_hook_socket(&cfg),
                .timeout_ms = (int) cfg.hook_timeout_ms,
                .why = why,
                .why_len = sizeof why,
                .request_max = MCS_HOOK_REQUEST_MAX,
        };
        rc = client_call(&o, "hook", params, &result);
        if (rc == EXIT_UNREACHABLE) {
                rc = no_answer(&cfg, op, guest, why);
        } else if (rc != EXIT_OK) {
                /* An error answer (bad-request, changed, io, ...), or one that is
                 * cut short or does not parse: final, never fail-open. */
                rc = refuse(op, guest, why, "");
        } else {
                json_object *allow, *msg;
                /* Only a boolean true allows. */
                bool ok = json_object_object_get_ex(result, "allow", &allow) &&
                          json_object_is_type(allow, json_type_boolean) && json_object_get_boolean(allow);
                const char *m = NULL;
                if (json_object_object_get_ex(result, "message", &msg) && json_object_is_type(msg, json_type_string))
                        m = json_object_get_string(msg);
                if (ok) {
                        rc = EXIT_OK;
                } else {
                        fprintf(stderr, "mcsd: refusing to start guest '%s': %s\n", guest, m ? m : "refused");
                        rc = EXIT_FAILED;
                }
                json_object_put(result);
        }
        mcs_config_clear(&cfg);
        return rc;
}
