#include "journal.h"

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>


#define JOURNAL_SOCKET "/run/systemd/journal/socket"

/* journald's native format, one FIELD=value line each: a value with a
 * line end would need the binary form, so control bytes become '?' (a
 * guest's name comes from libvirt, but its XML is the guest owner's). */
static size_t field(char *buf, size_t at, size_t len, const char *name, const char *value) {
        int n = snprintf(buf + at, at < len ? len - at : 0, "%s=", name);
        if (n < 0 || at + (size_t) n >= len)
                return len;
        at += (size_t) n;
        for (const unsigned char *p = (const unsigned char *) value; *p && at + 1 < len; p++)
                buf[at++] = *p < 0x20 || *p == 0x7f ? '?' : (char) *p;
        if (at + 1 >= len)
                return len;
        buf[at++] = '\n';
        return at;
}

int journal_event(const char *message_id, int priority, const char *guest, const char *message) {
        char buf[4096], prio[4];
        struct sockaddr_un sa = {.sun_family = AF_UNIX, .sun_path = JOURNAL_SOCKET};
        size_t at = 0;

        snprintf(prio, sizeof prio, "%d", priority & 7);
        at = field(buf, at, sizeof buf, "MESSAGE_ID", message_id);
        at = field(buf, at, sizeof buf, "PRIORITY", prio);
        at = field(buf, at, sizeof buf, "SYSLOG_IDENTIFIER", "mcsctl-hook");
        at = field(buf, at, sizeof buf, "MCS_GUEST_NAME", guest);
        at = field(buf, at, sizeof buf, "MESSAGE", message);
        if (at >= sizeof buf)
                return -1;
        int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -1;
        ssize_t sent = sendto(fd, buf, at, MSG_NOSIGNAL, (struct sockaddr *) &sa, sizeof sa);
        close(fd);
        return sent == (ssize_t) at ? 0 : -1;
}
