#!/bin/bash
# Images and files end to end, with real xattrs: `mcsctl relabel GUEST`
# (private, shared, read-only and backing images; originals kept in the
# registry and restored by another host's release), relabel='no' guests,
# image roots, a read-only filesystem, `relabel --tree`, and `nfs-export`
# through libsemanage on a copy of the policy store.
: "${MCSCTL:?}" "${FILECON:?}"
. "$(dirname "$0")/../libvirt/lib.sh"

SOCK=$WORK/run/mcsd.sock
REG=$WORK/registry.db
chmod 755 "$WORK" # uid 65534 reaches the socket through it
M() { "$MCSCTL" --socket "$SOCK" "$@"; }
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$MCSCTL" --socket "$SOCK" "$@"; }

libvirtd_start h1
URI=$(test_uri h1)
cat >"$WORK/h1.conf" <<CONF
uri = $URI
registry = $REG
registry_create = yes
host_id = h1
socket = $SOCK
socket_mode = 0666
hook_socket = $WORK/run/hook.sock
undefine_grace = 60m
image_root = $WORK/images
semanage_root = $WORK/selinux-root
CONF
# A second host on the same registry that never reaches libvirt.
cat >"$WORK/h2.conf" <<CONF
uri = test+unix:///default?socket=$WORK/nowhere.sock
registry = $REG
registry_create = yes
host_id = h2
socket = $WORK/run/h2.sock
hook_socket = $WORK/run/h2-hook.sock
image_root = $WORK/images
shared_root = $WORK/images
reconnect_min = 30s
reconnect_max = 30s
CONF
mcsd_start h1 "$WORK/h1.conf"
mkdir -p "$WORK/images"
img=$WORK/images/target.raw
: >"$img"
"$FILECON" "$img" system_u:object_r:svirt_image_t:s0:c1,c2

# ---- relabel --tree ----
mkdir -p "$WORK/content/a/b"
for f in one a/two a/b/three; do : >"$WORK/content/$f"; done
ln -s "$img" "$WORK/content/a/link"
img_before=$("$FILECON" "$img")
expect_rc 0 M relabel --tree "$WORK/content" --label system_u:object_r:virt_content_t:s0
contains "$OUT" "labelled 6 files and directories; left 1 links and special files alone"
expect_eq "a file deep in the tree" "$("$FILECON" "$WORK/content/a/b/three")" system_u:object_r:virt_content_t:s0
expect_eq "the file behind a link (outside the tree)" "$("$FILECON" "$img")" "$img_before"
expect_rc 1 M relabel --tree "$WORK/content" --label system_u:object_r:no_such_t:s0
contains "$ERR" "'system_u:object_r:no_such_t:s0' is not a valid context"
expect_eq "after a refused context" "$("$FILECON" "$WORK/content/one")" system_u:object_r:virt_content_t:s0
expect_rc 1 M relabel --tree content --label system_u:object_r:virt_content_t:s0
contains "$ERR" "is not an absolute path"
expect_rc 2 M relabel --tree "$WORK/content"
contains "$ERR" "--tree needs --label"
expect_rc 4 nobody relabel --tree "$WORK/content" --label system_u:object_r:virt_content_t:s0
ok "relabel --tree labels a tree (links not followed); an invalid context is refused before any file changes"

