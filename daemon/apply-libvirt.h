/* The apply_port of a real libvirt connection. */
#pragma once

#include <libvirt/libvirt.h>

#include "apply.h"

/* The port over conn (which must outlive its use). */
apply_port apply_libvirt_port(virConnectPtr conn);
/* A guest of that connection as the port knows it (the same object). */
apply_dom *apply_libvirt_dom(virDomainPtr dom);
