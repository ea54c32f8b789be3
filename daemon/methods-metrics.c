/* The method metrics: the Prometheus text of metrics-render.c, for
 * `mcsctl metrics` (any reader may call it, as status). */
#include <stdlib.h>

#include "methods.h"
#include "metrics-render.h"

int method_metrics(request *rq, json_object **result, reply_err *err) {
        mcs_err e = {0};
        char *text = metrics_render(rq->d, &e);
        if (!text)
                return fail_mcs(err, &e);
        json_object *o = json_object_new_object();
        json_object_object_add(o, "text", json_object_new_string(text));
        free(text);
        *result = o;
        return 0;
}
