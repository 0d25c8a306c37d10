/* fetch.c: download public datasets from their official URLs into a cache folder, verify, unpack.
 * The one idea: nothing lands under its final name before it is verified. The archive downloads to
 * <cache>/<name>.zip.part and becomes <name>.zip only once its MD5 matches (the registry's digest, the
 * caller's, or the publisher's <url>.md5 file fetched first); it unpacks into a fresh temp folder that is
 * renamed to <cache>/<name>/ only once every entry's CRC matched. So an interrupted or corrupt fetch is
 * never mistaken for a cached one, and a second fetch of a verified archive does no network I/O. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "core/util.h"
#include "crec/fetch.h"
#include "data/md5.h"

#define FETCH_PATH_MAX 4096
#define FETCH_MD5_FILE_MAX 4096 /* a publisher's .md5 file is one line; refuse anything bigger */
#define FETCH_MARKER ".crec-archive-md5"

#define ML_URL(name) "https://files.grouplens.org/datasets/movielens/" name ".zip"

/* Digests are the ones GroupLens publishes in <url>.md5 ("MD5 (ml-1m.zip) = ..."), each cross-checked
 * in several independent public projects that pin them; ml-latest-small is re-released from time to time,
 * so it has none and is verified against the live <url>.md5 instead. */
static const crec_fetch_source fetch_sources[] = {
    {"ml-100k", ML_URL("ml-100k"), "0e33842e24a9c977be4e0107933c0723", "movielens", "ml-100k",
     "MovieLens 100K: 100,000 ratings, 943 users, 1,682 movies (1998), 5 MB"},
    {"ml-1m", ML_URL("ml-1m"), "c4d9eecfca2ab87c1945afe126590906", "movielens", "ml-1m",
     "MovieLens 1M: 1,000,209 ratings, 6,040 users, 3,706 movies (2003), 6 MB"},
    {"ml-10m", ML_URL("ml-10m"), "ce571fd55effeba0271552578f2648bd", "movielens", "ml-10M100K",
     "MovieLens 10M: 10,000,054 ratings, 69,878 users, 10,677 movies (2009), 63 MB"},
    {"ml-20m", ML_URL("ml-20m"), "cd245b17a1ae2cc31bb14903e1204af3", "movielens", "ml-20m",
     "MovieLens 20M: 20,000,263 ratings, 138,493 users, 27,278 movies (2015), 190 MB"},
    {"ml-25m", ML_URL("ml-25m"), "6b51fb2759a8657d3bfcbfc42b592ada", "movielens", "ml-25m",
     "MovieLens 25M: 25,000,095 ratings, 162,541 users, 62,423 movies (2019), 250 MB"},
    {"ml-latest-small", ML_URL("ml-latest-small"), NULL, "movielens", "ml-latest-small",
     "MovieLens latest small: ~100,000 ratings, 610 users, 9,700 movies (updated), 1 MB"},
};

#define FETCH_NSOURCES ((int)(sizeof fetch_sources / sizeof fetch_sources[0]))

/* Number of registered sources (a static table; nothing to free). */
int crec_fetch_count(void) { return FETCH_NSOURCES; }

/* Borrowed pointer into a static table, or NULL when i is out of range. */
const crec_fetch_source *crec_fetch_at(int i) { return i >= 0 && i < FETCH_NSOURCES ? &fetch_sources[i] : NULL; }

/* Borrowed pointer into a static table, or NULL when the name is unknown. */
const crec_fetch_source *crec_fetch_find(const char *name) {
    if (!name) return NULL;
    for (int i = 0; i < FETCH_NSOURCES; i++)
        if (strcmp(fetch_sources[i].name, name) == 0) return &fetch_sources[i];
    return NULL;
}

/* Writes the folder into buf (truncated to n, always NUL-terminated when n > 0); creates nothing.
 * XDG_CACHE_HOME is ignored unless absolute, as the XDG spec asks; without HOME: ./.crec-cache. */
