/* Domain XML, label types and the rules, with a real sqlite registry. */
#include <stdio.h>
#include <unistd.h>

#include "mcs-guest-rules.h"
#include "mcs-host-caps.h"
#include "test-util.h"

#define UUID_A "11111111-2222-3333-4444-555555555555"
#define UUID_B "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"

static char *domain_xml(const char *type, const char *name, const char *uuid, const char *seclabel) {
        char *x;
        ck_assert_int_ge(asprintf(&x,
                                  "<domain type='%s'>\n  <name>%s</name>\n  <uuid>%s</uuid>\n"
                                  "  <memory unit='KiB'>65536</memory>\n"
                                  "  <devices>\n    <disk type='file'><source file='/i.qcow2'>"
                                  "<seclabel model='selinux' relabel='no'/></source></disk>\n  </devices>\n"
                                  "  <seclabel type='none' model='dac'/>\n%s</domain>\n",
                                  type, name, uuid, seclabel),
                         0);
        return x;
}

START_TEST(parse_seclabel_modes) {
        static const struct {
                const char *seclabel;
                mcs_seclabel_mode mode;
                bool relabel;
                const char *label, *base;
        } cases[] = {
                {"", MCS_SECLABEL_ABSENT, true, NULL, NULL},
                {"<seclabel type='none'/>", MCS_SECLABEL_NONE, false, NULL, NULL},
                /* libvirt's stored form of the line above, and the other spellings of "no label". */
                {"<seclabel type='none' model='none'/>", MCS_SECLABEL_NONE, false, NULL, NULL},
                {"<seclabel type='none' model='selinux'/>", MCS_SECLABEL_NONE, false, NULL, NULL},
                {"<seclabel model='none'/>", MCS_SECLABEL_NONE, false, NULL, NULL},
                /* DAC seclabels say nothing about SELinux: the SELinux one (or its absence) counts. */
                {"<seclabel type='static' model='dac' relabel='yes'><label>+107:+107</label></seclabel>",
                 MCS_SECLABEL_ABSENT, true, NULL, NULL},
                {"<seclabel type='static' model='dac' relabel='yes'><label>+107:+107</label></seclabel>"
                 "<seclabel type='static' model='selinux' relabel='yes'><label>u:r:t:s0:c1,c2</label></seclabel>",
                 MCS_SECLABEL_STATIC, true, "u:r:t:s0:c1,c2", NULL},
                {"<seclabel type='dynamic' model='selinux'/>", MCS_SECLABEL_DYNAMIC, true, NULL, NULL},
                {"<seclabel model='selinux'><baselabel>system_u:system_r:svirt_custom_t:s0</baselabel></seclabel>",
                 MCS_SECLABEL_DYNAMIC, true, NULL, "system_u:system_r:svirt_custom_t:s0"},
                {"<seclabel type='static' model='selinux' relabel='yes'><label>u:r:t:s0:c1,c2</label></seclabel>",
                 MCS_SECLABEL_STATIC, true, "u:r:t:s0:c1,c2", NULL},
                {"<seclabel type='static' model='selinux'><label>u:r:t:s0:c5</label></seclabel>", MCS_SECLABEL_STATIC,
                 false, "u:r:t:s0:c5", NULL},
                /* A running dynamic guest (qemu driver's live XML). */
                {"<seclabel type='dynamic' model='selinux' relabel='yes'><label>system_u:system_r:svirt_t:s0:c7,c9</label>"
                 "<imagelabel>system_u:object_r:svirt_image_t:s0:c7,c9</imagelabel></seclabel>",
                 MCS_SECLABEL_DYNAMIC, true, "system_u:system_r:svirt_t:s0:c7,c9", NULL},
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                char *x = domain_xml("kvm", "vm1", "11111111-2222-3333-4444-55555555555A", cases[i].seclabel);
                mcs_domain d;
                mcs_err e = {0};
                ck_assert_ok(mcs_domain_parse(x, &d, &e), &e);
                ck_assert_str_eq(d.uuid, "11111111-2222-3333-4444-55555555555a");
                ck_assert_str_eq(d.name, "vm1");
                ck_assert_str_eq(d.virt_type, "kvm");
                ck_assert_msg(d.mode == cases[i].mode, "case %zu: mode %s", i, mcs_seclabel_mode_name(d.mode));
                ck_assert_msg(d.relabel == cases[i].relabel, "case %zu: relabel", i);
                ck_assert_pstr_eq(d.label, cases[i].label);
                ck_assert_pstr_eq(d.baselabel, cases[i].base);
                mcs_domain_clear(&d);
                free(x);
        }
}
END_TEST

