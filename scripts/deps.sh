# Sourced by scripts/demo and scripts/test: installs the Debian 12 packages
# that mcsd needs to build and test, if any is missing.
MCS_PACKAGES=(
  meson ninja-build pkg-config gcc clang libclang-rt-14-dev valgrind
  libselinux1-dev libsepol-dev libsemanage-dev libsqlite3-dev check
  libsystemd-dev libxml2-dev libjson-c-dev libvirt-dev
  # the etcd registry backend (libcurl), and the etcd its suite starts; openssl makes its TLS certificates
  libcurl4-openssl-dev etcd-server openssl
  # the nfs:// registry backend, and the NFS server its test runs (with rpcbind)
  libnfs-dev nfs-ganesha nfs-ganesha-vfs rpcbind
  # the man pages, made from docs/, and the ship suite that renders them
  go-md2man man-db
  # the cli suite: JSON on the command line, and the registry tampered with by hand
  jq sqlite3
  # the metrics and alert tests: promtool, and node_exporter's textfile collector
  prometheus prometheus-node-exporter
  # the installed policy (its store is copied by the relabel and ship suites), and
  # the Makefile that builds policy/ (tests/ship)
  selinux-policy-default selinux-policy-dev
  # a real libvirtd and QEMU for the libvirt suite and the demo
  libvirt-daemon libvirt-daemon-system libvirt-daemon-driver-qemu libvirt-clients
  qemu-system-x86 qemu-utils systemd
  # the ship suite's packages: dpkg-buildpackage, lintian, rpmbuild; the
  # policy module for the RPM's mcsd-selinux
  dpkg-dev debhelper lintian fakeroot rpm selinux-policy-dev
)

mcs_install_deps() {
  local missing=()
  local p
  for p in "${MCS_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing packages: ${missing[*]}; run as root or install them with apt-get" >&2
    return 1
  fi
  echo "installing: ${missing[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}