void crec_fetch_cache_dir(char *buf, size_t n) {
    if (!buf || n == 0) return;
    const char *e = getenv("CREC_CACHE");
    if (e && *e) {
        snprintf(buf, n, "%s", e);
        return;
    }
    e = getenv("XDG_CACHE_HOME");
    if (e && e[0] == '/') {
        snprintf(buf, n, "%s/crec", e);
        return;
    }
    e = getenv("HOME");
    if (e && *e)
        snprintf(buf, n, "%s/.cache/crec", e);
    else
        snprintf(buf, n, ".crec-cache");
}

/* ---- small file-system helpers ---- */

/* snprintf that reports truncation as CREC_EINVAL with a message. */
static int path_fmt(char *buf, size_t n, char *err, size_t errn, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int path_fmt(char *buf, size_t n, char *err, size_t errn, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf, n, fmt, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= n) {
        crec__errf(err, errn, "path too long (over %zu bytes): %.80s...", n - 1, buf);
        return CREC_EINVAL;
    }
    return 0;
}

/* mkdir -p; existing directories (or symlinks to them) are fine. 0 or -1 with errno. */
static int mkdir_p(const char *path) {
    char tmp[FETCH_PATH_MAX];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(tmp, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (tmp[i] != '/' && tmp[i] != 0) continue;
        if (tmp[i - 1] == '/') continue;
        char c = tmp[i];
        tmp[i] = 0;
        struct stat st;
        if (mkdir(tmp, 0755) != 0 && !(errno == EEXIST && stat(tmp, &st) == 0 && S_ISDIR(st.st_mode))) {
            if (errno == EEXIST) errno = ENOTDIR;
            return -1;
        }
        tmp[i] = c;
    }
    return 0;
}

static int is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* rm -rf of name relative to dirfd, never following symlinks (a link is removed, not its target). */
static int rm_tree_at(int at, const char *name) {
    struct stat st;
    if (fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW) != 0) return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode)) return unlinkat(at, name, 0);
    int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return -1;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return -1;
    }
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
        if (rm_tree_at(dirfd(d), de->d_name) != 0) rc = -1;
    }
    closedir(d);
    if (unlinkat(at, name, AT_REMOVEDIR) != 0) rc = -1;
    return rc;
}

/* Copies the first 32-hex-digit word of text (lowercased) into hex[33]; accepts both the BSD form
 * "MD5 (ml-1m.zip) = <hex>" GroupLens publishes and the GNU form "<hex>  ml-1m.zip". 1 found, 0 not. */
static int find_md5_word(const char *text, size_t n, char hex[33]) {
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && isxdigit((unsigned char)text[i - 1])) continue;
        size_t k = 0;
        while (i + k < n && isxdigit((unsigned char)text[i + k])) k++;
        if (k == 32) {
            for (size_t j = 0; j < 32; j++) hex[j] = (char)tolower((unsigned char)text[i + j]);
            hex[32] = 0;
            return 1;
        }
        i += k;
    }
    return 0;
}

/* Reads a small text file holding a digest (our own markers). 1 found, 0 otherwise. */
static int read_md5_file(const char *path, char hex[33]) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    char buf[256];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    return find_md5_word(buf, n, hex);
}

/* Writes "<hex>  <label>\n" to path atomically (temp file + rename). 0 or -1 with errno. */
static int write_md5_file(const char *path, const char *hex, const char *label) {
    char tmp[FETCH_PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    FILE *f = fopen(tmp, "wb");
    if (!f) return -1;
    int ok = fprintf(f, "%s  %s\n", hex, label) > 0;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        errno = e;
        return -1;
    }
    return 0;
}

/* ---- libcurl ---- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;
static void curl_init_once(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

/* Where a transfer's bytes go: an open file, or a bounded memory buffer. */
typedef struct fetch_sink {
    FILE *f;
    char *mem;
    size_t len, cap;
    int write_errno;  /* errno of a failed fwrite */
    int overflow;     /* memory sink was full */
    crec_progress bar;
    const char *label;
    int progress, bar_started;
} fetch_sink;

