/* web_assets.h: the dashboard's static files compiled into libcrec (the generated web_assets.c, made from
 * the files in web/ by web/embed.cmake at build time). */
#ifndef CREC_SERVE_WEB_ASSETS_H
#define CREC_SERVE_WEB_ASSETS_H
#include <stddef.h>

typedef struct crec__web_asset {
    const char *path;  /* "/index.html" */
    const char *type;  /* Content-Type */
    const unsigned char *data;
    size_t len;
} crec__web_asset;

/* NULL-path terminated; crec__web_n_assets entries before the terminator. */
extern const crec__web_asset crec__web_assets[];
extern const int crec__web_n_assets;
#endif