START_TEST(parse_disks) {
        const char *xml = "<domain type='kvm'><name>d</name><uuid>" UUID_A "</uuid><devices>\n"
                          "<disk type='file' device='disk'><source file='/img/root.qcow2'/></disk>\n"
                          "<disk type='block' device='disk'><source dev='/dev/vg/data'/><shareable/></disk>\n"
                          "<disk type='file' device='cdrom'><source file='/iso/x.iso'/><readonly/></disk>\n"
                          "<disk type='file' device='cdrom'/>\n"
                          "<disk type='network'><source protocol='nbd' name='x'/></disk>\n"
                          "<disk type='file'><source file='/img/own.raw'><seclabel model='selinux' relabel='no'/></source></disk>\n"
                          "</devices></domain>";
        mcs_domain d = {0};
        mcs_err e = {0};
        ck_assert_ok(mcs_domain_parse(xml, &d, &e), &e);
        ck_assert_uint_eq(d.n_disks, 4);
        ck_assert_str_eq(d.disks[0].path, "/img/root.qcow2");
        ck_assert(!d.disks[0].block && !d.disks[0].shareable && !d.disks[0].readonly && !d.disks[0].norelabel);
        ck_assert_str_eq(d.disks[1].path, "/dev/vg/data");
        ck_assert(d.disks[1].block && d.disks[1].shareable);
        ck_assert_int_eq(d.disks[1].line, 3);
        ck_assert(d.disks[2].readonly);
        ck_assert_str_eq(d.disks[3].path, "/img/own.raw");
        ck_assert(d.disks[3].norelabel);
        mcs_domain_clear(&d);

        ck_assert_fails(mcs_domain_parse("<domain type='kvm'><name>d</name><uuid>" UUID_A "</uuid><devices>\n"
                                         "<disk type='file'><source file='img.raw'/></disk></devices></domain>",
                                         &d, &e),
                        &e, MCS_E_INVALID, "domain XML line 2: disk source 'img.raw' is not an absolute path");

        /* The declared format and libvirt's backing chain: local stores up
         * to the first that is not, none after an empty <backingStore/>. */
        ck_assert_ok(mcs_domain_parse("<domain type='kvm'><name>d</name><uuid>" UUID_A "</uuid><devices>"
                                      "<disk type='file'><driver name='qemu' type='qcow2'/><source file='/i/top.qcow2'/>"
                                      "<backingStore type='file' index='2'><format type='qcow2'/><source file='/i/mid.qcow2'/>"
                                      "<backingStore type='block' index='3'><format type='raw'/><source dev='/dev/vg/base'/>"
                                      "<backingStore type='network'><source protocol='nbd' name='x'/>"
                                      "<backingStore type='file'><source file='/i/beyond'/></backingStore>"
                                      "</backingStore></backingStore></backingStore></disk>"
                                      "<disk type='file'><driver type='raw'/><source file='/i/a.raw'/><backingStore/></disk>"
                                      "<disk type='file'><source file='/i/b.img'/></disk>"
                                      "</devices></domain>",
                                      &d, &e),
                     &e);
        ck_assert_uint_eq(d.n_disks, 3);
        ck_assert_str_eq(d.disks[0].format, "qcow2");
        ck_assert(d.disks[0].has_chain);
        ck_assert_uint_eq(d.disks[0].n_chain, 2);
        ck_assert_str_eq(d.disks[0].chain[0].path, "/i/mid.qcow2");
        ck_assert(!d.disks[0].chain[0].block);
        ck_assert_str_eq(d.disks[0].chain[1].path, "/dev/vg/base");
        ck_assert(d.disks[0].chain[1].block);
        ck_assert_str_eq(d.disks[1].format, "raw");
        ck_assert(d.disks[1].has_chain && d.disks[1].n_chain == 0);
        ck_assert_ptr_null(d.disks[2].format);
        ck_assert(!d.disks[2].has_chain);
        mcs_domain_clear(&d);
        ck_assert_fails(mcs_domain_parse("<domain type='kvm'><name>d</name><uuid>" UUID_A "</uuid><devices>\n"
                                         "<disk type='file'><source file='/i/t'/>\n<backingStore type='file'>"
                                         "<source file='rel.qcow2'/></backingStore></disk></devices></domain>",
                                         &d, &e),
                        &e, MCS_E_INVALID, "domain XML line 3: backingStore source 'rel.qcow2' is not an absolute path");
}
END_TEST

START_TEST(parse_rejections) {
        static const struct {
                const char *xml, *needle;
        } cases[] = {
                {"<domain type='kvm'><name>a</name>", "domain XML line 1: "},
                {"<notadomain/>", "the root element is not <domain>"},
                {"<domain><name>a</name><uuid>" UUID_A "</uuid></domain>", "<domain> has no type"},
                {"<domain type='kvm'><uuid>" UUID_A "</uuid></domain>", "domain XML: no <name>"},
                {"<domain type='kvm'><name>a</name></domain>", "domain XML: no <uuid>"},
                {"<domain type='kvm'><name>a</name>\n<uuid>1234</uuid></domain>", "domain XML line 2: "},
                {"<domain type='kvm'><name>a</name><uuid>" UUID_A "</uuid>\n<seclabel type='odd'/></domain>",
                 "line 2: <seclabel type='odd'> is not none, dynamic or static"},
                {"<domain type='kvm'><name>a</name><uuid>" UUID_A "</uuid><seclabel relabel='maybe'/></domain>",
                 "relabel='maybe' is not yes or no"},
                {"<domain type='kvm'><name>a</name><uuid>" UUID_A "</uuid><seclabel type='static'/></domain>",
                 "a static <seclabel> without <label>"},
                {"<domain type='kvm'><name>a</name><uuid>" UUID_A "</uuid><seclabel type='static'><label/></seclabel></domain>",
                 "<label> is empty"},
                {"<domain type='kvm'><name>a</name><uuid>" UUID_A "</uuid><seclabel/>\n<seclabel model='selinux'/></domain>",
                 "line 2: a second SELinux <seclabel> (the first is on line 1)"},
                {"<!DOCTYPE domain [<!ENTITY x 'y'>]><domain type='kvm'><name>&x;</name><uuid>" UUID_A "</uuid></domain>",
                 "a DOCTYPE is not allowed"},
                {"", "domain XML line "},
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                mcs_domain d;
                mcs_err e = {0};
                ck_assert_fails(mcs_domain_parse(cases[i].xml, &d, &e), &e, MCS_E_INVALID, cases[i].needle);
        }
}
END_TEST

