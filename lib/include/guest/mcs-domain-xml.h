/* What mcsd reads from and writes into libvirt domain XML: identity, virt
 * type and the SELinux <seclabel>. Parsed with libxml2; no network access,
 * no entity expansion. */
#pragma once

#include <stdbool.h>

#include "mcs-error.h"
#include "mcs-registry.h"

#define MCS_DOMAIN_XML_MAX (16u << 20) /* libvirt's own limit for domain XML */

typedef enum mcs_seclabel_mode {
        MCS_SECLABEL_ABSENT,  /* no SELinux seclabel: libvirt's default, dynamic */
        MCS_SECLABEL_NONE,    /* type='none' (any model but dac), or model='none': confinement turned off */
        MCS_SECLABEL_DYNAMIC, /* type='dynamic', maybe with a <baselabel> */
        MCS_SECLABEL_STATIC,  /* type='static' */
} mcs_seclabel_mode;

/* One <backingStore> below a disk, as libvirt lists it (index 1 first). */
typedef struct mcs_backing {
        char *path;      /* <source file=...> or <source dev=...> */
        bool block;      /* type='block' */
} mcs_backing;

/* A <disk> with a local source: file or block device. */
typedef struct mcs_disk {
        char *path;      /* <source file=...> or <source dev=...> */
        bool block;      /* type='block' */
        char *format;    /* <driver type=...>: "raw", "qcow2", ...; NULL when the XML names none */
        bool has_chain;  /* the XML carries a <backingStore> (an empty one: no backing file) */
        mcs_backing *chain; /* its local files, top down, up to the first that is not local */
        size_t n_chain;
        bool readonly;   /* <readonly/> */
        bool shareable;  /* <shareable/> */
        bool norelabel;  /* <source><seclabel model='selinux' relabel='no'/> */
        int line;        /* of the <disk>, for messages */
} mcs_disk;

typedef struct mcs_domain {
        char uuid[MCS_UUID_STRLEN + 1]; /* canonical, lower case */
        char *name;
        char *virt_type;  /* <domain type=...>: "kvm", "qemu", "test", ... */
        mcs_seclabel_mode mode;
        bool relabel;     /* relabel='yes' (libvirt's default for dynamic) */
        char *label;      /* <label>, NULL if absent (a dynamic guest that is not running) */
        char *baselabel;  /* <baselabel>, NULL if absent */
        mcs_disk *disks;  /* file and block disks with a source; network disks and empty drives are skipped */
        size_t n_disks;
        struct _xmlDoc *doc; /* the parsed document, kept by mcs_domain_parse_kept for one edit; else NULL */
} mcs_domain;

/* The top-level <seclabel> elements that count for SELinux are those with
 * model='selinux' and those without a model (libvirt gives those to the
 * first security driver, which is SELinux on an SELinux host), and
 * model='none' (libvirt's spelling of <seclabel type='none'/>): a guest
 * with type='none' or model='none' is MCS_SECLABEL_NONE. A model='dac'
 * seclabel, whatever its type, is left out: the guest is judged by its
 * SELinux seclabel alone (absent: libvirt's default, dynamic). */
int mcs_domain_parse(const char *xml, mcs_domain *out, mcs_err *e);
/* The same, keeping the parsed document in out->doc (freed by
 * mcs_domain_clear) so that mcs_domain_edit_static_label changes it
 * without parsing the XML again. */
int mcs_domain_parse_kept(const char *xml, mcs_domain *out, mcs_err *e);
/* Sets up libxml2 once, before a program parses domain XML on several
 * threads (libxml2 sets itself up on first use, which two threads must not
 * race to do). */
void mcs_domain_xml_init(void);
void mcs_domain_clear(mcs_domain *d);

/* xml with its SELinux <seclabel> replaced by (or, when it has none,
 * extended with) <seclabel type='static' model='selinux' relabel='yes'>
 * carrying context; everything else is kept. *out is malloc'ed. */
int mcs_domain_set_static_label(const char *xml, const char *context, char **out, mcs_err *e);
/* The same for d, parsed from xml: edits d->doc when mcs_domain_parse_kept
 * kept it (the document is used up: d->doc is NULL after), else parses xml. */
int mcs_domain_edit_static_label(mcs_domain *d, const char *xml, const char *context, char **out, mcs_err *e);

const char *mcs_seclabel_mode_name(mcs_seclabel_mode m);
