/* The image plan, qcow2 backing chains, labelling one file (symlinks,
 * roots, read-back), context checks against the installed policy, and the
 * parallel tree relabel, on real files and xattrs. */
#include <errno.h>
#include <fcntl.h>
#include <selinux/selinux.h>
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "mcs-file-fd.h"
#include "mcs-guest-images.h"
#include "mcs-image-label.h"
#include "mcs-policy.h"
#include "mcs-tree-relabel.h"
#include "test-util.h"

#define UUID_A "11111111-2222-3333-4444-555555555555"
#define IMG "system_u:object_r:svirt_image_t:"

/* Runs a shell command with $D set to dir. */
static void sh(const char *cmd, const char *dir) {
        setenv("D", dir, 1);
        ck_assert_msg(system(cmd) == 0, "%s failed (D=%s)", cmd, dir);
}

static char *label_of(const char *path) {
        char *c = NULL;
        if (lgetfilecon_raw(path, &c) < 0)
                return NULL;
        return c;
}

START_TEST(plan_with_backing_chain) {
        char *dir = test_tmpdir(), xml[8192];
        mcs_image_types t;
        mcs_image_plan p;
        mcs_domain d;
        mcs_err e = {0};
        const char *roots[] = {dir};
        sh("cd \"$D\" && qemu-img create -q -f qcow2 base.qcow2 1M && mkdir sub && "
           "qemu-img create -q -f qcow2 -b ../base.qcow2 -F qcow2 sub/mid.qcow2 && "
           "qemu-img create -q -f qcow2 -b \"$D\"/sub/mid.qcow2 -F qcow2 top.qcow2 && : >shared.raw && : >cd.iso",
           dir);
        snprintf(xml, sizeof xml,
                 "<domain type='kvm'><name>vm</name><uuid>" UUID_A "</uuid><devices>"
                 "<disk type='file'><driver name='qemu' type='qcow2'/><source file='%s/top.qcow2'/></disk>"
                 "<disk type='file'><source file='%s/shared.raw'/><shareable/></disk>"
                 "<disk type='file'><source file='%s/cd.iso'/><readonly/></disk>"
                 "<disk type='file'><source file='%s/own.raw'><seclabel model='selinux' relabel='no'/></source></disk>"
                 "<disk type='block'><source dev='/dev/vg/data'/></disk>"
                 "</devices></domain>",
                 dir, dir, dir, dir);
        ck_assert_ok(mcs_image_types_load(NULL, &t, &e), &e);
        ck_assert_str_eq(t.image.type, "svirt_image_t");
        ck_assert_str_eq(t.content.type, "virt_content_t");
        ck_assert_ok(mcs_domain_parse(xml, &d, &e), &e);
        ck_assert_ok(mcs_image_plan_build(&d, &t, "s0:c1,c2", roots, 1, &p, &e), &e);
        ck_assert_uint_eq(p.n, 6);
        char want[4200];
        snprintf(want, sizeof want, "%s/top.qcow2", dir);
        ck_assert_str_eq(p.v[0].path, want);
        ck_assert_str_eq(p.v[0].context, IMG "s0:c1,c2");
        ck_assert_int_eq(p.v[0].role, MCS_IMAGE_PRIVATE);
        snprintf(want, sizeof want, "%s/sub/mid.qcow2", dir);
        ck_assert_str_eq(p.v[1].path, want);
        ck_assert_str_eq(p.v[1].context, "system_u:object_r:virt_content_t:s0");
        snprintf(want, sizeof want, "%s/sub/../base.qcow2", dir);
        ck_assert_str_eq(p.v[2].path, want);
        ck_assert_int_eq(p.v[2].role, MCS_IMAGE_CONTENT);
        ck_assert_str_eq(p.v[3].context, IMG "s0");
        ck_assert_int_eq(p.v[3].role, MCS_IMAGE_SHARED);
        ck_assert_str_eq(p.v[4].context, "system_u:object_r:virt_content_t:s0");
        ck_assert_str_eq(p.v[5].path, "/dev/vg/data");
        ck_assert_str_eq(p.v[5].context, IMG "s0:c1,c2");
        mcs_image_plan_clear(&p);
        mcs_domain_clear(&d);

        /* A qcow2 header naming itself: a loop, refused, not followed forever. */
        char loop[4200];
        snprintf(loop, sizeof loop, "%s/loop.qcow2", dir);
        sh("cd \"$D\" && qemu-img create -q -f qcow2 loop.qcow2 1M && qemu-img rebase -q -u -f qcow2 -b loop.qcow2 -F qcow2 loop.qcow2",
           dir);
        snprintf(xml, sizeof xml,
                 "<domain type='kvm'><name>vm</name><uuid>" UUID_A "</uuid><devices>"
                 "<disk type='file'><driver type='qcow2'/><source file='%s'/></disk></devices></domain>",
                 loop);
        ck_assert_ok(mcs_domain_parse(xml, &d, &e), &e);
        ck_assert_fails(mcs_image_plan_build(&d, &t, "s0:c1,c2", roots, 1, &p, &e), &e, MCS_E_INVALID, "backing chain deeper than 16");
        mcs_domain_clear(&d);
        test_rmtree(dir);
        free(dir);
}
END_TEST

/* The files a plan for one guest with disks (XML <disk> elements, $D
 * replaced by dir) would label, by name relative to dir, with their
 * roles: "top.qcow2:p mid.raw:c". Images are read only inside dir. */