START_TEST(rewrite_keeps_everything_else) {
        char *x = domain_xml("kvm", "vm1", UUID_A, "  <seclabel type='dynamic' model='selinux'/>\n");
        char *out;
        mcs_domain d;
        mcs_err e = {0};
        ck_assert_ok(mcs_domain_set_static_label(x, "system_u:system_r:svirt_t:s0:c1,c2", &out, &e), &e);
        ck_assert_ok(mcs_domain_parse(out, &d, &e), &e);
        ck_assert_int_eq(d.mode, MCS_SECLABEL_STATIC);
        ck_assert(d.relabel);
        ck_assert_str_eq(d.label, "system_u:system_r:svirt_t:s0:c1,c2");
        mcs_domain_clear(&d);
        /* The DAC seclabel, the disk's own seclabel and the memory stay. */
        ck_assert_ptr_nonnull(strstr(out, "<seclabel type=\"none\" model=\"dac\"/>"));
        ck_assert_ptr_nonnull(strstr(out, "<seclabel model=\"selinux\" relabel=\"no\"/></source>"));
        ck_assert_ptr_nonnull(strstr(out, "<memory unit=\"KiB\">65536</memory>"));
        ck_assert_ptr_null(strstr(out, "dynamic"));
        free(out);
        free(x);

        /* No seclabel at all: one is added. A label with XML metacharacters is escaped. */
        x = domain_xml("kvm", "vm1", UUID_A, "");
        ck_assert_ok(mcs_domain_set_static_label(x, "a<b", &out, &e), &e);
        ck_assert_ptr_nonnull(strstr(out, "<label>a&lt;b</label>"));
        free(out);
        free(x);
}
END_TEST

/* A document kept from the parse is edited, not parsed again, and gives
 * exactly what a fresh parse of the XML gives; it is used up by the edit. */
START_TEST(kept_document_edited_in_place) {
        char *x = domain_xml("kvm", "vm1", UUID_A,
                             "<seclabel type='dynamic' model='selinux'/><seclabel type='none' model='dac'/>");
        char *fresh = NULL, *edited = NULL, *again = NULL;
        mcs_domain d = {0}, plain = {0};
        mcs_err e = {0};
        ck_assert_ok(mcs_domain_set_static_label(x, "system_u:system_r:svirt_t:s0:c1,c2", &fresh, &e), &e);
        ck_assert_ok(mcs_domain_parse_kept(x, &d, &e), &e);
        ck_assert_ptr_nonnull(d.doc);
        /* The XML given is not read when the document was kept. */
        ck_assert_ok(mcs_domain_edit_static_label(&d, "<not xml", "system_u:system_r:svirt_t:s0:c1,c2", &edited, &e), &e);
        ck_assert_ptr_null(d.doc);
        ck_assert_str_eq(edited, fresh);
        /* Without a kept document the XML is parsed. */
        ck_assert_ok(mcs_domain_parse(x, &plain, &e), &e);
        ck_assert_ptr_null(plain.doc);
        ck_assert_ok(mcs_domain_edit_static_label(&plain, x, "system_u:system_r:svirt_t:s0:c1,c2", &again, &e), &e);
        ck_assert_str_eq(again, fresh);
        mcs_domain_clear(&d);
        mcs_domain_clear(&plain);
        /* A kept document never edited is freed with the domain (valgrind). */
        ck_assert_ok(mcs_domain_parse_kept(x, &d, &e), &e);
        mcs_domain_clear(&d);
        free(fresh);
        free(edited);
        free(again);
        free(x);
}
END_TEST

static void write_file(const char *path, const char *text) {
        FILE *f = fopen(path, "w");
        ck_assert_ptr_nonnull(f);
        fputs(text, f);
        fclose(f);
}

START_TEST(label_types) {
        mcs_domain_types t;
        mcs_err e = {0};
        char path[4096], out[512];

        /* The installed policy's file: one line, svirt_t. */
        ck_assert_ok(mcs_domain_types_load(NULL, &t, &e), &e);
        ck_assert_str_eq(t.kvm.type, "svirt_t");
        ck_assert(!t.has_tcg);

        snprintf(path, sizeof path, "%s/virtual_domain_context", test_dir);
        write_file(path, "system_u:system_r:svirt_t:s0\nsystem_u:system_r:svirt_tcg_t:s0\n");
        ck_assert_ok(mcs_domain_types_load(path, &t, &e), &e);
        ck_assert(t.has_tcg);

        char *kx = domain_xml("kvm", "k", UUID_A, ""), *qx = domain_xml("qemu", "q", UUID_A, "");
        char *bx = domain_xml("qemu", "b", UUID_A, "<seclabel><baselabel>system_u:system_r:my_t:s0</baselabel></seclabel>");
        mcs_domain k, q, b;
        ck_assert_ok(mcs_domain_parse(kx, &k, &e), &e);
        ck_assert_ok(mcs_domain_parse(qx, &q, &e), &e);
        ck_assert_ok(mcs_domain_parse(bx, &b, &e), &e);
        ck_assert_ok(mcs_domain_label(&k, &t, "s0:c3,c4", out, sizeof out, &e), &e);
        ck_assert_str_eq(out, "system_u:system_r:svirt_t:s0:c3,c4");
        ck_assert_ok(mcs_domain_label(&q, &t, "s0:c3,c4", out, sizeof out, &e), &e);
        ck_assert_str_eq(out, "system_u:system_r:svirt_tcg_t:s0:c3,c4");
        ck_assert_ok(mcs_domain_label(&b, &t, "s0:c3,c4", out, sizeof out, &e), &e);
        ck_assert_str_eq(out, "system_u:system_r:my_t:s0:c3,c4");
        mcs_domain_clear(&k);
        mcs_domain_clear(&q);
        mcs_domain_clear(&b);
        free(kx);
        free(qx);
        free(bx);

        write_file(path, "");
        ck_assert_fails(mcs_domain_types_load(path, &t, &e), &e, MCS_E_INVALID, "virtual_domain_context:1: empty");
        write_file(path, "system_u:system_r:svirt_t:s0\nbroken\n");
        ck_assert_fails(mcs_domain_types_load(path, &t, &e), &e, MCS_E_INVALID, "virtual_domain_context:2: ");
        unlink(path);
        ck_assert_fails(mcs_domain_types_load(path, &t, &e), &e, MCS_E_NOTFOUND, "No such file or directory");

        char level[64];
        ck_assert_ok(mcs_context_level("u:r:t:s0:c9,c2", level, sizeof level, &e), &e);
        ck_assert_str_eq(level, "s0:c2,c9");
        ck_assert_fails(mcs_context_level("u:r:t", level, sizeof level, &e), &e, MCS_E_INVALID, "'u:r:t': no MCS level");
}
END_TEST

