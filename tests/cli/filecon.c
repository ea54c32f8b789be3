/* filecon PATH [CONTEXT]: prints a file's SELinux label, or sets it (as a
 * plain xattr on a host where SELinux is off), for the cli suite. */
#include <selinux/selinux.h>
#include <stdio.h>

int main(int argc, char **argv) {
        char *con;
        if (argc == 2) {
                if (lgetfilecon_raw(argv[1], &con) < 0) {
                        perror(argv[1]);
                        return 1;
                }
                printf("%s\n", con);
                freecon(con);
                return 0;
        }
        if (argc != 3) {
                fprintf(stderr, "usage: filecon PATH [CONTEXT]\n");
                return 2;
        }
        if (lsetfilecon(argv[1], argv[2]) < 0) {
                perror(argv[1]);
                return 1;
        }
        return 0;
}