static char *plan_of(const char *dir, const char *disks) {
        static char out[4096];
        char xml[16384], body[8192];
        mcs_image_types t;
        mcs_image_plan p;
        mcs_domain d;
        mcs_err e = {0};
        const char *roots[] = {dir};
        size_t o = 0, dl = strlen(dir);
        for (const char *c = disks; *c && o + dl + 1 < sizeof body; c++) {
                if (c[0] == '$' && c[1] == 'D') {
                        memcpy(body + o, dir, dl);
                        o += dl;
                        c++;
                } else
                        body[o++] = *c;
        }
        body[o] = '\0';
        snprintf(xml, sizeof xml, "<domain type='kvm'><name>vm</name><uuid>" UUID_A "</uuid><devices>%s</devices></domain>",
                 body);
        ck_assert_ok(mcs_image_types_load(NULL, &t, &e), &e);
        ck_assert_ok(mcs_domain_parse(xml, &d, &e), &e);
        ck_assert_ok(mcs_image_plan_build(&d, &t, "s0:c1,c2", roots, 1, &p, &e), &e);
        out[0] = '\0';
        for (size_t i = 0; i < p.n; i++) {
                bool inside = !strncmp(p.v[i].path, dir, dl) && p.v[i].path[dl] == '/';
                const char *name = inside ? p.v[i].path + dl + 1 : p.v[i].path;
                size_t n = strlen(out);
                snprintf(out + n, sizeof out - n, "%s%s:%c", n ? " " : "", name, "psc"[p.v[i].role]);
        }
        mcs_image_plan_clear(&p);
        mcs_domain_clear(&d);
        return out;
}

/* A guest's disk content decides nothing it was not declared to: a qcow2
 * header written into a raw disk, or into a disk whose format the XML does
 * not name, is never read; a qcow2 image's backing file is read on only
 * when the image names its format as qcow2; libvirt's <backingStore>
 * chain, when the XML has one, is taken instead of any header; a backing
 * file outside the roots is planned (and refused when labelled) but never
 * read. */
START_TEST(plan_follows_declared_formats_only) {
        char *dir = test_tmpdir();
        /* nofmt.qcow2 names forged.qcow2 without a format: its backing
         * format extension (at 112, after qemu-img's v3 header) is made an
         * unknown one, which qemu skips. */
        sh("cd \"$D\" && : >victim.img && qemu-img create -q -f qcow2 -u -b victim.img -F qcow2 forged.qcow2 1M && "
           "cp forged.qcow2 attacker.img && cp forged.qcow2 mid.raw && "
           "qemu-img create -q -f qcow2 -u -b mid.raw -F raw rawbacked.qcow2 1M && "
           "qemu-img create -q -f qcow2 -u -b forged.qcow2 -F qcow2 nofmt.qcow2 1M && "
           "printf '\\000\\000\\000\\001' | dd of=nofmt.qcow2 bs=1 seek=112 conv=notrunc status=none && "
           "mkdir -p \"$D.out\" && qemu-img create -q -f qcow2 -u -b \"$D\"/victim.img -F qcow2 \"$D.out\"/far.qcow2 1M && "
           "qemu-img create -q -f qcow2 -u -b \"$D.out\"/far.qcow2 -F qcow2 outward.qcow2 1M",
           dir);
        /* The forged header in a raw disk, or one of no declared format. */
        ck_assert_str_eq(plan_of(dir, "<disk type='file'><driver name='qemu' type='raw'/><source file='$D/attacker.img'/></disk>"),
                         "attacker.img:p");
        ck_assert_str_eq(plan_of(dir, "<disk type='file'><source file='$D/attacker.img'/></disk>"), "attacker.img:p");
        ck_assert_str_eq(plan_of(dir, "<disk type='file'><driver type='vmdk'/><source file='$D/attacker.img'/></disk>"),
                         "attacker.img:p");
        /* Declared qcow2: the chain while each image names qcow2. */
        ck_assert_str_eq(plan_of(dir, "<disk type='file'><driver type='qcow2'/><source file='$D/forged.qcow2'/></disk>"),
                         "forged.qcow2:p victim.img:c");
        /* A raw backing file is labelled, not read (it holds the forged header). */
        ck_assert_str_eq(plan_of(dir, "<disk type='file'><driver type='qcow2'/><source file='$D/rawbacked.qcow2'/></disk>"),
                         "rawbacked.qcow2:p mid.raw:c");
        /* A backing file whose format the image does not name: not read. */
        ck_assert_str_eq(plan_of(dir, "<disk type='file'><driver type='qcow2'/><source file='$D/nofmt.qcow2'/></disk>"),
                         "nofmt.qcow2:p forged.qcow2:c");
        /* libvirt's chain in the XML is taken, the header is not read. */
        ck_assert_str_eq(plan_of(dir, "<disk type='file'><driver type='qcow2'/><source file='$D/forged.qcow2'/>"
                                      "<backingStore type='file'><format type='raw'/><source file='$D/mid.raw'/>"
                                      "<backingStore/></backingStore></disk>"),
                         "forged.qcow2:p mid.raw:c");
        ck_assert_str_eq(plan_of(dir, "<disk type='file'><driver type='qcow2'/><source file='$D/forged.qcow2'/>"
                                      "<backingStore/></disk>"),
                         "forged.qcow2:p");
        /* A backing file outside the roots: planned (labelling refuses it), never read. */
        char *plan = plan_of(dir, "<disk type='file'><driver type='qcow2'/><source file='$D/outward.qcow2'/></disk>");
        ck_assert_msg(!strstr(plan, "victim"), "a header outside the roots was read: %s", plan);
        ck_assert_msg(strstr(plan, "outward.qcow2:p /") && strstr(plan, ".out/far.qcow2:c"), "%s", plan);
        sh("rm -rf \"$D.out\"", dir);
        test_rmtree(dir);
        free(dir);
}
END_TEST

/* A FIFO or device node named as a disk or a backing file is neither
 * opened nor labelled; planning does not wait on it. */
