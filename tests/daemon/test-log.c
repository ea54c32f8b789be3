/* mcsd's log escapes control bytes: a guest name read from shared storage
 * (or sent by a client) cannot forge a log line of its own. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

int main(void) {
        char text[512] = "";
        FILE *f = tmpfile();
        if (!f || unsetenv("JOURNAL_STREAM") < 0)
                return 1;
        fflush(stderr);
        int saved = dup(2);
        dup2(fileno(f), 2);
        log_setup(MCS_LOG_INFO);
        log_msg(MCS_LOG_INFO, "guest %s reserved", "evil\nmcsd: error: forged\r");
        log_guest(MCS_LOG_INFO, "a\nb", NULL, NULL, "guest %s\tstarted", "a\nb");
        fflush(stderr);
        dup2(saved, 2);
        rewind(f);
        size_t n = fread(text, 1, sizeof text - 1, f);
        text[n] = '\0';
        const char *want = "mcsd: info: guest evil\\x0amcsd: error: forged\\x0d reserved\n"
                           "mcsd: info: guest a\\x0ab\\x09started\n";
        if (strcmp(text, want)) {
                fprintf(stderr, "test-log: the log reads\n%s\nwanted\n%s", text, want);
                return 1;
        }
        printf("ok\n");
        return 0;
}
