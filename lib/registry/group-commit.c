#include "mcs-group-commit.h"

int mcs_registry_group_write(mcs_registry *r, size_t n, mcs_group_write_fn write, void *ctx, size_t *stands,
                             mcs_err *why) {
        mcs_err e = {0};
        bool batched = false;

        *stands = 0;
        if (n > 1) {
                int rc = mcs_registry_batch_begin(r, &e);
                if (rc < 0 && mcs_registry_fault_code(e.code)) {
                        *why = e;
                        return rc;
                }
                /* Any other refusal to begin: each write commits itself. */
                batched = rc == 0 && mcs_registry_in_batch(r);
        }
        int fault = 0;
        size_t ran = 0;
        for (; ran < n; ran++) {
                e = (mcs_err){0};
                int rc = write(ctx, ran, &e);
                if (rc < 0 && mcs_registry_fault_code(e.code)) {
                        fault = rc;
                        *why = e;
                        break;
                }
        }
        if (batched) {
                int rc = mcs_registry_batch_end(r, !fault, &e);
                if (fault)
                        return fault; /* rolled back: none stands */
                if (rc < 0) {
                        *why = e;
                        return rc;
                }
                *stands = n;
                return 0;
        }
        *stands = ran;
        return fault;
}