static size_t on_write(char *p, size_t size, size_t nmemb, void *ud) {
    fetch_sink *s = ud;
    size_t n = size * nmemb;
    if (s->f) {
        errno = 0;
        size_t put = fwrite(p, 1, n, s->f);
        if (put != n) s->write_errno = errno ? errno : EIO;
        return put;
    }
    if (n > s->cap - s->len) {
        s->overflow = 1;
        return 0;
    }
    memcpy(s->mem + s->len, p, n);
    s->len += n;
    return n;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow) {
    fetch_sink *s = ud;
    (void)ultotal;
    (void)ulnow;
    if (!s->progress || dltotal <= 0) return 0;
    if (!s->bar_started) {
        crec__progress_start(&s->bar, s->label, (int64_t)dltotal, 1);
        s->bar_started = 1;
    }
    crec__progress_update(&s->bar, (int64_t)dlnow);
    return 0;
}

/* Host part of a URL for messages ("files.grouplens.org"), into buf. */
static void url_host(const char *url, char *buf, size_t n) {
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    const char *at = p + strcspn(p, "/?#");
    const char *user = memchr(p, '@', (size_t)(at - p));
    if (user) p = user + 1;
    size_t k = strcspn(p, "/?#");
    if (p[0] != '[') k = strcspn(p, ":/?#"); /* drop the port unless an IPv6 literal */
    snprintf(buf, n, "%.*s", (int)k, p);
}

/* GET url into the sink. 0, or CREC_ENET (network / HTTP >= 400, with the offline hint where it fits),
 * CREC_EIO (local write failed, or a file:// URL that cannot be read), CREC_EINVAL (bad URL),
 * CREC_EFORMAT (memory sink overflow), CREC_ENOMEM; err gets the reason. name is for the hint. */
static int fetch_url(const char *url, const char *name, fetch_sink *s, const char *sink_path, char *err,
                     size_t errn) {
    pthread_once(&curl_once, curl_init_once);
    if (curl_init_rc != CURLE_OK) {
        crec__errf(err, errn, "cannot initialise libcurl: %s", curl_easy_strerror(curl_init_rc));
        return CREC_ENET;
    }
    CURL *c = curl_easy_init();
    if (!c) return CREC_ENOMEM;
    char cerr[CURL_ERROR_SIZE];
    cerr[0] = 0;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https,file");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L); /* HTTP >= 400 is an error, and its body is not kept */
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 20L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L); /* a stalled transfer fails after a minute */
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "crec/" CREC_VERSION_STRING);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, s);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, s->progress ? 0L : 1L);
    CURLcode cr = curl_easy_perform(c);
    long http = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &http);
    curl_easy_cleanup(c);
    if (s->bar_started) crec__progress_end(&s->bar);
    if (cr == CURLE_OK) return 0;
    const char *msg = cerr[0] ? cerr : curl_easy_strerror(cr);
    if (cr == CURLE_HTTP_RETURNED_ERROR) {
        crec__errf(err, errn, "HTTP %ld from %s", http, url);
        return CREC_ENET;
    }
    if (cr == CURLE_WRITE_ERROR && s->write_errno) {
        crec__errf(err, errn, "cannot write %s: %s", sink_path, strerror(s->write_errno));
        return CREC_EIO;
    }
    if (cr == CURLE_WRITE_ERROR && s->overflow) {
        crec__errf(err, errn, "%s is over %zu bytes: not a checksum file", url, s->cap);
        return CREC_EFORMAT;
    }
    if (cr == CURLE_OUT_OF_MEMORY) return CREC_ENOMEM;
    if (cr == CURLE_UNSUPPORTED_PROTOCOL || cr == CURLE_URL_MALFORMAT) {
        crec__errf(err, errn, "cannot download %s: %s (use an http://, https:// or file:// URL)", url, msg);
        return CREC_EINVAL;
    }
    if (strncmp(url, "file:", 5) == 0) {
        crec__errf(err, errn, "cannot read %s: %s", url, msg);
        return CREC_EIO;
    }
    char host[256];
    url_host(url, host, sizeof host);
    crec__errf(err, errn,
               "cannot download %s: %s (are you offline? crec data fetch needs network access to %s; "
               "or pass --url file:///path/to/%s.zip)",
               url, msg, host, name);
    return CREC_ENET;
}