# ---- a big tree is labelled on a job: the main loop answers meanwhile ----
mkdir -p "$WORK/big"
for i in $(seq 1 200); do mkdir "$WORK/big/d$i" && (cd "$WORK/big/d$i" && touch f{1..1000}); done
started() { grep -c "relabelling the tree $WORK/big with" "$WORK/h1.log" || true; }
finished() { grep -c "tree $WORK/big: 200201 labelled" "$WORK/h1.log" || true; }
s0=$(started) f0=$(finished)
M relabel --tree "$WORK/big" --label system_u:object_r:virt_content_t:s0 >"$WORK/big.out" 2>&1 &
big=$!
wait_for 30 log_count_above "$WORK/h1.log" "relabelling the tree $WORK/big with" "$s0" || fail "the big relabel did not start"
expect_rc 0 M status
[ "$(finished)" -eq "$f0" ] || fail "status was answered only after the tree was done"
wait $big || fail "relabel --tree of the big tree: $(cat "$WORK/big.out")"
contains "$(cat "$WORK/big.out")" "labelled 200201 files and directories"
# A client that goes away while its job runs: the job ends, mcsd goes on.
s0=$(started) f0=$(finished)
M relabel --tree "$WORK/big" --label system_u:object_r:svirt_image_t:s0 >/dev/null 2>&1 &
big=$!
wait_for 30 log_count_above "$WORK/h1.log" "relabelling the tree $WORK/big with" "$s0" || fail "the second big relabel did not start"
kill "$big"
wait "$big" || true
expect_rc 0 M status
wait_for 60 log_count_above "$WORK/h1.log" "tree $WORK/big: 200201 labelled" "$f0" || fail "the orphaned job did not finish"
expect_rc 0 M status
expect_eq "a file of the big tree" "$("$FILECON" "$WORK/big/d200/f1000")" system_u:object_r:svirt_image_t:s0
rm -rf "$WORK/big"
ok "relabel --tree of 200,000 files runs on a job: status is answered before it ends; a client gone meanwhile harms nothing"

# ---- a guest's images: labelled, originals kept in the registry, restored by another host ----
mkdir -p "$WORK/images/ro"
qemu-img create -q -f qcow2 "$WORK/images/base.qcow2" 1M
qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 "$WORK/images/imgvm.qcow2"
: >"$WORK/images/shared.raw"
: >"$WORK/images/cd.iso"
"$FILECON" "$WORK/images/imgvm.qcow2" system_u:object_r:virt_image_t:s0
disks="<devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='$WORK/images/imgvm.qcow2'/><target dev='vda'/></disk>"
disks+="<disk type='file' device='disk'><source file='$WORK/images/shared.raw'/><target dev='vdb'/><shareable/></disk>"
disks+="<disk type='file' device='cdrom'><source file='$WORK/images/cd.iso'/><target dev='hdc'/><readonly/></disk></devices>"
define "$URI" imgvm "$disks"
wait_for 10 has_static_label "$URI" imgvm || fail "imgvm not labelled"
imgvm=$(uuid_of "$URI" imgvm)
level=$(registry_field "$REG" "$imgvm" 3)
expect_rc 0 M relabel imgvm
contains "$OUT" "$WORK/images/imgvm.qcow2: set system_u:object_r:svirt_image_t:$level (was system_u:object_r:virt_image_t:s0)"
expect_eq "private image" "$("$FILECON" "$WORK/images/imgvm.qcow2")" "system_u:object_r:svirt_image_t:$level"
expect_eq "its backing file" "$("$FILECON" "$WORK/images/base.qcow2")" system_u:object_r:virt_content_t:s0
expect_eq "shareable disk" "$("$FILECON" "$WORK/images/shared.raw")" system_u:object_r:svirt_image_t:s0
expect_eq "read-only disk" "$("$FILECON" "$WORK/images/cd.iso")" system_u:object_r:virt_content_t:s0
expect_eq "originals in the registry" "$(registry_sql "$REG" "SELECT path || ' ' || context FROM originals WHERE uuid = '$imgvm'")" \
	"$WORK/images/imgvm.qcow2 system_u:object_r:virt_image_t:s0"
expect_rc 0 M relabel imgvm
contains "$OUT" "$WORK/images/imgvm.qcow2: unchanged"
# Another host releases the reservation and restores the private image only.
virsh -q -c "$URI" undefine imgvm >/dev/null
mcsd_start h2 "$WORK/h2.conf"
expect_rc 0 "$MCSCTL" -s "$WORK/run/h2.sock" release "$imgvm"
mcsd_stop h2
grep -q "restored $WORK/images/imgvm.qcow2 to system_u:object_r:virt_image_t:s0" "$WORK/h2.log" || fail "h2 did not log the restore"
expect_eq "private image after release" "$("$FILECON" "$WORK/images/imgvm.qcow2")" system_u:object_r:virt_image_t:s0
expect_eq "shared content after release" "$("$FILECON" "$WORK/images/base.qcow2")" system_u:object_r:virt_content_t:s0
expect_eq "originals after release" "$(registry_sql "$REG" "SELECT count(*) FROM originals WHERE uuid = '$imgvm'")" 0
ok "relabel GUEST labels private, shared, read-only and backing images; another host's release restores the private one"

