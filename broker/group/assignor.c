/* The assignor registry and the helpers every assignor shares. */
#include <string.h>

#include "broker/group/group.h"
#include "common/alloc.h"
#include "common/err.h"

static const struct st_group_assignor *const assignors[] = {
    &st_group_assignor_uniform,
    &st_group_assignor_range,
};

const struct st_group_assignor *st_group_assignor_find(const char *name)
{
    for (size_t i = 0; i < sizeof assignors / sizeof assignors[0]; i++) {
        if (name != NULL && strcmp(assignors[i]->name, name) == 0) {
            return assignors[i];
        }
    }
    return NULL;
}

void st_assign_output_free(struct st_assign_output *out)
{
    if (out->parts != NULL) {
        for (unsigned i = 0; i < out->n_members; i++) {
            st_free(out->parts[i]);
        }
    }
    st_free(out->parts);
    st_free(out->n_parts);
    memset(out, 0, sizeof *out);
}

int st_group_assign(const struct st_group_assignor *a,
                    const struct st_assign_input *in,
                    struct st_assign_output *out)
{
    memset(out, 0, sizeof *out);
    int rv = a->assign(in, out);
    if (rv != 0) {
        st_assign_output_free(out);
    }
    return rv;
}
