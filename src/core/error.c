/* error.c: the error table's messages and names (see CREC_ERRNO_MAP in crec/common.h). */
#include "crec/common.h"

const char *crec_strerror(int err) {
    switch (err) {
    case 0: return "success";
#define X(name, val, msg) case val: return msg;
        CREC_ERRNO_MAP(X)
#undef X
    default: return "unknown error";
    }
}

const char *crec_errname(int err) {
    switch (err) {
    case 0: return "CREC_OK";
#define X(name, val, msg) case val: return "CREC_E" #name;
        CREC_ERRNO_MAP(X)
#undef X
    default: return "CREC_EUNKNOWN";
    }
}

const char *crec_version(void) { return CREC_VERSION_STRING; }