START_TEST(fifo_and_device_disks) {
        char *dir = test_tmpdir(), path[4200];
        const char *roots[] = {dir};
        mcs_label_result r;
        mcs_err e = {0};
        sh("cd \"$D\" && mkfifo fifo.img && mknod null.img c 1 3 && : >plain.img && "
           "qemu-img create -q -f qcow2 -u -b fifo.img -F qcow2 tofifo.qcow2 1M",
           dir);
        alarm(20); /* a blocking open would hang here: the alarm ends the test (killed) */
        ck_assert_str_eq(plan_of(dir, "<disk type='file'><driver type='qcow2'/><source file='$D/fifo.img'/></disk>"),
                         "fifo.img:p");
        ck_assert_str_eq(plan_of(dir, "<disk type='file'><driver type='qcow2'/><source file='$D/null.img'/></disk>"),
                         "null.img:p");
        ck_assert_str_eq(plan_of(dir, "<disk type='file'><driver type='qcow2'/><source file='$D/tofifo.qcow2'/></disk>"),
                         "tofifo.qcow2:p fifo.img:c");
        ck_assert_str_eq(plan_of(dir, "<disk type='block'><driver type='qcow2'/><source dev='$D/fifo.img'/></disk>"),
                         "fifo.img:p");
        alarm(0);
        snprintf(path, sizeof path, "%s/fifo.img", dir);
        ck_assert_fails(mcs_label_file(path, IMG "s0:c1,c2", MCS_FILE_REGULAR, roots, 1, NULL, NULL, &r, &e), &e,
                        MCS_E_INVALID, "fifo.img is a FIFO, not a regular file; not touched");
        ck_assert_fails(mcs_label_file(path, "system_u:object_r:virt_content_t:s0", MCS_FILE_DISK, roots, 1, NULL, NULL,
                                       &r, &e),
                        &e, MCS_E_INVALID, "is a FIFO, not a regular file or a block device");
        char *c = label_of(path);
        ck_assert_msg(!c || !strstr(c, "svirt_image_t"), "the FIFO was labelled %s", c);
        freecon(c);
        snprintf(path, sizeof path, "%s/null.img", dir);
        ck_assert_fails(mcs_label_file(path, IMG "s0:c1,c2", MCS_FILE_REGULAR, roots, 1, NULL, NULL, &r, &e), &e,
                        MCS_E_INVALID, "is a character device, not a regular file");
        c = label_of(path);
        ck_assert_msg(!c || !strstr(c, "svirt_image_t"), "the device was labelled %s", c);
        freecon(c);
        /* type='block' wants a block device, a file disk a regular file. */
        snprintf(path, sizeof path, "%s/plain.img", dir);
        ck_assert_fails(mcs_label_file(path, IMG "s0:c1,c2", MCS_FILE_BLOCK, roots, 1, NULL, NULL, &r, &e), &e,
                        MCS_E_INVALID, "is a regular file, not a block device (type='block')");
        test_rmtree(dir);
        free(dir);
}
END_TEST

/* A loop device over file, read-only, as a block node dev in dir; false
 * (the test skips) where no loop device can be had. */
static bool loop_node(const char *dir, const char *file, const char *dev, char *loopdev, size_t n) {
        char cmd[8400];
        snprintf(cmd, sizeof cmd, "losetup -f --show -r \"%s/%s\" 2>/dev/null", dir, file);
        FILE *f = popen(cmd, "r");
        bool ok = f && fgets(loopdev, (int) n, f);
        if (f)
                pclose(f);
        if (!ok)
                return false;
        loopdev[strcspn(loopdev, "\n")] = '\0';
        struct stat st;
        char node[4200];
        snprintf(node, sizeof node, "%s/%s", dir, dev);
        ck_assert_int_eq(stat(loopdev, &st), 0);
        ck_assert_int_eq(mknod(node, S_IFBLK | 0600, st.st_rdev), 0);
        return true;
}

/* A block device is never read for a qcow2 header: a read from one can
 * wait forever (a suspended device-mapper volume, a multipath device
 * queueing with no path), on mcsd's main loop or hook thread. A qcow2
 * disk on a block device has only its <backingStore> chain; a block
 * device named as a backing file is labelled, not read. */
START_TEST(block_devices_never_read) {
        char *dir = test_tmpdir(), loopdev[256];
        sh("cd \"$D\" && : >victim.img && qemu-img create -q -f qcow2 -u -b \"$D\"/victim.img -F qcow2 dev.qcow2 1M && "
           "qemu-img create -q -f qcow2 -u -b \"$D\"/blk -F qcow2 onblk.qcow2 1M",
           dir);
        if (!loop_node(dir, "dev.qcow2", "blk", loopdev, sizeof loopdev)) {
                fprintf(stderr, "block_devices_never_read: no loop device here, skipped\n");
                test_rmtree(dir);
                free(dir);
                return;
        }
        /* Each plan is taken before any assertion: the loop device is
         * detached whatever they say. */
        char *disk = strdup(plan_of(dir, "<disk type='block'><driver type='qcow2'/><source dev='$D/blk'/></disk>"));
        char *backing = strdup(plan_of(dir, "<disk type='file'><driver type='qcow2'/><source file='$D/onblk.qcow2'/></disk>"));
        char *declared = strdup(plan_of(dir, "<disk type='block'><driver type='qcow2'/><source dev='$D/blk'/>"
                                             "<backingStore type='file'><format type='raw'/>"
                                             "<source file='$D/victim.img'/><backingStore/></backingStore></disk>"));
        setenv("LOOPDEV", loopdev, 1);
        sh("losetup -d \"$LOOPDEV\"", dir);
        ck_assert_str_eq(disk, "blk:p");
        ck_assert_str_eq(backing, "onblk.qcow2:p blk:c");
        ck_assert_str_eq(declared, "blk:p victim.img:c");
        free(disk);
        free(backing);
        free(declared);
        test_rmtree(dir);
        free(dir);
}
END_TEST

