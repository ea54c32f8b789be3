#include "mcs-domain-xml.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcs-macro.h"

static const char *const mode_names[] = {"absent", "none", "dynamic", "static"};

const char *mcs_seclabel_mode_name(mcs_seclabel_mode m) {
        return (unsigned) m < MCS_ARRAY_SIZE(mode_names) ? mode_names[m] : "?";
}

static void doc_freep(xmlDocPtr *d) {
        if (*d)
                xmlFreeDoc(*d);
}
#define _cleanup_doc_ _cleanup_(doc_freep)

static void xml_freep(xmlChar **p) {
        if (*p)
                xmlFree(*p);
}
#define _cleanup_xml_ _cleanup_(xml_freep)

static bool is_elem(xmlNodePtr n, const char *name) {
        return n->type == XML_ELEMENT_NODE && !strcmp((const char *) n->name, name);
}

static xmlNodePtr child(xmlNodePtr parent, const char *name) {
        for (xmlNodePtr n = parent->children; n; n = n->next)
                if (is_elem(n, name))
                        return n;
        return NULL;
}

/* Parses without network, DTD loading or entity substitution; libxml2's
 * errors go into e with their line instead of to stderr. */
static int parse_doc(const char *xml, xmlDocPtr *out, mcs_err *e) {
        if (!xml)
                return mcs_fail(e, MCS_E_INVALID, "domain XML: none given");
        size_t len = strlen(xml);
        if (len > MCS_DOMAIN_XML_MAX)
                return mcs_fail(e, MCS_E_INVALID, "domain XML: %zu bytes, more than the 16 MiB libvirt allows", len);
        xmlParserCtxtPtr ctxt = xmlNewParserCtxt();
        if (!ctxt)
                return mcs_fail(e, MCS_E_NOMEM, "out of memory");
        xmlDocPtr doc = xmlCtxtReadMemory(ctxt, xml, (int) len, "domain.xml", NULL,
                                          XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
        if (!doc) {
                const xmlError *err = xmlCtxtGetLastError(ctxt);
                int r = mcs_fail(e, MCS_E_INVALID, "domain XML line %d: %s", err ? err->line : 0,
                                 err && err->message ? err->message : "not well-formed\n");
                /* libxml2's messages end in a newline. */
                if (e) {
                        size_t n = strlen(e->msg);
                        if (n && e->msg[n - 1] == '\n')
                                e->msg[n - 1] = '\0';
                }
                xmlFreeParserCtxt(ctxt);
                return r;
        }
        xmlFreeParserCtxt(ctxt);
        if (doc->intSubset || doc->extSubset) {
                xmlFreeDoc(doc);
                return mcs_fail(e, MCS_E_INVALID, "domain XML: a DOCTYPE is not allowed");
        }
        xmlNodePtr root = xmlDocGetRootElement(doc);
        if (!root || !is_elem(root, "domain")) {
                int line = root ? root->line : 1;
                xmlFreeDoc(doc);
                return mcs_fail(e, MCS_E_INVALID, "domain XML line %d: the root element is not <domain>", line);
        }
        *out = doc;
        return 0;
}

static bool selinux_seclabel(xmlNodePtr n) {
        if (!is_elem(n, "seclabel"))
                return false;
        _cleanup_xml_ xmlChar *model = xmlGetProp(n, (const xmlChar *) "model");
        return !model || !strcmp((const char *) model, "selinux");
}

/* libvirt stores <seclabel type='none'/> as type='none' model='none': no
 * security driver labels the guest, SELinux included. A model='dac'
 * seclabel, of any type, concerns DAC alone. */
static bool top_seclabel(xmlNodePtr n) {
        if (selinux_seclabel(n))
                return true;
        if (!is_elem(n, "seclabel"))
                return false;
        _cleanup_xml_ xmlChar *model = xmlGetProp(n, (const xmlChar *) "model");
        return !strcmp((const char *) model, "none");
}

/* The one top-level seclabel that says how SELinux labels the guest, or
 * NULL; two of them are an error. */
static int find_seclabel(xmlNodePtr root, xmlNodePtr *out, mcs_err *e) {
        *out = NULL;
        for (xmlNodePtr n = root->children; n; n = n->next) {
                if (!top_seclabel(n))
                        continue;
                if (*out)
                        return mcs_fail(e, MCS_E_INVALID, "domain XML line %d: a second SELinux <seclabel> (the first is on line %d)",
                                        n->line, (*out)->line);
                *out = n;
        }
        return 0;
}

static int text_of(xmlNodePtr parent, const char *name, char **out, mcs_err *e) {
        xmlNodePtr n = child(parent, name);
        *out = NULL;
        if (!n)
                return 0;
        _cleanup_xml_ xmlChar *t = xmlNodeGetContent(n);
        if (!t || !*t)
                return mcs_fail(e, MCS_E_INVALID, "domain XML line %d: <%s> is empty", n->line, name);
        *out = strdup((const char *) t);
        return *out ? 0 : mcs_fail(e, MCS_E_NOMEM, "out of memory");
}

static int parse_seclabel(xmlNodePtr sl, mcs_domain *d, mcs_err *e) {
        _cleanup_xml_ xmlChar *type = xmlGetProp(sl, (const xmlChar *) "type");
        _cleanup_xml_ xmlChar *relabel = xmlGetProp(sl, (const xmlChar *) "relabel");
        _cleanup_xml_ xmlChar *model = xmlGetProp(sl, (const xmlChar *) "model");
        const char *t = type ? (const char *) type : "dynamic"; /* libvirt's default */
        char q[MCS_QUOTE_MAX];

        if (!strcmp(t, "none") || (model && !strcmp((const char *) model, "none")))
                d->mode = MCS_SECLABEL_NONE;
        else if (!strcmp(t, "dynamic"))
                d->mode = MCS_SECLABEL_DYNAMIC;
        else if (!strcmp(t, "static"))
                d->mode = MCS_SECLABEL_STATIC;
        else
                return mcs_fail(e, MCS_E_INVALID, "domain XML line %d: <seclabel type='%s'> is not none, dynamic or static",
                                sl->line, mcs_quote(t, q, sizeof q));
        /* libvirt: relabel defaults to yes for dynamic labels, no for static. */
        if (!relabel)
                d->relabel = d->mode == MCS_SECLABEL_DYNAMIC;
        else if (!strcmp((const char *) relabel, "yes"))
                d->relabel = true;
        else if (!strcmp((const char *) relabel, "no"))
                d->relabel = false;
        else
                return mcs_fail(e, MCS_E_INVALID, "domain XML line %d: relabel='%s' is not yes or no", sl->line,
                                mcs_quote((const char *) relabel, q, sizeof q));
        int r;
        if ((r = text_of(sl, "label", &d->label, e)) < 0 || (r = text_of(sl, "baselabel", &d->baselabel, e)) < 0)
                return r;
        if (d->mode == MCS_SECLABEL_STATIC && !d->label)
                return mcs_fail(e, MCS_E_INVALID, "domain XML line %d: a static <seclabel> without <label>", sl->line);
        return 0;
}

static bool source_says_no_relabel(xmlNodePtr source) {
        for (xmlNodePtr n = source ? source->children : NULL; n; n = n->next) {
                if (!selinux_seclabel(n))
                        continue;
                _cleanup_xml_ xmlChar *relabel = xmlGetProp(n, (const xmlChar *) "relabel");
                if (relabel && !strcmp((const char *) relabel, "no"))
                        return true;
        }
        return false;
}

/* A disk's or backing store's local source: *path NULL for a network,
 * volume or dir source, or none. */
static int local_source(xmlNodePtr n, const char *what, xmlChar **path, bool *block, mcs_err *e) {
        _cleanup_xml_ xmlChar *type = xmlGetProp(n, (const xmlChar *) "type");
        *path = NULL;
        *block = type && !strcmp((const char *) type, "block");
        if (!type || (!*block && strcmp((const char *) type, "file")))
                return 0;
        xmlNodePtr source = child(n, "source");
        if (!source || !(*path = xmlGetProp(source, (const xmlChar *) (*block ? "dev" : "file"))))
                return 0;
        if ((*path)[0] != '/') {
                char q[MCS_QUOTE_MAX];
                int r = mcs_fail(e, MCS_E_INVALID, "domain XML line %d: %s source '%s' is not an absolute path", n->line,
                                 what, mcs_quote((const char *) *path, q, sizeof q));
                xmlFree(*path);
                *path = NULL;
                return r;
        }
        return 0;
}

/* libvirt's <backingStore> chain below a disk (the live XML carries it,
 * an inactive one may): what mcsd labels as backing files instead of
 * reading image headers. It ends at an empty <backingStore/> or at the
 * first store that is not a local file or block device. */
static int parse_chain(xmlNodePtr disk, mcs_disk *k, mcs_err *e) {
        xmlNodePtr n = child(disk, "backingStore");
        k->has_chain = n != NULL;
        for (; n; n = child(n, "backingStore")) {
                _cleanup_xml_ xmlChar *path = NULL;
                bool block;
                int r = local_source(n, "backingStore", &path, &block, e);
                if (r < 0)
                        return r;
                if (!path)
                        return 0;
                mcs_backing *v = realloc(k->chain, (k->n_chain + 1) * sizeof *v);
                if (!v)
                        return mcs_fail(e, MCS_E_NOMEM, "out of memory");
                k->chain = v;
                v[k->n_chain] = (mcs_backing){.block = block, .path = strdup((const char *) path)};
                if (!v[k->n_chain].path)
                        return mcs_fail(e, MCS_E_NOMEM, "out of memory");
                k->n_chain++;
        }
        return 0;
}

static void disk_clear(mcs_disk *k) {
        free(k->path);
        free(k->format);
        for (size_t i = 0; i < k->n_chain; i++)
                free(k->chain[i].path);
        free(k->chain);
}

static int parse_disk(xmlNodePtr disk, mcs_domain *d, mcs_err *e) {
        _cleanup_xml_ xmlChar *path = NULL;
        bool block;
        int r = local_source(disk, "disk", &path, &block, e);
        if (r < 0 || !path)
                return r; /* network, volume, dir, an empty CD-ROM drive: no local file to label */
        xmlNodePtr source = child(disk, "source"), driver = child(disk, "driver");
        mcs_disk k = {.block = block, .readonly = child(disk, "readonly") != NULL,
                      .shareable = child(disk, "shareable") != NULL, .norelabel = source_says_no_relabel(source),
                      .line = disk->line, .path = strdup((const char *) path)};
        _cleanup_xml_ xmlChar *format = driver ? xmlGetProp(driver, (const xmlChar *) "type") : NULL;
        if (!k.path || (format && !(k.format = strdup((const char *) format))))
                r = mcs_fail(e, MCS_E_NOMEM, "out of memory");
        if (r == 0)
                r = parse_chain(disk, &k, e);
        mcs_disk *v = r < 0 ? NULL : realloc(d->disks, (d->n_disks + 1) * sizeof *v);
        if (!v) {
                disk_clear(&k);
                return r < 0 ? r : mcs_fail(e, MCS_E_NOMEM, "out of memory");
        }
        d->disks = v;
        v[d->n_disks++] = k;
        return 0;
}

static int parse_disks(xmlNodePtr root, mcs_domain *d, mcs_err *e) {
        xmlNodePtr devices = child(root, "devices");
        int r;
        for (xmlNodePtr n = devices ? devices->children : NULL; n; n = n->next)
                if (is_elem(n, "disk") && (r = parse_disk(n, d, e)) < 0)
                        return r;
        return 0;
}

static int parse_domain(const char *xml, bool keep, mcs_domain *out, mcs_err *e) {
        _cleanup_doc_ xmlDocPtr doc = NULL;
        mcs_domain d = {.mode = MCS_SECLABEL_ABSENT, .relabel = true};
        xmlNodePtr sl;
        int r;

        if ((r = parse_doc(xml, &doc, e)) < 0)
                return r;
        xmlNodePtr root = xmlDocGetRootElement(doc);
        _cleanup_xml_ xmlChar *type = xmlGetProp(root, (const xmlChar *) "type");
        _cleanup_free_ char *uuid = NULL;
        if (!type)
                return mcs_fail(e, MCS_E_INVALID, "domain XML line %d: <domain> has no type", root->line);
        if ((r = text_of(root, "name", &d.name, e)) < 0)
                goto fail;
        if (!d.name) {
                r = mcs_fail(e, MCS_E_INVALID, "domain XML: no <name>");
                goto fail;
        }
        if ((r = text_of(root, "uuid", &uuid, e)) < 0)
                goto fail;
        if (!uuid) {
                r = mcs_fail(e, MCS_E_INVALID, "domain XML: no <uuid>");
                goto fail;
        }
        if ((r = mcs_uuid_canonical(uuid, d.uuid, e)) < 0) {
                mcs_err_prefix(e, "domain XML line %d", child(root, "uuid")->line);
                goto fail;
        }
        if (!(d.virt_type = strdup((const char *) type))) {
                r = mcs_fail(e, MCS_E_NOMEM, "out of memory");
                goto fail;
        }
        if ((r = find_seclabel(root, &sl, e)) < 0 || (sl && (r = parse_seclabel(sl, &d, e)) < 0) ||
            (r = parse_disks(root, &d, e)) < 0)
                goto fail;
        if (keep)
                d.doc = MCS_TAKE_PTR(doc);
        *out = d;
        return 0;
fail:
        mcs_domain_clear(&d);
        return r;
}

int mcs_domain_parse(const char *xml, mcs_domain *out, mcs_err *e) {
        return parse_domain(xml, false, out, e);
}

int mcs_domain_parse_kept(const char *xml, mcs_domain *out, mcs_err *e) {
        return parse_domain(xml, true, out, e);
}

void mcs_domain_xml_init(void) {
        xmlInitParser();
}

void mcs_domain_clear(mcs_domain *d) {
        free(d->name);
        free(d->virt_type);
        free(d->label);
        free(d->baselabel);
        for (size_t i = 0; i < d->n_disks; i++)
                disk_clear(&d->disks[i]);
        free(d->disks);
        if (d->doc)
                xmlFreeDoc(d->doc);
        *d = (mcs_domain){0};
}

/* Replaces (or adds) doc's SELinux <seclabel> and writes the document out. */
static int set_static_label(xmlDocPtr doc, const char *context, char **out, mcs_err *e) {
        xmlNodePtr old;
        int r;
        xmlNodePtr root = xmlDocGetRootElement(doc);
        if ((r = find_seclabel(root, &old, e)) < 0)
                return r;

        xmlNodePtr sl = xmlNewDocNode(doc, NULL, (const xmlChar *) "seclabel", NULL);
        if (!sl)
                return mcs_fail(e, MCS_E_NOMEM, "out of memory");
        if (!xmlNewProp(sl, (const xmlChar *) "type", (const xmlChar *) "static") ||
            !xmlNewProp(sl, (const xmlChar *) "model", (const xmlChar *) "selinux") ||
            !xmlNewProp(sl, (const xmlChar *) "relabel", (const xmlChar *) "yes") ||
            !xmlNewTextChild(sl, NULL, (const xmlChar *) "label", (const xmlChar *) context)) {
                xmlFreeNode(sl);
                return mcs_fail(e, MCS_E_NOMEM, "out of memory");
        }
        if (old) {
                xmlReplaceNode(old, sl);
                xmlFreeNode(old);
        } else if (!xmlAddChild(root, sl)) {
                xmlFreeNode(sl);
                return mcs_fail(e, MCS_E_NOMEM, "out of memory");
        }

        xmlChar *buf = NULL;
        int len = 0;
        xmlDocDumpMemory(doc, &buf, &len);
        if (!buf)
                return mcs_fail(e, MCS_E_NOMEM, "out of memory");
        *out = strdup((const char *) buf);
        xmlFree(buf);
        return *out ? 0 : mcs_fail(e, MCS_E_NOMEM, "out of memory");
}

int mcs_domain_set_static_label(const char *xml, const char *context, char **out, mcs_err *e) {
        _cleanup_doc_ xmlDocPtr doc = NULL;
        int r;
        if ((r = parse_doc(xml, &doc, e)) < 0)
                return r;
        return set_static_label(doc, context, out, e);
}

int mcs_domain_edit_static_label(mcs_domain *d, const char *xml, const char *context, char **out, mcs_err *e) {
        if (!d->doc)
                return mcs_domain_set_static_label(xml, context, out, e);
        _cleanup_doc_ xmlDocPtr doc = MCS_TAKE_PTR(d->doc);
        return set_static_label(doc, context, out, e);
}
