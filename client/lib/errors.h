/* Error codes: text for strata_resp_err_t, and the translation of broker
 * ErrorCodes (errors.proto) and common ST_E* values into it, done once at
 * the boundary. Runs on: any thread. */
#ifndef ST_CLIENT_ERRORS_H
#define ST_CLIENT_ERRORS_H

#include <stdbool.h>
#include <stdint.h>

#include "strata.h"

/* A broker ErrorCode as strata_resp_err_t (the values are equal; codes this
 * library does not know map to STRATA_ERR_UNKNOWN). */
strata_resp_err_t cl_err_from_broker(int32_t code);
/* A transport status (ST_ETIMEDOUT, ST_ECLOSED, ST_ETLS...) as a local
 * error. */
strata_resp_err_t cl_err_from_st(int rv);
/* Whether a produce/fetch failing with @err should be retried after a
 * metadata refresh or backoff (leadership moved, connection lost...). */
bool cl_err_retriable(strata_resp_err_t err);
/* Whether @err means our leader information is stale. */
bool cl_err_needs_metadata(strata_resp_err_t err);

#endif
