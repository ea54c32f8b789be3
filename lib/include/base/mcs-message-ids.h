/* The journal's MESSAGE_ID of each event kind an operator filters or
 * alerts on; contrib/systemd/mcsd.catalog explains each. Fixed forever:
 * alerts and saved journalctl filters name them. mcsd and `mcsctl hook`
 * send them; not part of libmcs's installed headers. */
#pragma once

#define MCS_MSGID_RESERVED "0f238d424e5d4d31aaca66c25f547095"          /* a label was reserved for a guest */
#define MCS_MSGID_RELEASED "a186cd1b14be47669a230e1cb6002393"          /* a guest's label was released */
#define MCS_MSGID_REFUSED "6d638552fe7b41db89629c61b1cf8a09"           /* a guest's label is refused */
#define MCS_MSGID_COLLISION "087689b7e1814004b0ac3e933dd8a7a0"         /* two guests run with overlapping labels */
#define MCS_MSGID_COLLISION_CLEARED "dbe1bec21d344ecaa2fd3563cf77f8af" /* such a collision ended */
#define MCS_MSGID_REGISTRY_FAILING "5a1c6e85731140859572baf4900dbb79"  /* the registry fails */
#define MCS_MSGID_REGISTRY_RECOVERED "b6a378a20ce446adac14ae38d5d1eefd" /* the registry works again */
#define MCS_MSGID_HOOK_REFUSED "1bef2a8a261349288afbb00c86fcb167"      /* the hook refused a start */
#define MCS_MSGID_FAIL_OPEN "35f8205cb9bd46eeb6bc87b747f3dc7a"         /* a start went on without mcsd's word */