/* The publisher's digest from <url>.md5 into hex[33]. */
static int fetch_remote_md5(const char *url, const char *name, char hex[33], char *err, size_t errn) {
    char md5_url[FETCH_PATH_MAX];
    int rc = path_fmt(md5_url, sizeof md5_url, err, errn, "%s.md5", url);
    if (rc) return rc;
    char text[FETCH_MD5_FILE_MAX];
    fetch_sink s = {.mem = text, .cap = sizeof text, .label = "checksum"};
    if ((rc = fetch_url(md5_url, name, &s, NULL, err, errn))) return rc;
    if (!find_md5_word(text, s.len, hex)) {
        crec__errf(err, errn, "no MD5 digest found in %s", md5_url);
        return CREC_EFORMAT;
    }
    return 0;
}

/* Normalises a caller digest to lowercase hex; 1 ok, 0 malformed. */
static int normalise_md5(const char *in, char out[33]) {
    if (strlen(in) != 32) return 0;
    for (int i = 0; i < 32; i++) {
        if (!isxdigit((unsigned char)in[i])) return 0;
        out[i] = (char)tolower((unsigned char)in[i]);
    }
    out[32] = 0;
    return 1;
}

/* Unpack zip (whose digest is hex) into out via a temp folder next to it, then write the marker. */
static int unpack(const char *cache, const char *name, const char *zip, const char *out, const char *hex,
                  char *err, size_t errn) {
    char tmp[FETCH_PATH_MAX], marker[FETCH_PATH_MAX];
    int rc = path_fmt(tmp, sizeof tmp, err, errn, "%s/.%s.unpack-XXXXXX", cache, name);
    if (rc) return rc;
    if (!mkdtemp(tmp)) {
        crec__errf(err, errn, "cannot create a folder in %s: %s", cache, strerror(errno));
        return CREC_EIO;
    }
    rc = crec_unzip(zip, tmp, err, errn);
    if (!rc && (rc = path_fmt(marker, sizeof marker, err, errn, "%s/" FETCH_MARKER, tmp)) == 0 &&
        write_md5_file(marker, hex, zip) != 0) {
        crec__errf(err, errn, "cannot write %s: %s", marker, strerror(errno));
        rc = CREC_EIO;
    }
    if (!rc && rm_tree_at(AT_FDCWD, out) != 0) {
        crec__errf(err, errn, "cannot remove the old folder %s: %s", out, strerror(errno));
        rc = CREC_EIO;
    }
    if (!rc && rename(tmp, out) != 0) {
        crec__errf(err, errn, "cannot rename %s to %s: %s", tmp, out, strerror(errno));
        rc = CREC_EIO;
    }
    if (rc) rm_tree_at(AT_FDCWD, tmp);
    return rc;
}

/* Fills o->path (the folder with the data files) and o->err; the caller owns o. The cache folder is
 * created if missing. On failure no <name>.zip.part is left and no unverified <name>.zip or folder appears. */