/* ---- the rules, against a real registry ---- */

static void apply_policy(mcs_registry *r, const mcs_config *cfg, mcs_label_policy policy, const char *type,
                         const char *name, const char *uuid, const char *seclabel, bool persistent, bool active,
                         const char *live, mcs_guest_outcome *o) {
        mcs_domain_types t;
        mcs_domain d;
        mcs_err e = {0};
        char *x = domain_xml(type, name, uuid, seclabel);
        ck_assert_ok(mcs_domain_types_load(NULL, &t, &e), &e);
        ck_assert_ok(mcs_domain_parse(x, &d, &e), &e);
        ck_assert_ok(mcs_guest_apply_rules(r, cfg, policy, &t, x, &d, persistent, active, live, o, &e), &e);
        mcs_domain_clear(&d);
        free(x);
}

static void apply_live(mcs_registry *r, const mcs_config *cfg, const char *type, const char *name, const char *uuid,
                       const char *seclabel, bool persistent, const char *live, mcs_guest_outcome *o) {
        apply_policy(r, cfg, MCS_LABELS_WRITE, type, name, uuid, seclabel, persistent, live != NULL, live, o);
}

static void apply_as(mcs_registry *r, const mcs_config *cfg, const char *type, const char *name, const char *uuid,
                     const char *seclabel, bool persistent, bool active, const char *live, mcs_guest_outcome *o) {
        apply_policy(r, cfg, MCS_LABELS_WRITE, type, name, uuid, seclabel, persistent, active, live, o);
}

static void apply(mcs_registry *r, const mcs_config *cfg, const char *type, const char *name, const char *uuid,
                  const char *seclabel, bool persistent, mcs_guest_outcome *o) {
        apply_live(r, cfg, type, name, uuid, seclabel, persistent, NULL, o);
}