START_TEST(label_one_file) {
        char *dir = test_tmpdir(), f[4200], link[4200], out[4200], root[4200];
        mcs_label_result r;
        mcs_err e = {0};
        sh("mkdir \"$D/images\" \"$D/elsewhere\" && : >\"$D/images/disk.raw\" && : >\"$D/elsewhere/x.raw\"", dir);
        snprintf(root, sizeof root, "%s/images", dir);
        snprintf(f, sizeof f, "%s/images/disk.raw", dir);
        snprintf(link, sizeof link, "%s/images/link.raw", dir);
        snprintf(out, sizeof out, "%s/elsewhere/x.raw", dir);
        ck_assert_int_eq(symlink(f, link), 0);
        const char *roots[] = {root};

        ck_assert_ok(mcs_label_file(link, IMG "s0:c1,c2", MCS_FILE_REGULAR, roots, 1, NULL, NULL, &r, &e), &e);
        ck_assert_int_eq(r.outcome, MCS_LABEL_SET);
        ck_assert_str_eq(r.target, f);
        char *c = label_of(f);
        ck_assert_str_eq(c, IMG "s0:c1,c2");
        freecon(c);
        c = label_of(link);
        ck_assert_msg(!c || strcmp(c, IMG "s0:c1,c2"), "the link itself was labelled");
        freecon(c);

        ck_assert_ok(mcs_label_file(f, IMG "s0:c1,c2", MCS_FILE_REGULAR, roots, 1, NULL, NULL, &r, &e), &e);
        ck_assert_int_eq(r.outcome, MCS_LABEL_UNCHANGED);
        ck_assert_ok(mcs_label_file(f, IMG "s0:c3,c4", MCS_FILE_REGULAR, roots, 1, NULL, NULL, &r, &e), &e);
        ck_assert_str_eq(r.previous, IMG "s0:c1,c2");

        ck_assert_fails(mcs_label_file(out, IMG "s0:c1,c2", MCS_FILE_REGULAR, roots, 1, NULL, NULL, &r, &e), &e, MCS_E_INVALID,
                        "is outside the configured image roots");
        /* A link inside the roots to a file outside them is refused too. */
        char sneaky[4200];
        snprintf(sneaky, sizeof sneaky, "%s/images/sneaky.raw", dir);
        ck_assert_int_eq(symlink(out, sneaky), 0);
        ck_assert_fails(mcs_label_file(sneaky, IMG "s0:c1,c2", MCS_FILE_REGULAR, roots, 1, NULL, NULL, &r, &e), &e, MCS_E_INVALID, "-> ");
        c = label_of(out);
        ck_assert_ptr_null(c);
        snprintf(sneaky, sizeof sneaky, "%s/images/missing.raw", dir);
        ck_assert_fails(mcs_label_file(sneaky, IMG "s0:c1,c2", MCS_FILE_REGULAR, roots, 1, NULL, NULL, &r, &e), &e, MCS_E_NOTFOUND,
                        "No such file or directory");
        /* EPERM is fatal: an immutable file (chattr +i) refuses every xattr. */
        char imm[4200];
        snprintf(imm, sizeof imm, "%s/images/immutable.raw", dir);
        sh(": >\"$D/images/immutable.raw\" && chattr +i \"$D/images/immutable.raw\"", dir);
        int rc = mcs_label_file(imm, IMG "s0:c1,c2", MCS_FILE_REGULAR, roots, 1, NULL, NULL, &r, &e);
        sh("chattr -i \"$D/images/immutable.raw\"", dir);
        ck_assert_fails(rc, &e, MCS_E_IO, "Operation not permitted");
        /* A block device node (the disk of a type='block' guest) is labelled like a file. */
        char dev[4200];
        snprintf(dev, sizeof dev, "%s/images/vg-data", dir);
        ck_assert_int_eq(mknod(dev, S_IFBLK | 0600, makedev(7, 200)), 0);
        ck_assert_ok(mcs_label_file(dev, IMG "s0:c5,c6", MCS_FILE_BLOCK, roots, 1, NULL, NULL, &r, &e), &e);
        ck_assert_int_eq(r.outcome, MCS_LABEL_SET);
        c = label_of(dev);
        ck_assert_str_eq(c, IMG "s0:c5,c6");
        freecon(c);
        test_rmtree(dir);
        free(dir);
}
END_TEST

START_TEST(contexts_checked_against_the_policy) {
        mcs_context_checker *c;
        mcs_err e = {0};
        ck_assert_ok(mcs_context_checker_new(NULL, &c, &e), &e);
        ck_assert_ok(mcs_context_check(c, IMG "s0:c1,c2", &e), &e);
        ck_assert_ok(mcs_context_check(c, "system_u:object_r:virt_content_t:s0", &e), &e);
        ck_assert_fails(mcs_context_check(c, "system_u:object_r:no_such_type_t:s0", &e), &e, MCS_E_INVALID,
                        "'system_u:object_r:no_such_type_t:s0' is not a valid context");
        ck_assert_fails(mcs_context_check(c, IMG "s0:c1,c2000", &e), &e, MCS_E_INVALID, "is not a valid context");
        ck_assert_fails(mcs_context_check(c, "garbage", &e), &e, MCS_E_INVALID, "is not a valid context");
        mcs_context_checker_free(c);
}
END_TEST

START_TEST(tree_relabel) {
        char *dir = test_tmpdir(), path[4200], out[4200];
        mcs_tree_stats st;
        mcs_err e = {0};
        sh("mkdir -p \"$D/tree/a/b/c\" \"$D/outside\" && cd \"$D/tree\" && "
           "for i in 1 2 3; do : >f$i; : >a/g$i; : >a/b/c/h$i; done && "
           ": >\"$D/outside/o\" && ln -s ../outside/o link && mkfifo a/fifo",
           dir);
        snprintf(path, sizeof path, "%s/tree", dir);
        ck_assert_ok(mcs_tree_relabel(path, NULL, 0, "system_u:object_r:virt_content_t:s0", 2, &st, &e), &e);
        ck_assert_uint_eq(st.labelled, 13); /* the root, 3 directories, 9 files */
        ck_assert_uint_eq(st.skipped, 2);   /* the link and the fifo */
        ck_assert_uint_eq(st.failed, 0);
        snprintf(path, sizeof path, "%s/tree/a/b/c/h3", dir);
        char *c = label_of(path);
        ck_assert_str_eq(c, "system_u:object_r:virt_content_t:s0");
        freecon(c);
        snprintf(out, sizeof out, "%s/outside/o", dir);
        ck_assert_ptr_null(label_of(out));
        snprintf(path, sizeof path, "%s/tree/f1", dir);
        ck_assert_fails(mcs_tree_relabel(path, NULL, 0, "x", 2, &st, &e), &e, MCS_E_INVALID, "is not a directory");
        test_rmtree(dir);
        free(dir);
}
END_TEST

