/* setfilecon PATH CONTEXT: sets a file's SELinux label (as a plain xattr on
 * a host where SELinux is off), for the cli suite's disk images. */
#include <selinux/selinux.h>
#include <stdio.h>

int main(int argc, char **argv) {
        if (argc != 3) {
                fprintf(stderr, "usage: setfilecon PATH CONTEXT\n");
                return 2;
        }
        if (lsetfilecon(argv[1], argv[2]) < 0) {
                perror(argv[1]);
                return 1;
        }
        return 0;
}