START_TEST(rules_dynamic_static_and_unmanaged) {
        mcs_registry *r = test_open_registry("h1", "c0.c1023");
        mcs_config cfg;
        mcs_err e = {0};
        mcs_guest_outcome o;
        mcs_config_init(&cfg);
        ck_assert_ok(mcs_config_parse(&cfg, "t.conf", "exclude = scratch-*\n", &e), &e);

        /* Absent seclabel: a pair is reserved and written as static relabel='yes'. */
        apply(r, &cfg, "kvm", "vm1", UUID_A, "", true, &o);
        ck_assert_int_eq(o.status, MCS_GUEST_MANAGED);
        ck_assert(o.created);
        ck_assert_ptr_nonnull(o.new_xml);
        char want[128];
        snprintf(want, sizeof want, "<label>system_u:system_r:svirt_t:%s</label>", o.rec.label);
        ck_assert_msg(strstr(o.new_xml, want), "%s lacks %s", o.new_xml, want);
        ck_assert_ptr_nonnull(strstr(o.new_xml, "relabel=\"yes\""));
        char first[64];
        snprintf(first, sizeof first, "%s", o.rec.label);
        mcs_guest_outcome_clear(&o);

        /* Its own redefinition changes nothing. */
        char sl[256];
        snprintf(sl, sizeof sl,
                 "<seclabel type='static' model='selinux' relabel='yes'><label>system_u:system_r:svirt_t:%s</label></seclabel>",
                 first);
        apply(r, &cfg, "kvm", "vm1", UUID_A, sl, true, &o);
        ck_assert_int_eq(o.status, MCS_GUEST_MANAGED);
        ck_assert(!o.created && !o.replaced);
        ck_assert_ptr_null(o.new_xml);
        ck_assert_int_eq(o.rec.kind, MCS_KIND_DYNAMIC);
        mcs_guest_outcome_clear(&o);

        /* Back to dynamic (undefine + define): the same pair again. */
        apply(r, &cfg, "kvm", "vm1", UUID_A, "<seclabel type='dynamic'/>", true, &o);
        ck_assert(!o.created);
        ck_assert_str_eq(o.rec.label, first);
        mcs_guest_outcome_clear(&o);

        /* A static label contained in another guest's: refused, naming the holder. */
        unsigned ca, cb;
        ck_assert_int_eq(sscanf(first, "s0:c%u,c%u", &ca, &cb), 2);
        snprintf(sl, sizeof sl, "<seclabel type='static'><label>system_u:system_r:svirt_t:s0:c%u</label></seclabel>", ca);
        apply(r, &cfg, "kvm", "vm2", UUID_B, sl, true, &o);
        ck_assert_int_eq(o.status, MCS_GUEST_REFUSED);
        ck_assert_msg(strstr(o.why, "held by guest vm1") && strstr(o.why, "on host h1"), "%s", o.why);
        mcs_guest_outcome_clear(&o);

        /* The same label on a guest that runs: a collision, with the holder's
         * reservation (vm1 does not run: its record is reserved). */
        apply_as(r, &cfg, "kvm", "vm2", UUID_B, sl, true, true, NULL, &o);
        ck_assert_int_eq(o.status, MCS_GUEST_COLLISION);
        ck_assert_str_eq(o.other.uuid, UUID_A);
        ck_assert_str_eq(o.other.label, first);
        ck_assert_msg(strstr(o.why, "while guest 'vm1' (" UUID_A ") holds") && strstr(o.why, "on host h1 (not running)") &&
                              strstr(o.why, "if that guest starts, the two can read each other's images") &&
                              strstr(o.why, "Stop one of them"),
                      "%s", o.why);
        ck_assert_str_eq(mcs_guest_status_name(o.status), "collision");
        mcs_guest_outcome_clear(&o);

        /* The operator moves vm1 to a static label of its own: the old pair is freed. */
        apply(r, &cfg, "kvm", "vm1", UUID_A, "<seclabel type='static'><label>u:r:t:s0:c1000,c1001</label></seclabel>",
              true, &o);
        ck_assert_int_eq(o.status, MCS_GUEST_MANAGED);
        ck_assert(o.replaced && o.created);
        ck_assert_int_eq(o.rec.kind, MCS_KIND_STATIC);
        mcs_guest_outcome_clear(&o);
        mcs_record rec;
        ck_assert_fails(mcs_registry_find_label(r, first, &rec, &e), &e, MCS_E_NOTFOUND, "");

        /* A label with no category isolates nothing. */
        apply(r, &cfg, "kvm", "vm2", UUID_B, "<seclabel type='static'><label>u:r:t:s0</label></seclabel>", true, &o);
        ck_assert_int_eq(o.status, MCS_GUEST_REFUSED);
        mcs_guest_outcome_clear(&o);

        /* Unmanaged: type='none' and excluded names; nothing is reserved. */
        apply(r, &cfg, "kvm", "vm2", UUID_B, "<seclabel type='none'/>", true, &o);
        ck_assert_int_eq(o.status, MCS_GUEST_UNMANAGED);
        ck_assert_str_eq(o.why, "<seclabel type='none'>");
        mcs_guest_outcome_clear(&o);
        apply(r, &cfg, "kvm", "scratch-3", UUID_B, "", true, &o);
        ck_assert_int_eq(o.status, MCS_GUEST_UNMANAGED);
        mcs_guest_outcome_clear(&o);
        ck_assert_fails(mcs_registry_get(r, UUID_B, &rec, &e), &e, MCS_E_NOTFOUND, "");

        /* A transient guest: its live label is registered as transient; without one, nothing. */
        apply(r, &cfg, "kvm", "t1", UUID_B, "<seclabel type='dynamic'/>", false, &o);
        ck_assert_int_eq(o.status, MCS_GUEST_UNMANAGED);
        mcs_guest_outcome_clear(&o);
        apply(r, &cfg, "kvm", "t1", UUID_B, "<seclabel type='dynamic'><label>u:r:svirt_t:s0:c7,c9</label></seclabel>",
              false, &o);
        ck_assert_int_eq(o.status, MCS_GUEST_MANAGED);
        ck_assert_int_eq(o.rec.kind, MCS_KIND_TRANSIENT);
        ck_assert_str_eq(o.rec.label, "s0:c7,c9");
        ck_assert_ptr_null(o.new_xml);
        mcs_guest_outcome_clear(&o);

        mcs_config_clear(&cfg);
        mcs_registry_close(r);
}
END_TEST

/* First deployment: a running dynamic guest keeps its live label when free. */
START_TEST(rules_adopt_live_labels) {
        mcs_registry *r = test_open_registry("h1", "c0.c1023");
        mcs_config cfg;
        mcs_guest_outcome o;
        mcs_config_init(&cfg);

        apply_live(r, &cfg, "kvm", "vm1", UUID_A, "", true, "system_u:system_r:svirt_t:s0:c40,c41", &o);
        ck_assert_int_eq(o.status, MCS_GUEST_MANAGED);
        ck_assert(o.adopted && o.created);
        ck_assert_str_eq(o.rec.label, "s0:c40,c41");
        ck_assert_int_eq(o.rec.kind, MCS_KIND_DYNAMIC);
        ck_assert_ptr_nonnull(strstr(o.new_xml, "<label>system_u:system_r:svirt_t:s0:c40,c41</label>"));
        mcs_guest_outcome_clear(&o);

        /* A second guest running with a label that conflicts gets a fresh pair. */
        apply_live(r, &cfg, "kvm", "vm2", UUID_B, "", true, "system_u:system_r:svirt_t:s0:c40,c41", &o);
        ck_assert_int_eq(o.status, MCS_GUEST_MANAGED);
        ck_assert(!o.adopted && o.created);
        ck_assert_str_ne(o.rec.label, "s0:c40,c41");
        char second[64];
        snprintf(second, sizeof second, "%s", o.rec.label);
        mcs_guest_outcome_clear(&o);

        /* Once a guest holds a reservation, its live label no longer matters. */
        apply_live(r, &cfg, "kvm", "vm2", UUID_B, "", true, "system_u:system_r:svirt_t:s0:c50,c51", &o);
        ck_assert(!o.adopted && !o.created);
        ck_assert_str_eq(o.rec.label, second);
        mcs_guest_outcome_clear(&o);

        mcs_config_clear(&cfg);
        mcs_registry_close(r);
}
END_TEST