/* A child that swaps dir with a symlink to elsewhere and back, atomically
 * (RENAME_EXCHANGE), until it is killed. */
static pid_t start_swapper(const char *dir, const char *spare) {
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                for (;;)
                        if (renameat2(AT_FDCWD, dir, AT_FDCWD, spare, RENAME_EXCHANGE) < 0)
                                _exit(1);
        }
        return pid;
}

static void stop_swapper(pid_t pid, const char *dir, const char *spare) {
        int status;
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        ck_assert_msg(WIFSIGNALED(status), "the swapper stopped by itself: renameat2 failed");
        struct stat st;
        if (lstat(dir, &st) == 0 && S_ISLNK(st.st_mode))
                renameat2(AT_FDCWD, dir, AT_FDCWD, spare, RENAME_EXCHANGE);
}

/* Relabels the tree at root 400 times, with two labels in turn, while
 * victim and spare are swapped again and again. */
static void relabel_while_swapping(const char *root, const char *victim, const char *spare) {
        mcs_tree_stats st;
        pid_t pid = start_swapper(victim, spare);
        for (int i = 0; i < 400; i++) {
                mcs_err e = {0};
                mcs_tree_relabel(root, NULL, 0, i % 2 ? IMG "s0:c1,c2" : IMG "s0:c3,c4", 2, &st, &e);
        }
        stop_swapper(pid, victim, spare);
}

/* A directory inside the tree is swapped for a symlink to an outside
 * directory and back while the tree is relabelled, again and again: the
 * files outside never get the label. */
START_TEST(tree_relabel_races_a_symlink_swap) {
        char *dir = test_tmpdir(), root[4200], a[4200], spare[4200], out[4200];
        sh("mkdir -p \"$D/tree/a/sub\" \"$D/outside/deep\" && cd \"$D/tree\" && "
           "for i in 1 2 3 4 5 6 7 8; do mkdir d$i; : >d$i/f; : >a/f$i; done && : >a/sub/g && "
           ": >\"$D/outside/o\" && : >\"$D/outside/deep/p\" && ln -s ../outside swap",
           dir);
        snprintf(root, sizeof root, "%s/tree", dir);
        snprintf(a, sizeof a, "%s/tree/a", dir);
        snprintf(spare, sizeof spare, "%s/tree/swap", dir);
        relabel_while_swapping(root, a, spare);
        const char *outside[] = {"outside", "outside/o", "outside/deep", "outside/deep/p"};
        for (size_t i = 0; i < sizeof outside / sizeof outside[0]; i++) {
                snprintf(out, sizeof out, "%s/%s", dir, outside[i]);
                char *c = label_of(out);
                ck_assert_msg(!c || !strstr(c, "svirt_image_t"), "%s outside the tree was labelled %s", out, c);
                freecon(c);
        }
        test_rmtree(dir);
        free(dir);
}
END_TEST

/* A regular file of the tree is swapped for a symlink to an outside file
 * and back while the tree is relabelled: the outside file never gets the
 * label (a file labelled by its name has the link itself labelled, never
 * what it points to). */
START_TEST(tree_relabel_races_a_file_swap) {
        char *dir = test_tmpdir(), root[4200], f[4200], spare[4200], out[4200];
        sh("mkdir -p \"$D/tree\" \"$D/outside\" && cd \"$D/tree\" && "
           "for i in 1 2 3 4 5 6 7 8; do : >f$i; done && : >\"$D/outside/o\" && ln -s ../outside/o swap",
           dir);
        snprintf(root, sizeof root, "%s/tree", dir);
        snprintf(f, sizeof f, "%s/tree/f4", dir);
        snprintf(spare, sizeof spare, "%s/tree/swap", dir);
        relabel_while_swapping(root, f, spare);
        snprintf(out, sizeof out, "%s/outside/o", dir);
        char *c = label_of(out);
        ck_assert_msg(!c || !strstr(c, "svirt_image_t"), "%s outside the tree was labelled %s", out, c);
        freecon(c);
        test_rmtree(dir);
        free(dir);
}
END_TEST

/* Regular files are labelled by name, without a descriptor of their own
 * (an open costs more than the label): with room for the root's and one
 * directory's descriptors only, a one-thread walk still labels every file.
 * Not where the kernel (or valgrind) lacks setxattrat: files then go
 * through descriptors. */
START_TEST(tree_relabel_opens_no_regular_file) {
        char *dir = test_tmpdir(), path[4200];
        mcs_tree_stats st;
        mcs_err e = {0};
        sh("mkdir -p \"$D/tree\" && cd \"$D/tree\" && for i in 1 2 3 4 5; do : >f$i; done", dir);
        snprintf(path, sizeof path, "%s/tree", dir);
        int dfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        ck_assert_int_ge(dfd, 0);
        int probe = mcs_fd_setcon_entry(dfd, "f1", IMG "s0");
        int err = errno;
        close(dfd);
        if (probe < 0 && err == ENOSYS) {
                fprintf(stderr, "tree_relabel_opens_no_regular_file: no setxattrat here; not checked\n");
                test_rmtree(dir);
                free(dir);
                return;
        }
        ck_assert_int_eq(probe, 0);
        /* Every descriptor number below the limit taken, but two. */
        int top = 0;
        for (int fd = 0; fd < 1024; fd++)
                if (fcntl(fd, F_GETFD) >= 0)
                        top = fd + 1;
        int filler;
        while ((filler = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0 && filler < top)
                ;
        ck_assert_int_eq(filler, top);
        close(filler);
        struct rlimit lim;
        ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &lim), 0);
        struct rlimit tight = {.rlim_cur = (rlim_t) top + 2, .rlim_max = lim.rlim_max};
        ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &tight), 0);
        int r = mcs_tree_relabel(path, NULL, 0, IMG "s0:c1,c2", 1, &st, &e);
        setrlimit(RLIMIT_NOFILE, &lim);
        ck_assert_ok(r, &e);
        ck_assert_uint_eq(st.labelled, 6);
        snprintf(path, sizeof path, "%s/tree/f5", dir);
        char *c = label_of(path);
        ck_assert_str_eq(c, IMG "s0:c1,c2");
        freecon(c);
        test_rmtree(dir);
        free(dir);
}
END_TEST