# relabel='no': libvirt leaves images alone, so mcsd labels them when the guest is defined.
: >"$WORK/images/norelabel.raw"
define "$URI" vmno "<devices><disk type='file' device='disk'><source file='$WORK/images/norelabel.raw'/><target dev='vda'/></disk></devices><seclabel type='static' model='selinux' relabel='no'><label>system_u:system_r:svirt_t:s0:c40,c41</label></seclabel>"
image_is() { [ "$("$FILECON" "$1" 2>/dev/null)" = "$2" ]; }
wait_for 10 image_is "$WORK/images/norelabel.raw" system_u:object_r:svirt_image_t:s0:c40,c41 ||
	fail "the relabel='no' guest's image was not labelled: $("$FILECON" "$WORK/images/norelabel.raw" 2>&1)"
virsh -q -c "$URI" undefine vmno >/dev/null
ok "a relabel='no' guest's images are labelled by mcsd when it is defined"

# Outside the image roots: refused. A read-only filesystem: reported, not fatal.
: >"$WORK/outside.raw"
define "$URI" imgout "<devices><disk type='file' device='disk'><source file='$WORK/outside.raw'/><target dev='vda'/></disk></devices>"
wait_for 10 has_static_label "$URI" imgout || fail "imgout not labelled"
expect_rc 1 M relabel imgout
contains "$OUT" "FAILED: $WORK/outside.raw is outside the configured image roots; not labelled"
: >"$WORK/images/ro/disk.raw"
define "$URI" imgro "<devices><disk type='file' device='disk'><source file='$WORK/images/ro/disk.raw'/><target dev='vda'/></disk></devices>"
wait_for 10 has_static_label "$URI" imgro || fail "imgro not labelled"
mount --bind "$WORK/images/ro" "$WORK/images/ro"
mount -o remount,bind,ro "$WORK/images/ro"
rc=0
M relabel imgro >"$WORK/out" 2>&1 || rc=$?
umount "$WORK/images/ro"
[ $rc -eq 0 ] || fail "relabel on a read-only filesystem: exit $rc: $(cat "$WORK/out")"
contains "$(cat "$WORK/out")" "this filesystem keeps no per-file labels (NFS without labeled NFSv4.2?); isolation rests on the process label"
virsh -q -c "$URI" undefine imgout >/dev/null
virsh -q -c "$URI" undefine imgro >/dev/null
ok "relabel refuses images outside image_root; a read-only filesystem gives the documented note"