/* The capabilities libvirt reports: an SELinux host (Fedora's virtqemud), a
 * host without an SELinux driver (Debian's libvirtd, this machine) and the
 * test driver. Recorded, trimmed to <host>. */
static const char caps_selinux[] =
        "<capabilities><host><uuid>2bd1d2a4-ee46-4d1c-8c5e-3bd0f3e4b6a1</uuid>"
        "<cpu><arch>x86_64</arch></cpu>"
        "<secmodel><model>selinux</model><doi>0</doi>"
        "<baselabel type='kvm'>system_u:system_r:svirt_t:s0</baselabel>"
        "<baselabel type='qemu'>system_u:system_r:svirt_tcg_t:s0</baselabel></secmodel>"
        "<secmodel><model>dac</model><doi>0</doi><baselabel type='kvm'>+107:+107</baselabel>"
        "<baselabel type='qemu'>+107:+107</baselabel></secmodel>"
        "</host><guest><os_type>hvm</os_type></guest></capabilities>";
static const char caps_none_dac[] =
        "<capabilities>\n  <host>\n    <uuid>03000200-0400-0500-0006-000700080009</uuid>\n"
        "    <secmodel>\n      <model>none</model>\n      <doi>0</doi>\n    </secmodel>\n"
        "    <secmodel>\n      <model>dac</model>\n      <doi>0</doi>\n"
        "      <baselabel type='kvm'>+64055:+64055</baselabel>\n"
        "      <baselabel type='qemu'>+64055:+64055</baselabel>\n    </secmodel>\n  </host>\n</capabilities>\n";
static const char caps_test[] = "<capabilities><host><secmodel><model>testSecurity</model><doi></doi></secmodel>"
                                "</host></capabilities>";

START_TEST(host_secmodels) {
        mcs_secmodels m;
        mcs_err e = {0};
        ck_assert_ok(mcs_secmodels_parse(caps_selinux, &m, &e), &e);
        ck_assert(m.selinux && m.takes_labels);
        ck_assert_str_eq(m.list, "selinux, dac");
        ck_assert_ok(mcs_secmodels_parse(caps_none_dac, &m, &e), &e);
        ck_assert(!m.selinux && !m.takes_labels);
        ck_assert_str_eq(m.list, "none, dac");
        ck_assert_ok(mcs_secmodels_parse(caps_test, &m, &e), &e);
        ck_assert(!m.selinux && m.takes_labels);
        ck_assert_ok(mcs_secmodels_parse("<capabilities><host/></capabilities>", &m, &e), &e);
        ck_assert(!m.takes_labels);
        ck_assert_str_eq(m.list, "none");
        ck_assert_fails(mcs_secmodels_parse("<capabilities>", &m, &e), &e, MCS_E_INVALID, "not well-formed");
        ck_assert_fails(mcs_secmodels_parse("<domain/>", &m, &e), &e, MCS_E_INVALID, "no <capabilities><host>");
        ck_assert_fails(mcs_secmodels_parse(NULL, &m, &e), &e, MCS_E_INVALID, "none given");

        /* The recorded SELinux host turns labelling on; without_selinux picks the rest. */
        mcs_config cfg;
        mcs_config_init(&cfg);
        ck_assert_ok(mcs_secmodels_parse(caps_selinux, &m, &e), &e);
        ck_assert_int_eq(mcs_label_policy_for(m.takes_labels, &cfg), MCS_LABELS_WRITE);
        ck_assert_ok(mcs_secmodels_parse(caps_none_dac, &m, &e), &e);
        ck_assert_int_eq(mcs_label_policy_for(m.takes_labels, &cfg), MCS_LABELS_OFF);
        ck_assert_ok(mcs_config_parse(&cfg, "t.conf", "without_selinux = reserve\n", &e), &e);
        ck_assert_int_eq(mcs_label_policy_for(m.takes_labels, &cfg), MCS_LABELS_RESERVE);
        mcs_config_clear(&cfg);
}
END_TEST

/* A host whose libvirt has no SELinux driver: no XML is ever rewritten. */
START_TEST(rules_without_selinux) {
        mcs_registry *r = test_open_registry("h1", "c0.c1023");
        mcs_config cfg;
        mcs_guest_outcome o;
        mcs_record rec;
        mcs_err e = {0};
        mcs_config_init(&cfg);
        const char *stat = "<seclabel type='static' model='selinux' relabel='yes'><label>u:r:t:s0:c3,c4</label></seclabel>";

        /* skip: unmanaged, nothing reserved, whatever the seclabel. */
        apply_policy(r, &cfg, MCS_LABELS_OFF, "kvm", "vm1", UUID_A, "", true, false, NULL, &o);
        ck_assert_int_eq(o.status, MCS_GUEST_UNMANAGED);
        ck_assert_ptr_null(o.new_xml);
        ck_assert_ptr_nonnull(strstr(o.why, "no SELinux security driver"));
        mcs_guest_outcome_clear(&o);
        apply_policy(r, &cfg, MCS_LABELS_OFF, "kvm", "vm2", UUID_B, stat, true, false, NULL, &o);
        ck_assert_int_eq(o.status, MCS_GUEST_UNMANAGED);
        mcs_guest_outcome_clear(&o);
        ck_assert_fails(mcs_registry_get(r, UUID_A, &rec, &e), &e, MCS_E_NOTFOUND, "");
        ck_assert_fails(mcs_registry_get(r, UUID_B, &rec, &e), &e, MCS_E_NOTFOUND, "");

        /* reserve: a pair in the registry, still no new XML; a static label is registered. */
        apply_policy(r, &cfg, MCS_LABELS_RESERVE, "kvm", "vm1", UUID_A, "", true, false, NULL, &o);
        ck_assert_int_eq(o.status, MCS_GUEST_MANAGED);
        ck_assert(o.created);
        ck_assert_ptr_null(o.new_xml);
        mcs_guest_outcome_clear(&o);
        ck_assert_ok(mcs_registry_get(r, UUID_A, &rec, &e), &e);
        ck_assert_int_eq(rec.kind, MCS_KIND_DYNAMIC);
        mcs_record_clear(&rec);
        apply_policy(r, &cfg, MCS_LABELS_RESERVE, "kvm", "vm2", UUID_B, stat, true, false, NULL, &o);
        ck_assert_int_eq(o.status, MCS_GUEST_MANAGED);
        ck_assert_ptr_null(o.new_xml);
        ck_assert_str_eq(o.rec.label, "s0:c3,c4");
        mcs_guest_outcome_clear(&o);

        mcs_config_clear(&cfg);
        mcs_registry_close(r);
}
END_TEST