/* The parent directory of an image is swapped for a symlink to an outside
 * directory holding a file of the same name, while the image is labelled
 * again and again: the outside file never gets the label. */
START_TEST(label_file_races_a_parent_swap) {
        char *dir = test_tmpdir(), root[4200], sub[4200], spare[4200], img[4200], out[4200];
        mcs_label_result r;
        sh("mkdir -p \"$D/images/vm\" \"$D/outside\" && : >\"$D/images/vm/disk.raw\" && : >\"$D/outside/disk.raw\" && "
           "ln -s ../outside \"$D/images/swap\"",
           dir);
        snprintf(root, sizeof root, "%s/images", dir);
        snprintf(sub, sizeof sub, "%s/images/vm", dir);
        snprintf(spare, sizeof spare, "%s/images/swap", dir);
        snprintf(img, sizeof img, "%s/images/vm/disk.raw", dir);
        snprintf(out, sizeof out, "%s/outside/disk.raw", dir);
        const char *roots[] = {root};
        unsigned set = 0;
        pid_t pid = start_swapper(sub, spare);
        for (int i = 0; i < 4000; i++) {
                mcs_err e = {0};
                set += mcs_label_file(img, i % 2 ? IMG "s0:c1,c2" : IMG "s0:c3,c4", MCS_FILE_REGULAR, roots, 1, NULL, NULL, &r, &e) == 0;
        }
        stop_swapper(pid, sub, spare);
        char *c = label_of(out);
        ck_assert_msg(!c || !strstr(c, "svirt_image_t"), "%s outside the root was labelled %s", out, c);
        freecon(c);
        ck_assert_uint_gt(set, 0); /* the race did not just refuse everything */
        test_rmtree(dir);
        free(dir);
}
END_TEST

/* Opening beneath a root: no symlink and no ".." on the way. */
START_TEST(open_beneath_a_root) {
        char *dir = test_tmpdir(), root[4200];
        sh("mkdir -p \"$D/root/a/b\" \"$D/out\" && : >\"$D/root/a/b/f\" && ln -s ../../out \"$D/root/a/l\" && "
           "ln -s b \"$D/root/a/in\"",
           dir);
        snprintf(root, sizeof root, "%s/root", dir);
        int rfd = open(root, O_PATH | O_DIRECTORY), fd;
        ck_assert_int_ge(rfd, 0);
        ck_assert_int_ge(fd = mcs_openat_beneath(rfd, "a/b/f", O_PATH), 0);
        close(fd);
        ck_assert_int_ge(fd = mcs_openat_beneath(rfd, "./a//b/", O_RDONLY | O_DIRECTORY), 0);
        close(fd);
        errno = 0;
        ck_assert_int_lt(mcs_openat_beneath(rfd, "a/l/x", O_PATH), 0);
        ck_assert_int_eq(errno, ELOOP);
        ck_assert_int_lt(mcs_openat_beneath(rfd, "a/in/f", O_PATH), 0); /* even a link that stays inside */
        ck_assert_int_eq(errno, ELOOP);
        ck_assert_int_lt(mcs_openat_beneath(rfd, "a/l", O_RDONLY | O_DIRECTORY), 0);
        ck_assert_int_lt(mcs_openat_beneath(rfd, "a/../../out", O_PATH), 0);
        ck_assert_int_eq(errno, EXDEV);
        close(rfd);
        test_rmtree(dir);
        free(dir);
}
END_TEST

/* What a restore reported, one line per file. */
static void collect(void *opaque, const char *path, const char *context, const mcs_label_result *res,
                    const mcs_err *err) {
        char *buf = opaque;
        size_t n = strlen(buf);
        (void) res;
        snprintf(buf + n, 8192 - n, "%s %s: %s\n", err ? "refused" : "restored", path, err ? err->msg : context);
}

static void remember(mcs_registry *r, const char *dir, const char *file, const char *context) {
        char path[4200];
        mcs_err e = {0};
        snprintf(path, sizeof path, "%s/%s", dir, file);
        ck_assert_ok(mcs_registry_remember_original(r, UUID_A, path, context, &e), &e);
}

static void expect_label(const char *dir, const char *file, const char *want) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", dir, file);
        char *c = label_of(path);
        ck_assert_msg(c && !strcmp(c, want), "%s carries %s, wanted %s", file, c ? c : "nothing", want);
        freecon(c);
}

/* Originals read from the registry are put back only inside the roots,
 * only with a context the policy accepts, only over the guest's own
 * label, and on another host only under a shared root. */
