/* The memory baseline of bench-memory.sh: the least any libvirt client on
 * this host costs. It links libvirt alone, registers libvirt's event loop
 * and tries the URI it is given (as mcsd does at start), then waits to be
 * measured. */
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <stdio.h>
#include <unistd.h>

static void quiet(void *opaque, virErrorPtr err) {
        (void) opaque;
        (void) err;
}

int main(int argc, char **argv) {
        if (argc != 2) {
                fprintf(stderr, "usage: libvirt-client URI\n");
                return 2;
        }
        virSetErrorFunc(NULL, quiet);
        if (virEventRegisterDefaultImpl() < 0)
                return 1;
        virConnectPtr conn = virConnectOpen(argv[1]);
        if (conn)
                virConnectClose(conn);
        printf("ready\n");
        fflush(stdout);
        pause();
        return 0;
}