# ---- a guest's disk content decides nothing ----
# A qcow2 header naming another guest's private image, written into a disk
# the XML declares raw (or names no format for): the header is not read.
: >"$WORK/images/victim.img"
"$FILECON" "$WORK/images/victim.img" system_u:object_r:svirt_image_t:s0:c7,c8
qemu-img create -q -f qcow2 -u -b victim.img -F qcow2 "$WORK/images/attacker.img" 1M
define "$URI" attacker "<devices><disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='$WORK/images/attacker.img'/><target dev='vda'/></disk><disk type='file' device='disk'><source file='$WORK/images/attacker.img'/><target dev='vdb'/></disk></devices>"
wait_for 10 has_static_label "$URI" attacker || fail "attacker not labelled"
expect_rc 0 timeout 20 "$MCSCTL" --socket "$SOCK" relabel attacker
contains "$OUT" "$WORK/images/attacker.img: set"
grep -q victim <<<"$OUT" && fail "relabel followed the forged header: $OUT"
expect_eq "the victim's image" "$("$FILECON" "$WORK/images/victim.img")" system_u:object_r:svirt_image_t:s0:c7,c8
virsh -q -c "$URI" undefine attacker >/dev/null
# Declared qcow2, its header rewritten by its guest to name the victim: the
# victim carries another guest's private label and keeps it.
qemu-img create -q -f qcow2 -u -b victim.img -F raw "$WORK/images/attacker2.qcow2" 1M
define "$URI" attacker2 "<devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='$WORK/images/attacker2.qcow2'/><target dev='vda'/></disk></devices>"
wait_for 10 has_static_label "$URI" attacker2 || fail "attacker2 not labelled"
expect_rc 1 timeout 20 "$MCSCTL" --socket "$SOCK" relabel attacker2
contains "$OUT" "FAILED: $WORK/images/victim.img carries system_u:object_r:svirt_image_t:s0:c7,c8, another guest's private label"
expect_eq "the victim's image" "$("$FILECON" "$WORK/images/victim.img")" system_u:object_r:svirt_image_t:s0:c7,c8
virsh -q -c "$URI" undefine attacker2 >/dev/null
# A stopped guest's image, restored to the default image label, named by a
# header only: it is not made readable by every guest.
: >"$WORK/images/stopped.img"
"$FILECON" "$WORK/images/stopped.img" system_u:object_r:virt_image_t:s0
qemu-img create -q -f qcow2 -u -b stopped.img -F raw "$WORK/images/attacker3.qcow2" 1M
define "$URI" attacker3 "<devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='$WORK/images/attacker3.qcow2'/><target dev='vda'/></disk></devices>"
wait_for 10 has_static_label "$URI" attacker3 || fail "attacker3 not labelled"
expect_rc 1 timeout 20 "$MCSCTL" --socket "$SOCK" relabel attacker3
contains "$OUT" "FAILED: $WORK/images/stopped.img carries system_u:object_r:virt_image_t:s0: a backing file named only by a qcow2 header"
expect_eq "the stopped guest's image" "$("$FILECON" "$WORK/images/stopped.img")" system_u:object_r:virt_image_t:s0
virsh -q -c "$URI" undefine attacker3 >/dev/null
ok "a qcow2 header forged into a raw or undeclared disk is not followed; a qcow2 one naming another guest's private image, or an image at the default label, leaves it alone"

# A FIFO and a device node as disks: refused without being opened; mcsd
# answers meanwhile and after.
mkfifo "$WORK/images/fifo.img"
mknod "$WORK/images/null.img" c 1 3
define "$URI" fifovm "<devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='$WORK/images/fifo.img'/><target dev='vda'/></disk><disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='$WORK/images/null.img'/><target dev='vdb'/></disk></devices>"
wait_for 10 has_static_label "$URI" fifovm || fail "fifovm not labelled"
# A writer waits on the FIFO: its open returns only if a reader opens it.
(exec 3>"$WORK/images/fifo.img" && echo opened >"$WORK/fifo.opened") &
writer=$!
expect_rc 1 timeout 20 "$MCSCTL" --socket "$SOCK" relabel fifovm
sleep 0.2
[ -e "$WORK/fifo.opened" ] && fail "mcsd opened the FIFO"
kill "$writer" 2>/dev/null || true
wait "$writer" 2>/dev/null || true
contains "$OUT" "FAILED: $WORK/images/fifo.img is a FIFO, not a regular file; not touched"
contains "$OUT" "FAILED: $WORK/images/null.img is a character device, not a regular file; not touched"
expect_rc 0 timeout 10 "$MCSCTL" --socket "$SOCK" status
virsh -q -c "$URI" undefine fifovm >/dev/null
rm -f "$WORK/images/fifo.img" "$WORK/images/null.img"
ok "a FIFO or device node as a disk is refused, not opened; mcsd keeps answering"

# ---- restores check what the registry says ----
tam=22222222-3333-4444-5555-666666666666
expect_rc 0 M reserve "$tam" --label s0:c9,c10 --name tampered
: >"$WORK/images/tam-good.raw"
: >"$WORK/images/tam-moved.raw"
: >"$WORK/tam-outside.raw"
for f in "$WORK/images/tam-good.raw" "$WORK/tam-outside.raw"; do "$FILECON" "$f" system_u:object_r:svirt_image_t:s0:c9,c10; done
"$FILECON" "$WORK/images/tam-moved.raw" system_u:object_r:svirt_image_t:s0:c11,c12
now=$(date +%s)000000
registry_sql "$REG" "INSERT INTO originals (path, uuid, context, host, saved_us) VALUES
	('$WORK/images/tam-good.raw', '$tam', 'system_u:object_r:virt_image_t:s0', 'h1', $now),
	('$WORK/images/tam-moved.raw', '$tam', 'system_u:object_r:virt_image_t:s0', 'h1', $now),
	('$WORK/tam-outside.raw', '$tam', 'system_u:object_r:virt_image_t:s0', 'h1', $now)"