START_TEST(restore_refuses_tampered_originals) {
        const char *guest = IMG "s0:c1,c2", *orig = "system_u:object_r:virt_image_t:s0";
        char *dir, root[4200], shared[4200], reported[8192] = "";
        mcs_context_checker *chk;
        mcs_original_list l;
        mcs_err e = {0};
        dir = test_tmpdir();
        sh("mkdir -p \"$D/images/shared\" \"$D/outside\" && cd \"$D\" && "
           "for f in images/good images/badctx images/relabelled images/local outside/x images/shared/s; do "
           ": >$f.raw; done",
           dir);
        const char *files[] = {"images/good.raw", "images/badctx.raw", "images/local.raw", "outside/x.raw",
                               "images/shared/s.raw"};
        for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
                char p[4200];
                snprintf(p, sizeof p, "%s/%s", dir, files[i]);
                ck_assert_int_eq(lsetfilecon_raw(p, guest), 0);
        }
        char p[4200];
        snprintf(p, sizeof p, "%s/images/relabelled.raw", dir);
        ck_assert_int_eq(lsetfilecon_raw(p, IMG "s0:c7,c8"), 0);

        mcs_registry *h1 = test_open_registry("h1", "c0.c1023"), *h2 = test_open_registry("h2", "c0.c1023");
        remember(h1, dir, "images/good.raw", orig);
        remember(h1, dir, "images/badctx.raw", "system_u:object_r:no_such_t:s0");
        remember(h1, dir, "images/relabelled.raw", orig);
        remember(h1, dir, "outside/x.raw", orig);
        remember(h2, dir, "images/local.raw", orig);
        remember(h2, dir, "images/shared/s.raw", orig);
        mcs_registry_close(h2);

        snprintf(root, sizeof root, "%s/images", dir);
        snprintf(shared, sizeof shared, "%s/images/shared", dir);
        const char *roots[] = {root}, *shareds[] = {shared};
        mcs_restore_scope sc = {.host_id = "h1", .roots = roots, .n_roots = 1, .shared = shareds, .n_shared = 1,
                                .guest_label = guest};
        ck_assert_ok(mcs_context_checker_new(NULL, &chk, &e), &e);
        int kept = mcs_guest_images_restore(h1, chk, &sc, UUID_A, collect, reported, &e);
        ck_assert_msg(kept == 1, "%d kept: %s", kept, reported);

        expect_label(dir, "images/good.raw", orig);
        expect_label(dir, "images/shared/s.raw", orig);
        expect_label(dir, "images/badctx.raw", guest);
        expect_label(dir, "images/relabelled.raw", IMG "s0:c7,c8");
        expect_label(dir, "outside/x.raw", guest);
        expect_label(dir, "images/local.raw", guest);
        ck_assert_msg(strstr(reported, "badctx.raw: not restored, record dropped: 'system_u:object_r:no_such_t:s0' is not a valid context"), "%s", reported);
        ck_assert_msg(strstr(reported, "relabelled.raw: not restored, record dropped: it carries " IMG "s0:c7,c8, not the guest's " IMG "s0:c1,c2"), "%s", reported);
        ck_assert_msg(strstr(reported, "outside/x.raw: not restored, record dropped:") &&
                      strstr(reported, "is outside the configured image roots"), "%s", reported);
        ck_assert_msg(strstr(reported, "local.raw: recorded by host h2 and not under a shared_root here; left for that host"), "%s", reported);
        /* Only the other host's local file is still remembered. */
        ck_assert_ok(mcs_registry_originals(h1, UUID_A, &l, &e), &e);
        ck_assert_uint_eq(l.n, 1);
        ck_assert_msg(strstr(l.v[0].path, "images/local.raw"), "%s kept", l.v[0].path);
        mcs_original_list_clear(&l);

        /* Without a shared root another host's record is never restored. */
        snprintf(p, sizeof p, "%s/images/shared/s.raw", dir);
        ck_assert_int_eq(lsetfilecon_raw(p, guest), 0);
        h2 = test_open_registry("h2", "c0.c1023");
        remember(h2, dir, "images/shared/s.raw", orig);
        mcs_registry_close(h2);
        sc.n_shared = 0;
        reported[0] = '\0';
        ck_assert_int_eq(mcs_guest_images_restore(h1, chk, &sc, UUID_A, collect, reported, &e), 2);
        expect_label(dir, "images/shared/s.raw", guest);
        ck_assert_msg(strstr(reported, "s.raw: recorded by host h2 and no shared_root is configured here"), "%s", reported);
        mcs_context_checker_free(chk);
        mcs_registry_close(h1);
        test_rmtree(dir);
        free(dir);
}
END_TEST

/* What a backing file may carry before it becomes read-only content, which
 * every guest reads: nothing another guest's data carries, and the
 * default image label only for a file the operator's XML declares. */
START_TEST(backing_label_allow_list) {
        mcs_image_plan p = {0};
        mcs_err e = {0};
        snprintf(p.own, sizeof p.own, IMG "s0:c1,c2");
        snprintf(p.image_type, sizeof p.image_type, "svirt_image_t");
        snprintf(p.content_type, sizeof p.content_type, "virt_content_t");
        const char *both[] = {"", IMG "s0:c1,c2", "system_u:object_r:virt_content_t:s0",
                              "unconfined_u:object_r:virt_content_t:s0-s0", "system_u:object_r:unlabeled_t:s0"};
        for (size_t i = 0; i < sizeof both / sizeof both[0]; i++) {
                ck_assert_ok(mcs_backing_check(&p, MCS_BACKING_HEADER, "f", both[i], &e), &e);
                ck_assert_ok(mcs_backing_check(&p, MCS_BACKING_XML, "f", both[i], &e), &e);
        }
        /* The default image label: a stopped guest's image restored to it
         * is no base image because a header says so; the operator's XML may. */
        const char *dflt = "system_u:object_r:virt_image_t:s0";
        ck_assert_fails(mcs_backing_check(&p, MCS_BACKING_HEADER, "f", dflt, &e), &e, MCS_E_CONFLICT,
                        "f carries system_u:object_r:virt_image_t:s0: a backing file named only by a qcow2 header");
        ck_assert_ok(mcs_backing_check(&p, MCS_BACKING_XML, "f", dflt, &e), &e);
        /* Refused whoever names it. */
        const char *never[] = {IMG "s0:c7,c8", IMG "s0", IMG "s0:c1", "system_u:object_r:virt_content_t:s0:c1,c2",
                               "system_u:object_r:virt_image_t:s0:c3,c4", "unconfined_u:object_r:user_home_t:s0",
                               "system_u:object_r:unlabeled_t:s0:c7,c8", "garbage"};
        for (size_t i = 0; i < sizeof never / sizeof never[0]; i++) {
                ck_assert_msg(mcs_backing_check(&p, MCS_BACKING_HEADER, "f", never[i], &e) == -MCS_E_CONFLICT,
                              "header-named backing file relabelled from %s", never[i]);
                ck_assert_msg(mcs_backing_check(&p, MCS_BACKING_XML, "f", never[i], &e) == -MCS_E_CONFLICT,
                              "XML-declared backing file relabelled from %s", never[i]);
        }
        ck_assert_fails(mcs_backing_check(&p, MCS_BACKING_XML, "f", IMG "s0:c7,c8", &e), &e, MCS_E_CONFLICT,
                        "another guest's private label");
        /* A label that cannot be read is no label. */
        ck_assert_fails(mcs_backing_check(&p, MCS_BACKING_HEADER, "f", NULL, &e), &e, MCS_E_IO,
                        "f: its label cannot be read");
        ck_assert_fails(mcs_backing_check(&p, MCS_BACKING_XML, "f", NULL, &e), &e, MCS_E_IO, "f: its label cannot be read");
}
END_TEST

