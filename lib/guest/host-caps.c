#include "mcs-host-caps.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdio.h>
#include <string.h>

static bool is_elem(xmlNodePtr n, const char *name) {
        return n->type == XML_ELEMENT_NODE && !strcmp((const char *) n->name, name);
}

static xmlNodePtr child(xmlNodePtr parent, const char *name) {
        for (xmlNodePtr n = parent ? parent->children : NULL; n; n = n->next)
                if (is_elem(n, name))
                        return n;
        return NULL;
}

static void add_model(mcs_secmodels *m, const char *name) {
        size_t len = strlen(m->list);
        snprintf(m->list + len, sizeof m->list - len, "%s%s", len ? ", " : "", name);
        if (!strcmp(name, "selinux"))
                m->selinux = m->takes_labels = true;
        else if (!strcmp(name, "testSecurity"))
                m->takes_labels = true;
}

int mcs_secmodels_parse(const char *caps, mcs_secmodels *out, mcs_err *e) {
        mcs_secmodels m = {0};
        if (!caps)
                return mcs_fail(e, MCS_E_INVALID, "capabilities XML: none given");
        xmlDocPtr doc = xmlReadMemory(caps, (int) strnlen(caps, 1u << 24), "capabilities.xml", NULL,
                                      XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
        if (!doc)
                return mcs_fail(e, MCS_E_INVALID, "capabilities XML: not well-formed");
        xmlNodePtr root = xmlDocGetRootElement(doc);
        xmlNodePtr host = root && is_elem(root, "capabilities") ? child(root, "host") : NULL;
        if (!host) {
                xmlFreeDoc(doc);
                return mcs_fail(e, MCS_E_INVALID, "capabilities XML: no <capabilities><host>");
        }
        for (xmlNodePtr n = host->children; n; n = n->next) {
                xmlNodePtr model = is_elem(n, "secmodel") ? child(n, "model") : NULL;
                xmlChar *name = model ? xmlNodeGetContent(model) : NULL;
                if (name && *name)
                        add_model(&m, (const char *) name);
                xmlFree(name);
        }
        xmlFreeDoc(doc);
        if (!m.list[0])
                snprintf(m.list, sizeof m.list, "none");
        *out = m;
        return 0;
}