/* A running guest redefined with another static label keeps the one it
 * runs with reserved until it stops; then the new one is reserved. */
START_TEST(running_guest_keeps_its_label) {
        mcs_registry *r = test_open_registry("h1", "c0.c1023");
        mcs_config cfg;
        mcs_guest_outcome o;
        mcs_record rec;
        mcs_err e = {0};
        mcs_config_init(&cfg);
        const char *old_sl = "<seclabel type='static'><label>u:r:t:s0:c10,c11</label></seclabel>",
                   *new_sl = "<seclabel type='static'><label>u:r:t:s0:c20,c21</label></seclabel>";

        apply_as(r, &cfg, "kvm", "vm1", UUID_A, old_sl, true, true, NULL, &o);
        ck_assert_int_eq(o.status, MCS_GUEST_MANAGED);
        mcs_guest_outcome_clear(&o);
        apply_as(r, &cfg, "kvm", "vm1", UUID_A, new_sl, true, true, NULL, &o);
        ck_assert_int_eq(o.status, MCS_GUEST_MANAGED);
        ck_assert(o.deferred && !o.replaced && !o.created);
        ck_assert_str_eq(o.rec.label, "s0:c10,c11");
        ck_assert_str_eq(o.why, "runs with s0:c10,c11; its new label s0:c20,c21 is reserved when it stops");
        mcs_guest_outcome_clear(&o);
        /* The label it runs with is not free for another guest. */
        mcs_guest other = {.uuid = UUID_B, .name = "vm2", .kind = MCS_KIND_STATIC};
        ck_assert_fails(mcs_registry_reserve_label(r, &other, "s0:c10,c11", &rec, NULL, &e), &e, MCS_E_CONFLICT,
                        "held by guest vm1");

        /* Stopped: the old label goes, the new one is held. */
        apply_as(r, &cfg, "kvm", "vm1", UUID_A, new_sl, true, false, NULL, &o);
        ck_assert_int_eq(o.status, MCS_GUEST_MANAGED);
        ck_assert(o.replaced && o.created && !o.deferred);
        ck_assert_str_eq(o.rec.label, "s0:c20,c21");
        mcs_guest_outcome_clear(&o);
        ck_assert_ok(mcs_registry_reserve_label(r, &other, "s0:c10,c11", &rec, NULL, &e), &e);
        mcs_record_clear(&rec);
        mcs_config_clear(&cfg);
        mcs_registry_close(r);
}
END_TEST

/* Issue 24 item 2: a static label edited on h2, where the guest does not
 * run, while it runs on h1: h1's running label stays, the new one waits;
 * and a new label refused for a conflict leaves the old record as it was. */
START_TEST(edited_label_never_frees_another_hosts_running_label) {
        mcs_registry *h1 = test_open_registry("h1", "c0.c1023"), *h2 = test_open_registry("h2", "c0.c1023");
        mcs_config cfg;
        mcs_guest_outcome o;
        mcs_record before, now;
        mcs_err e = {0};
        mcs_config_init(&cfg);
        const char *old_sl = "<seclabel type='static'><label>u:r:t:s0:c10,c11</label></seclabel>",
                   *new_sl = "<seclabel type='static'><label>u:r:t:s0:c20,c21</label></seclabel>",
                   *taken_sl = "<seclabel type='static'><label>u:r:t:s0:c30,c31</label></seclabel>";

        apply_as(h1, &cfg, "kvm", "vm1", UUID_A, old_sl, true, true, NULL, &o);
        ck_assert_int_eq(o.status, MCS_GUEST_MANAGED);
        mcs_guest_outcome_clear(&o);
        ck_assert_ok(mcs_registry_set_state(h1, UUID_A, MCS_STATE_RUNNING, &before, &e), &e);

        apply_as(h2, &cfg, "kvm", "vm1", UUID_A, new_sl, true, false, NULL, &o);
        ck_assert_int_eq(o.status, MCS_GUEST_MANAGED);
        ck_assert(o.deferred && !o.replaced && !o.created);
        ck_assert_str_eq(o.why, "runs on host h1 with s0:c10,c11; its new label s0:c20,c21 is reserved when it stops");
        mcs_guest_outcome_clear(&o);
        ck_assert_ok(mcs_registry_get(h2, UUID_A, &now, &e), &e);
        ck_assert_str_eq(now.label, "s0:c10,c11");
        ck_assert_str_eq(now.host, "h1");
        ck_assert_uint_eq(now.generation, before.generation);
        mcs_record_clear(&now);

        /* Stopped on h1; the label h2 wants is another guest's: refused, the old record stays whole. */
        mcs_record_clear(&before);
        ck_assert_ok(mcs_registry_set_state(h1, UUID_A, MCS_STATE_RESERVED, &before, &e), &e);
        mcs_guest other = {.uuid = UUID_B, .name = "vm2", .kind = MCS_KIND_STATIC};
        ck_assert_ok(mcs_registry_reserve_label(h1, &other, "s0:c30,c31", &now, NULL, &e), &e);
        mcs_record_clear(&now);
        apply_as(h2, &cfg, "kvm", "vm1", UUID_A, taken_sl, true, false, NULL, &o);
        ck_assert_int_eq(o.status, MCS_GUEST_REFUSED);
        ck_assert_msg(strstr(o.why, "held by guest vm2"), "%s", o.why);
        mcs_guest_outcome_clear(&o);
        ck_assert_ok(mcs_registry_get(h2, UUID_A, &now, &e), &e);
        ck_assert_str_eq(now.label, "s0:c10,c11");
        ck_assert_uint_eq(now.generation, before.generation);
        ck_assert_int_eq(now.created_us, before.created_us);
        mcs_record_clear(&now);

        /* A free one replaces it, the record now h2's. */
        apply_as(h2, &cfg, "kvm", "vm1", UUID_A, new_sl, true, false, NULL, &o);
        ck_assert_int_eq(o.status, MCS_GUEST_MANAGED);
        ck_assert(o.replaced && !o.deferred);
        ck_assert_str_eq(o.rec.label, "s0:c20,c21");
        ck_assert_str_eq(o.rec.host, "h2");
        mcs_guest_outcome_clear(&o);

        mcs_record_clear(&before);
        mcs_config_clear(&cfg);
        mcs_registry_close(h1);
        mcs_registry_close(h2);
}
END_TEST