expect_rc 0 M release "$tam"
wait_for 10 grep -q "restored $WORK/images/tam-good.raw to system_u:object_r:virt_image_t:s0" "$WORK/h1.log" ||
	fail "the untampered original was not restored"
expect_eq "an original inside image_root over the guest's label" "$("$FILECON" "$WORK/images/tam-good.raw")" system_u:object_r:virt_image_t:s0
expect_eq "an original outside image_root" "$("$FILECON" "$WORK/tam-outside.raw")" system_u:object_r:svirt_image_t:s0:c9,c10
expect_eq "a file relabelled since" "$("$FILECON" "$WORK/images/tam-moved.raw")" system_u:object_r:svirt_image_t:s0:c11,c12
grep -q "$WORK/tam-outside.raw: not restored, record dropped: $WORK/tam-outside.raw is outside the configured image roots" "$WORK/h1.log" ||
	fail "the refused restore outside image_root was not logged"
grep -q "$WORK/images/tam-moved.raw: not restored, record dropped: it carries system_u:object_r:svirt_image_t:s0:c11,c12, not the guest's system_u:object_r:svirt_image_t:s0:c9,c10" "$WORK/h1.log" ||
	fail "the refused restore of a relabelled file was not logged"
expect_eq "originals after the release" "$(registry_sql "$REG" "SELECT count(*) FROM originals WHERE uuid = '$tam'")" 0
ok "a release restores only inside image_root and over the guest's own label; refusals are logged and the records dropped"

# ---- nfs-export through libsemanage, on a copy of the policy store ----
mkdir -p "$WORK/selinux-root/var/lib" "$WORK/selinux-root/etc" "$WORK/exports/nfs"
cp -a /var/lib/selinux "$WORK/selinux-root/var/lib/"
cp -a /etc/selinux "$WORK/selinux-root/etc/"
system_before=$(find /var/lib/selinux /etc/selinux -type f -newer "$WORK/h1.conf" | wc -l)
local_fc=$WORK/selinux-root/etc/selinux/default/contexts/files/file_contexts.local
expect_rc 0 M nfs-export "$WORK/exports/nfs"
contains "$OUT" "added: ${WORK//./\\.}/exports/nfs(/.*)? -> system_u:object_r:virt_var_lib_t:s0"
contains "$OUT" "$WORK/exports/nfs labelled system_u:object_r:virt_var_lib_t:s0"
grep -qF "${WORK//./\\.}/exports/nfs(/.*)?    system_u:object_r:virt_var_lib_t:s0" "$local_fc" || fail "file_contexts.local: $(cat "$local_fc")"
expect_eq "the export root" "$("$FILECON" "$WORK/exports/nfs")" system_u:object_r:virt_var_lib_t:s0
expect_rc 0 M nfs-export "$WORK/exports/nfs/"
contains "$OUT" "unchanged:"
[ "$(grep -c 'exports/nfs' "$local_fc")" -eq 1 ] || fail "the rule was added twice"
expect_rc 1 M nfs-export "$WORK/exports/other" --type no_such_t
contains "$ERR" "libsemanage refused"
contains "$ERR" "no_such_t"
grep -q 'exports/other' "$local_fc" && fail "a refused rule reached file_contexts.local"
expect_rc 1 M nfs-export "$WORK/exports/nfs" --type 'bad type'
contains "$ERR" "is not an SELinux type name"
expect_rc 0 M nfs-export --remove "$WORK/exports/nfs"
contains "$OUT" "removed:"
grep -q 'exports/nfs' "$local_fc" && fail "--remove left the rule"
expect_rc 0 M nfs-export --remove "$WORK/exports/nfs"
contains "$OUT" "absent:"
expect_rc 4 nobody nfs-export "$WORK/exports/nfs"
[ "$(find /var/lib/selinux /etc/selinux -type f -newer "$WORK/h1.conf" | wc -l)" -eq "$system_before" ] ||
	fail "the system's policy store changed"
ok "nfs-export adds the rule idempotently, labels the export root, refuses unknown types, --remove takes it away; the system store is untouched"