int crec_fetch(const char *name, crec_fetch_opts *o) {
    if (!o) return CREC_EINVAL;
    o->err[0] = 0;
    o->path[0] = 0;
    char *err = o->err;
    size_t errn = sizeof o->err;
    const crec_fetch_source *src = crec_fetch_find(name);
    if (!src) {
        crec__errf(err, errn, "unknown dataset '%s' (crec data fetch --list shows the known ones)",
                   name ? name : "(null)");
        return CREC_ENOTFOUND;
    }
    char want[33] = "";
    const char *given = o->md5 && o->md5[0] ? o->md5 : src->md5;
    if (given && !normalise_md5(given, want)) {
        crec__errf(err, errn, "bad MD5 digest '%s' (expected 32 hex digits)", given);
        return CREC_EINVAL;
    }
    char cache[FETCH_PATH_MAX], zip[FETCH_PATH_MAX], part[FETCH_PATH_MAX], stamp[FETCH_PATH_MAX];
    char out[FETCH_PATH_MAX], marker[FETCH_PATH_MAX];
    int rc;
    if (o->cache_dir && o->cache_dir[0]) {
        if ((rc = path_fmt(cache, sizeof cache, err, errn, "%s", o->cache_dir))) return rc;
    } else {
        crec_fetch_cache_dir(cache, sizeof cache);
    }
    if ((rc = path_fmt(zip, sizeof zip, err, errn, "%s/%s.zip", cache, name)) ||
        (rc = path_fmt(part, sizeof part, err, errn, "%s.part", zip)) ||
        (rc = path_fmt(stamp, sizeof stamp, err, errn, "%s.md5", zip)) ||
        (rc = path_fmt(out, sizeof out, err, errn, "%s/%s", cache, name)) ||
        (rc = path_fmt(marker, sizeof marker, err, errn, "%s/" FETCH_MARKER, out)))
        return rc;
    if (mkdir_p(cache) != 0) {
        crec__errf(err, errn, "cannot create the cache folder %s: %s", cache, strerror(errno));
        return CREC_EIO;
    }
    const char *url = o->url && o->url[0] ? o->url : src->url;

    /* 1. a cached archive counts only if it matches the expected digest (or the one recorded when it was
     *    verified, for sources without a fixed digest); anything else is stale and goes */
    char have[33] = "";
    int cached = 0;
    if (!o->force && is_file(zip)) {
        char ref[33];
        const char *expect = want[0] ? want : (read_md5_file(stamp, ref) ? ref : NULL);
        if (expect && crec_md5_file(zip, have) == 0 && strcmp(have, expect) == 0) {
            cached = 1;
            memcpy(want, expect, 33);
        }
    }
    if (!cached) {
        unlink(zip);
        unlink(stamp);
        if (!want[0] && (rc = fetch_remote_md5(url, name, want, err, errn))) return rc;
        /* 2. download to the .part file */
        crec__log("crec: downloading %s", url);
        FILE *f = fopen(part, "wb");
        if (!f) {
            crec__errf(err, errn, "cannot create %s: %s", part, strerror(errno));
            return CREC_EIO;
        }
        fetch_sink s = {.f = f, .label = name, .progress = o->progress};
        rc = fetch_url(url, name, &s, part, err, errn);
        if (fclose(f) != 0 && !rc) {
            crec__errf(err, errn, "cannot write %s: %s", part, strerror(errno));
            rc = CREC_EIO;
        }
        /* 3. verify, then give it its final name */
        if (!rc && (rc = crec_md5_file(part, have)) != 0)
            crec__errf(err, errn, "cannot read %s: %s", part, strerror(errno));
        if (!rc && strcmp(have, want) != 0) {
            crec__errf(err, errn, "checksum mismatch for %s: expected MD5 %s, got %s (download corrupt or the "
                       "file changed upstream; the partial file was deleted)", url, want, have);
            rc = CREC_ECHECKSUM;
        }
        if (!rc && rename(part, zip) != 0) {
            crec__errf(err, errn, "cannot rename %s to %s: %s", part, zip, strerror(errno));
            rc = CREC_EIO;
        }
        if (rc) {
            unlink(part);
            return rc;
        }
        if (write_md5_file(stamp, want, name) != 0)
            crec__log("crec: warning: cannot write %s: %s (the archive will be re-downloaded next time)", stamp,
                      strerror(errno));
    } else {
        crec__log("crec: using the cached %s (MD5 %s verified)", zip, want);
    }

    /* 4. unpack unless the folder already holds this very archive */
    char done[33];
    if (o->force || !cached || !read_md5_file(marker, done) || strcmp(done, want) != 0) {
        if ((rc = unpack(cache, name, zip, out, want, err, errn))) return rc;
    }
    char data[FETCH_PATH_MAX];
    if ((rc = path_fmt(data, sizeof data, err, errn, "%s/%s", out, src->subdir ? src->subdir : ""))) return rc;
    const char *found = src->subdir && src->subdir[0] && is_dir(data) ? data : out;
    if ((rc = path_fmt(o->path, sizeof o->path, err, errn, "%s", found))) return rc;
    return 0;
}