/* A label the policy cannot run (a sensitivity above system_u's range) is
 * refused with the reason, in XML as from a running transient guest: such a
 * guest never starts, and its label would still block others. */
START_TEST(rules_refuse_labels_outside_the_policy) {
        mcs_range allowed;
        mcs_registry_config rc = {.create = true, .host_id = "h1", .allowed = &allowed};
        mcs_registry *r;
        mcs_config cfg;
        mcs_err e = {0};
        mcs_guest_outcome o;
        mcs_record rec;
        ck_assert_ok(mcs_range_parse("s0-s0:c0.c1023", &allowed, &e), &e);
        mcs_catset_add_range(&rc.pool, 0, 1023);
        ck_assert_ok(mcs_registry_open(test_db_path, &rc, &r, &e), &e);
        mcs_config_init(&cfg);

        apply(r, &cfg, "kvm", "vm3", UUID_A,
              "<seclabel type='static' model='selinux' relabel='yes'><label>system_u:system_r:svirt_t:s3:c7,c8</label>"
              "</seclabel>", true, &o);
        ck_assert_int_eq(o.status, MCS_GUEST_REFUSED);
        ck_assert_msg(strstr(o.why, "label s3:c7,c8 is outside s0-s0:c0.c1023, the range the SELinux policy allows"),
                      "%s", o.why);
        mcs_guest_outcome_clear(&o);
        apply_live(r, &cfg, "kvm", "vm4", UUID_B,
                   "<seclabel type='static'><label>system_u:system_r:svirt_t:s0-s1:c5,c6</label></seclabel>", false,
                   "system_u:system_r:svirt_t:s0-s1:c5,c6", &o);
        ck_assert_int_eq(o.status, MCS_GUEST_REFUSED);
        ck_assert_msg(strstr(o.why, "outside s0-s0:c0.c1023"), "%s", o.why);
        mcs_guest_outcome_clear(&o);
        ck_assert_fails(mcs_registry_get(r, UUID_A, &rec, &e), &e, MCS_E_NOTFOUND, "");
        ck_assert_fails(mcs_registry_get(r, UUID_B, &rec, &e), &e, MCS_E_NOTFOUND, "");

        /* Within the range: registered. */
        apply(r, &cfg, "kvm", "vm3", UUID_A,
              "<seclabel type='static'><label>system_u:system_r:svirt_t:s0:c7,c8</label></seclabel>", true, &o);
        ck_assert_int_eq(o.status, MCS_GUEST_MANAGED);
        mcs_guest_outcome_clear(&o);
        mcs_config_clear(&cfg);
        mcs_registry_close(r);
}
END_TEST

int main(void) {
        Suite *s = suite_create("domain");
        TCase *tc = tcase_create("xml");
        tcase_add_test(tc, parse_seclabel_modes);
        tcase_add_test(tc, parse_rejections);
        tcase_add_test(tc, parse_disks);
        tcase_add_test(tc, rewrite_keeps_everything_else);
        tcase_add_test(tc, kept_document_edited_in_place);
        suite_add_tcase(s, tc);
        TCase *rules = tcase_create("rules");
        tcase_add_checked_fixture(rules, test_db_setup, test_db_teardown);
        tcase_set_timeout(rules, 60);
        tcase_add_test(rules, label_types);
        tcase_add_test(rules, rules_dynamic_static_and_unmanaged);
        tcase_add_test(rules, rules_adopt_live_labels);
        tcase_add_test(rules, host_secmodels);
        tcase_add_test(rules, rules_without_selinux);
        tcase_add_test(rules, running_guest_keeps_its_label);
        tcase_add_test(rules, edited_label_never_frees_another_hosts_running_label);
        tcase_add_test(rules, rules_refuse_labels_outside_the_policy);
        suite_add_tcase(s, rules);
        return test_run(s);
}
