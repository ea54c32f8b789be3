# dev_kvm_as MODE OWNER:GROUP, or dev_kvm_as none: replaces /dev, in the
# calling process's own mount namespace only (pidns.sh gives each test
# one), with a copy of it whose /dev/kvm is a node of that mode and owner,
# or has none. The machine's /dev is not changed. It lets a test meet the
# /dev/kvm that a machine may have been left with (0600 root:root where
# udev never ran, 0660 root:kvm as udev leaves it, none) on any machine.
dev_kvm_as() {
	local mode=$1 owner=${2:-} new=/mnt
	# Built on /mnt, then moved onto /dev: in this namespace only, and
	# nothing is left behind on the machine.
	mount -t tmpfs -o mode=755 test-dev "$new"
	cp -ax /dev/. "$new/"
	rm -f "$new/kvm"
	if [ "$mode" != none ]; then
		mknod "$new/kvm" c 10 232
		chown "$owner" "$new/kvm"
		chmod "$mode" "$new/kvm"
	fi
	mkdir -p "$new/pts" "$new/shm"
	mount -t devpts -o newinstance,ptmxmode=0666,mode=620,gid=5 devpts "$new/pts"
	ln -sf pts/ptmx "$new/ptmx"
	mount -t tmpfs -o mode=1777 shm "$new/shm"
	umount -R -l /dev
	mount --move "$new" /dev
}