/* Labelling a guest's images: a backing file carrying another guest's
 * private label keeps it, whoever names it; one with this guest's own
 * label (an old top after a snapshot) becomes read-only content; the
 * default image label becomes content only for a file <backingStore>
 * declares, not one a qcow2 header names. */
START_TEST(backing_file_of_another_guest_kept) {
        const char *content = "system_u:object_r:virt_content_t:s0", *dflt = "system_u:object_r:virt_image_t:s0";
        char *dir = test_tmpdir(), xml[8192], reported[8192] = "";
        mcs_context_checker *chk;
        mcs_image_types t;
        mcs_image_plan p;
        mcs_domain d;
        mcs_err e = {0};
        sh("cd \"$D\" && : >victim.img && : >mine.img && : >base.img && : >declared.img && : >top4.raw && "
           "qemu-img create -q -f qcow2 -u -b victim.img -F raw top.qcow2 1M && "
           "qemu-img create -q -f qcow2 -u -b mine.img -F raw top2.qcow2 1M && "
           "qemu-img create -q -f qcow2 -u -b base.img -F raw top3.qcow2 1M",
           dir);
        char path[4200];
        snprintf(path, sizeof path, "%s/victim.img", dir);
        ck_assert_int_eq(lsetfilecon_raw(path, IMG "s0:c7,c8"), 0);
        snprintf(path, sizeof path, "%s/mine.img", dir);
        ck_assert_int_eq(lsetfilecon_raw(path, IMG "s0:c1,c2"), 0);
        snprintf(path, sizeof path, "%s/base.img", dir);
        ck_assert_int_eq(lsetfilecon_raw(path, dflt), 0);
        snprintf(path, sizeof path, "%s/declared.img", dir);
        ck_assert_int_eq(lsetfilecon_raw(path, dflt), 0);
        snprintf(xml, sizeof xml,
                 "<domain type='kvm'><name>vm</name><uuid>" UUID_A "</uuid><devices>"
                 "<disk type='file'><driver type='qcow2'/><source file='%s/top.qcow2'/></disk>"
                 "<disk type='file'><driver type='qcow2'/><source file='%s/top2.qcow2'/></disk>"
                 "<disk type='file'><driver type='qcow2'/><source file='%s/top3.qcow2'/></disk>"
                 "<disk type='file'><driver type='qcow2'/><source file='%s/top4.raw'/>"
                 "<backingStore type='file'><format type='raw'/><source file='%s/declared.img'/><backingStore/>"
                 "</backingStore></disk>"
                 "</devices></domain>",
                 dir, dir, dir, dir, dir);
        const char *roots[] = {dir};
        ck_assert_ok(mcs_image_types_load(NULL, &t, &e), &e);
        ck_assert_ok(mcs_domain_parse(xml, &d, &e), &e);
        ck_assert_ok(mcs_image_plan_build(&d, &t, "s0:c1,c2", roots, 1, &p, &e), &e);
        ck_assert_uint_eq(p.n, 8);
        ck_assert_ok(mcs_context_checker_new(NULL, &chk, &e), &e);
        mcs_registry *h1 = test_open_registry("h1", "c0.c1023");
        int failed = mcs_guest_images_label(h1, chk, UUID_A, &p, roots, 1, collect, reported, &e);
        ck_assert_msg(failed == 2, "%d failed: %s", failed, reported);
        ck_assert_msg(strstr(reported, "victim.img carries " IMG "s0:c7,c8, another guest's private label"), "%s",
                      reported);
        ck_assert_msg(strstr(reported, "base.img carries system_u:object_r:virt_image_t:s0: a backing file named only "
                                       "by a qcow2 header"),
                      "%s", reported);
        expect_label(dir, "victim.img", IMG "s0:c7,c8");
        expect_label(dir, "mine.img", content);
        expect_label(dir, "base.img", dflt);
        expect_label(dir, "declared.img", content);
        expect_label(dir, "top.qcow2", IMG "s0:c1,c2");
        mcs_registry_close(h1);
        mcs_context_checker_free(chk);
        mcs_image_plan_clear(&p);
        mcs_domain_clear(&d);
        test_rmtree(dir);
        free(dir);
}
END_TEST

int main(void) {
        Suite *s = suite_create("relabel");
        TCase *tc = tcase_create("relabel");
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, plan_with_backing_chain);
        tcase_add_test(tc, plan_follows_declared_formats_only);
        tcase_add_test(tc, fifo_and_device_disks);
        tcase_add_test(tc, block_devices_never_read);
        tcase_add_test(tc, label_one_file);
        tcase_add_test(tc, contexts_checked_against_the_policy);
        tcase_add_test(tc, tree_relabel);
        tcase_add_test(tc, tree_relabel_races_a_symlink_swap);
        tcase_add_test(tc, tree_relabel_races_a_file_swap);
        tcase_add_test(tc, tree_relabel_opens_no_regular_file);
        tcase_add_test(tc, label_file_races_a_parent_swap);
        tcase_add_test(tc, open_beneath_a_root);
        tcase_add_test(tc, backing_label_allow_list);
        suite_add_tcase(s, tc);
        tc = tcase_create("restore");
        tcase_set_timeout(tc, 60);
        tcase_add_checked_fixture(tc, test_db_setup, test_db_teardown);
        tcase_add_test(tc, restore_refuses_tampered_originals);
        tcase_add_test(tc, backing_file_of_another_guest_kept);
        suite_add_tcase(s, tc);
        return test_run(s);
}
