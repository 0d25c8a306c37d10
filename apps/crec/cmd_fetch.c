/* cmd_fetch.c: `crec data fetch NAME`: download, verify and unpack a public dataset via crec_fetch.
 * stdout gets exactly one line, the folder holding the data files, so scripts can do
 * `dir=$(crec data fetch ml-100k)`; everything for people (progress, hints, errors) goes to stderr. */
#include "cmd_fetch.h"

#include <stdio.h>
#include <string.h>

#include "crec/fetch.h"

static void usage(FILE *out) {
    char cache[1024];
    crec_fetch_cache_dir(cache, sizeof cache);
    fprintf(out,
            "usage: crec data fetch NAME [--cache DIR] [--url URL] [--md5 HEX] [--force]\n"
            "       crec data fetch --list\n"
            "\n"
            "Download a public dataset from its official URL, verify its MD5, unpack it, and print the\n"
            "folder holding the data files. A verified archive in the cache is not downloaded again.\n"
            "\n"
            "  --cache DIR  cache folder (default: $CREC_CACHE, else $XDG_CACHE_HOME/crec, else ~/.cache/crec;\n"
            "               now %s)\n"
            "  --url URL    download from URL instead (http://, https:// or file:///path/to/NAME.zip)\n"
            "  --md5 HEX    expected MD5 of the archive (default: the registry's, else the published URL.md5)\n"
            "  --force      download and unpack again even if cached\n"
            "  --list       show the datasets that can be fetched\n"
            "  -h, --help   show this help\n",
            cache);
}

static void list_sources(void) {
    int w = 4;
    for (int i = 0; i < crec_fetch_count(); i++) {
        int n = (int)strlen(crec_fetch_at(i)->name);
        if (n > w) w = n;
    }
    for (int i = 0; i < crec_fetch_count(); i++) {
        const crec_fetch_source *s = crec_fetch_at(i);
        printf("%-*s  %s\n%-*s  %s\n", w, s->name, s->desc, w, "", s->url);
    }
}

/* Value of "--opt VALUE" or "--opt=VALUE" at argv[*i]; NULL (and a message) when missing. */
static const char *opt_value(int argc, char **argv, int *i, const char *opt) {
    size_t n = strlen(opt);
    if (argv[*i][n] == '=') return argv[*i] + n + 1;
    if (*i + 1 >= argc) {
        fprintf(stderr, "crec data fetch: %s needs a value\n", opt);
        return NULL;
    }
    return argv[++*i];
}

static int is_opt(const char *arg, const char *opt) {
    size_t n = strlen(opt);
    return strncmp(arg, opt, n) == 0 && (arg[n] == 0 || arg[n] == '=');
}

int crec_cmd_data_fetch(int argc, char **argv) {
    crec_fetch_opts o;
    memset(&o, 0, sizeof o);
    o.progress = 1;
    const char *name = NULL;
    int list = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--list") == 0) {
            list = 1;
        } else if (strcmp(a, "--force") == 0) {
            o.force = 1;
        } else if (is_opt(a, "--cache")) {
            if (!(o.cache_dir = opt_value(argc, argv, &i, "--cache"))) return 2;
        } else if (is_opt(a, "--url")) {
            if (!(o.url = opt_value(argc, argv, &i, "--url"))) return 2;
        } else if (is_opt(a, "--md5")) {
            if (!(o.md5 = opt_value(argc, argv, &i, "--md5"))) return 2;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "crec data fetch: unknown option %s\n", a);
            usage(stderr);
            return 2;
        } else if (name) {
            fprintf(stderr, "crec data fetch: one dataset at a time (got %s and %s)\n", name, a);
            return 2;
        } else {
            name = a;
        }
    }
    if (list) {
        list_sources();
        return 0;
    }
    if (!name) {
        fprintf(stderr, "crec data fetch: which dataset? (crec data fetch --list shows them)\n");
        usage(stderr);
        return 2;
    }
    int rc = crec_fetch(name, &o);
    if (rc) {
        fprintf(stderr, "crec data fetch: %s\n", o.err[0] ? o.err : crec_strerror(rc));
        return 1;
    }
    const crec_fetch_source *src = crec_fetch_find(name);
    printf("%s\n", o.path);
    fflush(stdout);
    fprintf(stderr, "import it with: crec data import --format %s --input %s --out %s.crecds\n",
            src && src->format ? src->format : "movielens", o.path, name);
    return 0;
}
