/* test_fetch.c: MD5 against RFC 1321 vectors, the zip reader on archives written byte by byte here
 * (stored + deflated entries, bad CRC, "../" names, truncation, single-byte corruption), and crec_fetch
 * end to end over file:// URLs and a tiny HTTP server on 127.0.0.1 run by this test. The real network is
 * never touched; everything lives in one mkdtemp folder under /tmp, removed at the end. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#include "crec/fetch.h"
#include "data/md5.h"

static char g_root[256]; /* the test's temp folder */

/* ---------------------------------------------------------------- helpers */

static void pathf(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void pathf(char *buf, size_t n, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf, n, fmt, ap);
    va_end(ap);
    assert_true(k > 0 && (size_t)k < n);
}

static int exists(const char *path) {
    struct stat st;
    return lstat(path, &st) == 0;
}

static void write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/* Whole file into a malloc'ed buffer (caller frees); NULL when missing. */
static unsigned char *read_all(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)len + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return b;
}

static void assert_file_equals(const char *path, const void *want, size_t n) {
    size_t got_n = 0;
    unsigned char *got = read_all(path, &got_n);
    if (!got) fail_msg("missing file %s", path);
    assert_int_equal(got_n, n);
    assert_memory_equal(got, want, n);
    free(got);
}

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void rm_rf(const char *path) { nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS); }

/* A fresh empty folder g_root/<name>; path out. */
static void fresh_dir(char *out, size_t n, const char *name) {
    pathf(out, n, "%s/%s", g_root, name);
    rm_rf(out);
    assert_int_equal(mkdir(out, 0755), 0);
}

/* Number of entries in a folder, "." and ".." excluded; -1 when it cannot be read. */
static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) n++;
    closedir(d);
    return n;
}

/* ---------------------------------------------------------------- zip writer (the format, by hand) */

typedef struct zin {
    const char *name;
    const void *data;
    size_t n;
    int method;     /* 0 stored, 8 deflate */
    int bad_crc;    /* store crc ^ 1 */
    size_t declared; /* uncompressed size written in the headers; 0: the true n */
} zin;

typedef struct zbuf {
    unsigned char *b;
    size_t len, cap;
} zbuf;

static void zput(zbuf *z, const void *p, size_t n) {
    if (z->len + n > z->cap) {
        z->cap = (z->len + n) * 2 + 64;
        z->b = realloc(z->b, z->cap);
        assert_non_null(z->b);
    }
    memcpy(z->b + z->len, p, n);
    z->len += n;
}
static void zu16(zbuf *z, unsigned v) {
    unsigned char b[2] = {(unsigned char)v, (unsigned char)(v >> 8)};
    zput(z, b, 2);
}
static void zu32(zbuf *z, uint32_t v) {
    unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    zput(z, b, 4);
}

/* Raw deflate (windowBits -15, as zip stores it); caller frees. */
static unsigned char *raw_deflate(const void *data, size_t n, size_t *out_n) {
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = deflateBound(&zs, (uLong)n);
    unsigned char *out = malloc(cap);
    assert_non_null(out);
    zs.next_in = (unsigned char *)data;
    zs.avail_in = (uInt)n;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
    *out_n = zs.total_out;
    deflateEnd(&zs);
    return out;
}

/* Builds a zip of k entries; data_at[i] (optional) gets the offset of entry i's data. Caller frees. */
static unsigned char *build_zip(const zin *e, int k, size_t *len, size_t *data_at, size_t *data_len) {
    zbuf z = {0};
    size_t *loc = calloc((size_t)k, sizeof *loc), *csz = calloc((size_t)k, sizeof *csz);
    uint32_t *crcs = calloc((size_t)k, sizeof *crcs);
    assert_true(loc && csz && crcs);
    for (int i = 0; i < k; i++) {
        size_t cn = e[i].n;
        unsigned char *comp = NULL;
        const void *payload = e[i].data;
        if (e[i].method == 8) {
            comp = raw_deflate(e[i].data, e[i].n, &cn);
            payload = comp;
        }
        crcs[i] = (uint32_t)crc32(0, e[i].data, (uInt)e[i].n) ^ (e[i].bad_crc ? 1u : 0u);
        csz[i] = cn;
        loc[i] = z.len;
        size_t nl = strlen(e[i].name);
        zu32(&z, 0x04034b50);
        zu16(&z, 20);           /* version needed */
        zu16(&z, 0);            /* flags */
        zu16(&z, (unsigned)e[i].method);
        zu16(&z, 0);            /* time */
        zu16(&z, 0x21);         /* date: 1980-01-01 */
        zu32(&z, crcs[i]);
        zu32(&z, (uint32_t)cn);
        zu32(&z, (uint32_t)(e[i].declared ? e[i].declared : e[i].n));
        zu16(&z, (unsigned)nl);
        zu16(&z, 0);            /* extra */
        zput(&z, e[i].name, nl);
        if (data_at) data_at[i] = z.len;
        if (data_len) data_len[i] = cn;
        if (cn) zput(&z, payload, cn);
        free(comp);
    }
    size_t cd_off = z.len;
    for (int i = 0; i < k; i++) {
        size_t nl = strlen(e[i].name);
        zu32(&z, 0x02014b50);
        zu16(&z, 0x031e);       /* made by: unix, 3.0 */
        zu16(&z, 20);
        zu16(&z, 0);
        zu16(&z, (unsigned)e[i].method);
        zu16(&z, 0);
        zu16(&z, 0x21);
        zu32(&z, crcs[i]);
        zu32(&z, (uint32_t)csz[i]);
        zu32(&z, (uint32_t)(e[i].declared ? e[i].declared : e[i].n));
        zu16(&z, (unsigned)nl);
        zu16(&z, 0);            /* extra */
        zu16(&z, 0);            /* comment */
        zu16(&z, 0);            /* disk */
        zu16(&z, 0);            /* internal attrs */
        zu32(&z, 0);            /* external attrs */
        zu32(&z, (uint32_t)loc[i]);
        zput(&z, e[i].name, nl);
    }
    size_t cd_size = z.len - cd_off;
    zu32(&z, 0x06054b50);
    zu16(&z, 0);
    zu16(&z, 0);
    zu16(&z, (unsigned)k);
    zu16(&z, (unsigned)k);
    zu32(&z, (uint32_t)cd_size);
    zu32(&z, (uint32_t)cd_off);
    zu16(&z, 0);
    free(loc);
    free(csz);
    free(crcs);
    *len = z.len;
    return z.b;
}

/* Test payloads: a short text and ~200 KB of compressible but non-trivial bytes (spans several 64 KiB
 * inflate chunks). */
static const char k_readme[] = "crec test archive\nline two\n";
static unsigned char *big_payload(size_t *n) {
    *n = 200 * 1000 + 7;
    unsigned char *b = malloc(*n);
    assert_non_null(b);
    uint32_t x = 12345;
    for (size_t i = 0; i < *n; i++) {
        x = x * 1103515245u + 12345u;
        b[i] = (unsigned char)("0123456789\t\n"[(x >> 16) % 12]);
    }
    return b;
}

/* ---------------------------------------------------------------- MD5 */

static void md5_str(const char *s, char hex[33]) { crec__md5_buf_hex(s, strlen(s), hex); }

static void test_md5_rfc1321_vectors(void **state) {
    (void)state;
    static const struct { const char *in, *hex; } v[] = {
        {"", "d41d8cd98f00b204e9800998ecf8427e"},
        {"a", "0cc175b9c0f1b6a831c399e269772661"},
        {"abc", "900150983cd24fb0d6963f7d28e17f72"},
        {"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
        {"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
        {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", "d174ab98d277d9f5a5611c2c9f419d9f"},
        {"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
         "57edf4a22be3c955ac49da2e2107b67a"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char hex[33];
        md5_str(v[i].in, hex);
        assert_string_equal(hex, v[i].hex);
    }
}

/* One million 'a' (the classic long vector), hashed whole, in odd-sized pieces, and from a file. */
static void test_md5_one_megabyte(void **state) {
    (void)state;
    const size_t n = 1000000;
    const char *want = "7707d6ae4e027c70eea2a935c2296f21";
    unsigned char *buf = malloc(n);
    assert_non_null(buf);
    memset(buf, 'a', n);
    char hex[33];
    crec__md5_buf_hex(buf, n, hex);
    assert_string_equal(hex, want);

    crec_md5 m;
    unsigned char d[16];
    crec__md5_init(&m);
    size_t step = 1, off = 0;
    while (off < n) { /* piece sizes 1, 2, ..., crossing every block boundary position */
        size_t take = step < n - off ? step : n - off;
        crec__md5_update(&m, buf + off, take);
        off += take;
        step = step % 131 + 1;
    }
    crec__md5_final(&m, d);
    crec__md5_hex(d, hex);
    assert_string_equal(hex, want);

    char path[512];
    pathf(path, sizeof path, "%s/million-a", g_root);
    write_bytes(path, buf, n);
    memset(hex, 0, sizeof hex);
    assert_int_equal(crec_md5_file(path, hex), 0);
    assert_string_equal(hex, want);
    unlink(path);
    assert_int_equal(crec_md5_file(path, hex), CREC_EIO);
    free(buf);
}

/* ---------------------------------------------------------------- unzip */

static void test_unzip_stored_and_deflated(void **state) {
    (void)state;
    size_t bign;
    unsigned char *big = big_payload(&bign);
    zin e[] = {
        {"pkg/", "", 0, 0, 0, 0},
        {"pkg/README", k_readme, strlen(k_readme), 0, 0, 0},
        {"pkg/sub/data.txt", big, bign, 8, 0, 0},
        {"pkg/empty", "", 0, 8, 0, 0},
    };
    size_t len, dlen[4];
    unsigned char *zip = build_zip(e, 4, &len, NULL, dlen);
    assert_true(dlen[2] < bign * 3 / 4); /* the deflated entry really is compressed */
    char dir[512], zp[512], out[512], p[600];
    fresh_dir(dir, sizeof dir, "unzip_ok");
    pathf(zp, sizeof zp, "%s/a.zip", dir);
    pathf(out, sizeof out, "%s/out/deeper", dir); /* crec_unzip creates the target folder */
    write_bytes(zp, zip, len);
    char err[512] = "";
    int rc = crec_unzip(zp, out, err, sizeof err);
    if (rc) fail_msg("crec_unzip: %d %s", rc, err);
    pathf(p, sizeof p, "%s/pkg/README", out);
    assert_file_equals(p, k_readme, strlen(k_readme));
    pathf(p, sizeof p, "%s/pkg/sub/data.txt", out);
    assert_file_equals(p, big, bign);
    pathf(p, sizeof p, "%s/pkg/empty", out);
    assert_file_equals(p, "", 0);
    pathf(p, sizeof p, "%s/pkg", out);
    assert_int_equal(count_entries(p), 3); /* README, sub, empty */
    free(zip);
    free(big);
}

static void test_unzip_bad_crc_rejected(void **state) {
    (void)state;
    zin e[] = {
        {"d/good.txt", k_readme, strlen(k_readme), 0, 0, 0},
        {"d/bad.txt", "payload with a wrong crc", 24, 8, 1, 0},
    };
    size_t len;
    unsigned char *zip = build_zip(e, 2, &len, NULL, NULL);
    char dir[512], zp[512], out[512], p[600];
    fresh_dir(dir, sizeof dir, "unzip_crc");
    pathf(zp, sizeof zp, "%s/a.zip", dir);
    pathf(out, sizeof out, "%s/out", dir);
    write_bytes(zp, zip, len);
    char err[512] = "";
    assert_int_equal(crec_unzip(zp, out, err, sizeof err), CREC_EFORMAT);
    assert_non_null(strstr(err, "CRC-32 mismatch in d/bad.txt"));
    pathf(p, sizeof p, "%s/d/bad.txt", out);
    assert_false(exists(p)); /* the unverified file is not left behind */
    free(zip);
}

static void test_unzip_refuses_path_escape(void **state) {
    (void)state;
    static const char *evil[] = {"../evil", "d/../../evil", "/tmp/crec-evil-abs", "..\\evil", "C:/evil"};
    char dir[512], zp[512], out[512], p[600];
    fresh_dir(dir, sizeof dir, "unzip_evil");
    pathf(zp, sizeof zp, "%s/a.zip", dir);
    pathf(out, sizeof out, "%s/out", dir);
    for (size_t i = 0; i < sizeof evil / sizeof evil[0]; i++) {
        zin e[] = {
            {"first.txt", k_readme, strlen(k_readme), 0, 0, 0},
            {evil[i], "owned", 5, 0, 0, 0},
        };
        size_t len;
        unsigned char *zip = build_zip(e, 2, &len, NULL, NULL);
        write_bytes(zp, zip, len);
        char err[512] = "";
        assert_int_equal(crec_unzip(zp, out, err, sizeof err), CREC_EFORMAT);
        if (!strstr(err, "unsafe entry name")) fail_msg("entry %s: err = %s", evil[i], err);
        free(zip);
        /* nothing outside, and (names are vetted first) nothing inside either */
        pathf(p, sizeof p, "%s/evil", dir);
        assert_false(exists(p));
        pathf(p, sizeof p, "%s/evil", g_root);
        assert_false(exists(p));
        assert_false(exists("/tmp/crec-evil-abs"));
        pathf(p, sizeof p, "%s/first.txt", out);
        assert_false(exists(p));
    }
}

static void test_unzip_truncated_and_garbage(void **state) {
    (void)state;
    size_t bign;
    unsigned char *big = big_payload(&bign);
    zin e[] = {
        {"t/a.txt", k_readme, strlen(k_readme), 0, 0, 0},
        {"t/b.txt", big, 3000, 8, 0, 0},
    };
    size_t len;
    unsigned char *zip = build_zip(e, 2, &len, NULL, NULL);
    char dir[512], zp[512], out[512];
    fresh_dir(dir, sizeof dir, "unzip_trunc");
    pathf(zp, sizeof zp, "%s/a.zip", dir);
    pathf(out, sizeof out, "%s/out", dir);
    /* every proper prefix of the archive, from empty to one byte short */
    for (size_t cut = 0; cut < len; cut += (cut < 64 || len - cut < 128) ? 1 : 37) {
        write_bytes(zp, zip, cut);
        char err[512] = "";
        int rc = crec_unzip(zp, out, err, sizeof err);
        if (rc != CREC_EFORMAT) fail_msg("prefix of %zu/%zu bytes: rc %d (%s)", cut, len, rc, err);
        assert_true(err[0] != 0);
    }
    /* the intact archive does extract (so the loop above tested truncation, not a bad builder) */
    write_bytes(zp, zip, len);
    assert_int_equal(crec_unzip(zp, out, NULL, 0), 0);
    /* garbage that merely looks like an end record pointing nowhere */
    unsigned char junk[64];
    memset(junk, 0x5a, sizeof junk);
    unsigned char eocd[22] = {0x50, 0x4b, 5, 6, 0, 0, 0, 0, 3, 0, 3, 0, 0xff, 0xff, 0, 0, 0x10, 0, 0, 0, 0, 0};
    memcpy(junk + sizeof junk - sizeof eocd, eocd, sizeof eocd);
    write_bytes(zp, junk, sizeof junk);
    char err[512] = "";
    assert_int_equal(crec_unzip(zp, out, err, sizeof err), CREC_EFORMAT);
    assert_non_null(strstr(err, "corrupt zip"));
    /* a missing file is an I/O error, not a format one */
    pathf(zp, sizeof zp, "%s/missing.zip", dir);
    assert_int_equal(crec_unzip(zp, out, err, sizeof err), CREC_EIO);
    free(zip);
    free(big);
}

/* A deflated entry that inflates past its declared size is stopped there (zip-bomb guard), and one
 * that inflates short of it is refused too. */
static void test_unzip_size_mismatch(void **state) {
    (void)state;
    size_t bign;
    unsigned char *big = big_payload(&bign);
    char dir[512], zp[512], out[512], p[600];
    fresh_dir(dir, sizeof dir, "unzip_size");
    pathf(zp, sizeof zp, "%s/a.zip", dir);
    pathf(out, sizeof out, "%s/out", dir);
    zin more[] = {{"m/bomb.txt", big, bign, 8, 0, 1000}};
    size_t len;
    unsigned char *zip = build_zip(more, 1, &len, NULL, NULL);
    write_bytes(zp, zip, len);
    free(zip);
    char err[512] = "";
    assert_int_equal(crec_unzip(zp, out, err, sizeof err), CREC_EFORMAT);
    assert_non_null(strstr(err, "m/bomb.txt inflates to more than its declared 1000 bytes"));
    pathf(p, sizeof p, "%s/m/bomb.txt", out);
    assert_false(exists(p));
    zin less[] = {{"m/short.txt", big, 3000, 8, 0, 3001}};
    zip = build_zip(less, 1, &len, NULL, NULL);
    write_bytes(zp, zip, len);
    free(zip);
    assert_int_equal(crec_unzip(zp, out, err, sizeof err), CREC_EFORMAT);
    assert_non_null(strstr(err, "m/short.txt has 3000 bytes, the directory says 3001"));
    free(big);
}

/* Flip each byte of a small archive in turn: never a crash (ASan/UBSan watch), only 0 / EFORMAT / EIO,
 * and any flip inside an entry's data must be caught (CRC or inflate error). */
static void test_unzip_single_byte_corruption(void **state) {
    (void)state;
    size_t bign;
    unsigned char *big = big_payload(&bign);
    zin e[] = {
        {"c/s.txt", k_readme, strlen(k_readme), 0, 0, 0},
        {"c/d.txt", big, 400, 8, 0, 0},
    };
    size_t len, at[2], dl[2];
    unsigned char *zip = build_zip(e, 2, &len, at, dl);
    char dir[512], zp[512], out[512];
    fresh_dir(dir, sizeof dir, "unzip_flip");
    pathf(zp, sizeof zp, "%s/a.zip", dir);
    int caught = 0;
    for (size_t i = 0; i < len; i++) {
        zip[i] ^= 0x41;
        write_bytes(zp, zip, len);
        zip[i] ^= 0x41;
        pathf(out, sizeof out, "%s/out", dir);
        rm_rf(out);
        char err[512] = "";
        int rc = crec_unzip(zp, out, err, sizeof err);
        if (rc != 0 && rc != CREC_EFORMAT && rc != CREC_EIO) fail_msg("flip at %zu: rc %d (%s)", i, rc, err);
        int in_data = 0;
        for (int k = 0; k < 2; k++) in_data |= i >= at[k] && i < at[k] + dl[k];
        if (in_data) {
            if (rc != CREC_EFORMAT) fail_msg("flip in entry data at %zu went unnoticed (rc %d)", i, rc);
            caught++;
        }
    }
    assert_int_equal(caught, (int)(dl[0] + dl[1]));
    free(zip);
    free(big);
}

/* ---------------------------------------------------------------- registry and cache folder */

static void test_registry(void **state) {
    (void)state;
    static const char *need[] = {"ml-100k", "ml-1m", "ml-20m", "ml-latest-small"};
    assert_true(crec_fetch_count() >= 4);
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++) {
        const crec_fetch_source *s = crec_fetch_find(need[i]);
        assert_non_null(s);
        char url[256];
        pathf(url, sizeof url, "https://files.grouplens.org/datasets/movielens/%s.zip", need[i]);
        assert_string_equal(s->url, url);
        assert_string_equal(s->format, "movielens");
    }
    assert_string_equal(crec_fetch_find("ml-100k")->md5, "0e33842e24a9c977be4e0107933c0723");
    assert_string_equal(crec_fetch_find("ml-100k")->subdir, "ml-100k");
    assert_null(crec_fetch_find("ml-latest-small")->md5);
    for (int i = 0; i < crec_fetch_count(); i++) {
        const crec_fetch_source *s = crec_fetch_at(i);
        assert_non_null(s->subdir);
        assert_non_null(s->desc);
        if (s->md5) {
            assert_int_equal(strlen(s->md5), 32);
            assert_int_equal(strspn(s->md5, "0123456789abcdef"), 32);
        }
    }
    assert_null(crec_fetch_at(-1));
    assert_null(crec_fetch_at(crec_fetch_count()));
    assert_null(crec_fetch_find("ml-3k"));
}

static void test_cache_dir_env(void **state) {
    (void)state;
    char *save[3];
    const char *names[3] = {"CREC_CACHE", "XDG_CACHE_HOME", "HOME"};
    for (int i = 0; i < 3; i++) save[i] = getenv(names[i]) ? strdup(getenv(names[i])) : NULL;
    char buf[256];
    setenv("CREC_CACHE", "/x/cache", 1);
    setenv("XDG_CACHE_HOME", "/y", 1);
    setenv("HOME", "/h", 1);
    crec_fetch_cache_dir(buf, sizeof buf);
    assert_string_equal(buf, "/x/cache");
    unsetenv("CREC_CACHE");
    crec_fetch_cache_dir(buf, sizeof buf);
    assert_string_equal(buf, "/y/crec");
    setenv("XDG_CACHE_HOME", "relative", 1); /* ignored: the XDG spec wants absolute paths */
    crec_fetch_cache_dir(buf, sizeof buf);
    assert_string_equal(buf, "/h/.cache/crec");
    unsetenv("XDG_CACHE_HOME");
    crec_fetch_cache_dir(buf, sizeof buf);
    assert_string_equal(buf, "/h/.cache/crec");
    crec_fetch_cache_dir(buf, 5); /* truncated, still terminated */
    assert_string_equal(buf, "/h/.");
    for (int i = 0; i < 3; i++) {
        if (save[i]) setenv(names[i], save[i], 1); else unsetenv(names[i]);
        free(save[i]);
    }
}

/* ---------------------------------------------------------------- crec_fetch over file:// */

/* The synthetic "ml-100k" archive: its files inside an ml-100k/ folder like the real one. */
static const char k_udata[] = "1\t1\t5\t874965758\n1\t2\t3\t876893171\n2\t1\t4\t888550871\n";
static unsigned char *ml_zip(size_t *len) {
    size_t bign;
    unsigned char *big = big_payload(&bign);
    zin e[] = {
        {"ml-100k/", "", 0, 0, 0, 0},
        {"ml-100k/u.data", k_udata, strlen(k_udata), 0, 0, 0},
        {"ml-100k/u.item", big, 5000, 8, 0, 0},
    };
    unsigned char *zip = build_zip(e, 3, len, NULL, NULL);
    free(big);
    return zip;
}

static void test_fetch_file_url_verifies_unpacks_caches(void **state) {
    (void)state;
    size_t len;
    unsigned char *zip = ml_zip(&len);
    char hex[33];
    crec__md5_buf_hex(zip, len, hex);
    char dir[512], src[512], url[600], cache[512], p[700];
    fresh_dir(dir, sizeof dir, "fetch_ok");
    pathf(src, sizeof src, "%s/x.zip", dir);
    pathf(url, sizeof url, "file://%s", src);
    pathf(cache, sizeof cache, "%s/cache/sub", dir); /* does not exist yet: crec_fetch creates it */
    write_bytes(src, zip, len);

    crec_fetch_opts o;
    memset(&o, 0, sizeof o);
    o.cache_dir = cache;
    o.url = url;
    o.md5 = hex;
    int rc = crec_fetch("ml-100k", &o);
    if (rc) fail_msg("crec_fetch: %d %s", rc, o.err);
    pathf(p, sizeof p, "%s/ml-100k/ml-100k", cache);
    assert_string_equal(o.path, p);
    pathf(p, sizeof p, "%s/u.data", o.path);
    assert_file_equals(p, k_udata, strlen(k_udata));
    pathf(p, sizeof p, "%s/ml-100k.zip", cache);
    assert_file_equals(p, zip, len);
    pathf(p, sizeof p, "%s/ml-100k.zip.part", cache);
    assert_false(exists(p));

    /* cached and verified: no download (the source is gone and it still works) */
    unlink(src);
    pathf(p, sizeof p, "%s/u.data", o.path);
    unlink(p); /* and the unpacked folder is trusted as is: the marker says it holds this archive */
    memset(o.path, 0, sizeof o.path);
    rc = crec_fetch("ml-100k", &o);
    if (rc) fail_msg("cached crec_fetch: %d %s", rc, o.err);
    assert_false(exists(p));

    /* --force downloads again: with the source gone that now fails, as an I/O error on the file:// URL */
    o.force = 1;
    assert_int_equal(crec_fetch("ml-100k", &o), CREC_EIO);
    assert_non_null(strstr(o.err, "cannot read file://"));
    assert_string_equal(o.path, "");

    /* restore the source: --force re-unpacks a complete folder */
    write_bytes(src, zip, len);
    rc = crec_fetch("ml-100k", &o);
    if (rc) fail_msg("forced crec_fetch: %d %s", rc, o.err);
    assert_file_equals(p, k_udata, strlen(k_udata));
    free(zip);
}

static void test_fetch_wrong_md5(void **state) {
    (void)state;
    size_t len;
    unsigned char *zip = ml_zip(&len);
    char hex[33];
    crec__md5_buf_hex(zip, len, hex);
    char dir[512], src[512], url[600], cache[512], p[700];
    fresh_dir(dir, sizeof dir, "fetch_badmd5");
    pathf(src, sizeof src, "%s/x.zip", dir);
    pathf(url, sizeof url, "file://%s", src);
    pathf(cache, sizeof cache, "%s/cache", dir);
    write_bytes(src, zip, len);
    crec_fetch_opts o;
    memset(&o, 0, sizeof o);
    o.cache_dir = cache;
    o.url = url;
    o.md5 = "0123456789ABCDEF0123456789abcdef"; /* upper case accepted, compared lower case */
    assert_int_equal(crec_fetch("ml-100k", &o), CREC_ECHECKSUM);
    assert_non_null(strstr(o.err, "0123456789abcdef0123456789abcdef"));
    assert_non_null(strstr(o.err, hex));
    assert_int_equal(count_entries(cache), 0); /* no zip, no .part, no folder */

    /* the registry's own digest (the real ml-100k's) rejects the synthetic archive as well */
    o.md5 = NULL;
    assert_int_equal(crec_fetch("ml-100k", &o), CREC_ECHECKSUM);
    assert_non_null(strstr(o.err, "0e33842e24a9c977be4e0107933c0723"));
    assert_int_equal(count_entries(cache), 0);

    o.md5 = "not-a-digest";
    assert_int_equal(crec_fetch("ml-100k", &o), CREC_EINVAL);
    pathf(p, sizeof p, "%s/ml-100k.zip", cache);
    assert_false(exists(p));
    free(zip);
}

/* Sources without a fixed digest verify against the publisher's <url>.md5 (BSD form, as GroupLens writes). */
static void test_fetch_md5_sidecar(void **state) {
    (void)state;
    size_t len;
    unsigned char *zip = ml_zip(&len);
    char hex[33], text[128];
    crec__md5_buf_hex(zip, len, hex);
    char dir[512], src[512], side[600], url[600], cache[512], p[700];
    fresh_dir(dir, sizeof dir, "fetch_sidecar");
    pathf(src, sizeof src, "%s/y.zip", dir);
    pathf(side, sizeof side, "%s.md5", src);
    pathf(url, sizeof url, "file://%s", src);
    pathf(cache, sizeof cache, "%s/cache", dir);
    write_bytes(src, zip, len);
    crec_fetch_opts o;
    memset(&o, 0, sizeof o);
    o.cache_dir = cache;
    o.url = url;

    /* no sidecar: cannot verify, so nothing is fetched */
    assert_int_equal(crec_fetch("ml-latest-small", &o), CREC_EIO);
    assert_non_null(strstr(o.err, ".md5"));

    /* a sidecar with another digest */
    pathf(text, sizeof text, "MD5 (y.zip) = %s\n", "ffffffffffffffffffffffffffffffff");
    write_bytes(side, text, strlen(text));
    assert_int_equal(crec_fetch("ml-latest-small", &o), CREC_ECHECKSUM);

    /* a sidecar without any digest */
    write_bytes(side, "hello\n", 6);
    assert_int_equal(crec_fetch("ml-latest-small", &o), CREC_EFORMAT);

    /* the right one */
    pathf(text, sizeof text, "MD5 (y.zip) = %s\n", hex);
    write_bytes(side, text, strlen(text));
    int rc = crec_fetch("ml-latest-small", &o);
    if (rc) fail_msg("crec_fetch: %d %s", rc, o.err);
    /* the archive has no ml-latest-small/ folder, so the unpacked root holds the data */
    pathf(p, sizeof p, "%s/ml-latest-small", cache);
    assert_string_equal(o.path, p);
    pathf(p, sizeof p, "%s/ml-latest-small/ml-100k/u.data", cache);
    assert_file_equals(p, k_udata, strlen(k_udata));

    /* cached: the digest recorded at verification stands in for the sidecar, so no network is needed */
    unlink(side);
    unlink(src);
    rc = crec_fetch("ml-latest-small", &o);
    if (rc) fail_msg("cached crec_fetch: %d %s", rc, o.err);
    free(zip);
}

static void test_fetch_corrupt_archive(void **state) {
    (void)state;
    const char junk[] = "this is not a zip file at all, just text that happens to download fine\n";
    char hex[33];
    crec__md5_buf_hex(junk, strlen(junk), hex);
    char dir[512], src[512], url[600], cache[512], p[700];
    fresh_dir(dir, sizeof dir, "fetch_corrupt");
    pathf(src, sizeof src, "%s/x.zip", dir);
    pathf(url, sizeof url, "file://%s", src);
    pathf(cache, sizeof cache, "%s/cache", dir);
    write_bytes(src, junk, strlen(junk));
    crec_fetch_opts o;
    memset(&o, 0, sizeof o);
    o.cache_dir = cache;
    o.url = url;
    o.md5 = hex;
    assert_int_equal(crec_fetch("ml-1m", &o), CREC_EFORMAT);
    assert_non_null(strstr(o.err, "not a zip archive"));
    pathf(p, sizeof p, "%s/ml-1m", cache);
    assert_false(exists(p));
    /* the verified archive stays cached (with its digest record); no temp folder is left */
    assert_int_equal(count_entries(cache), 2);
}

static void test_fetch_unknown_name(void **state) {
    (void)state;
    crec_fetch_opts o;
    memset(&o, 0, sizeof o);
    char cache[512];
    pathf(cache, sizeof cache, "%s/never-created", g_root);
    o.cache_dir = cache;
    assert_int_equal(crec_fetch("ml-3k", &o), CREC_ENOTFOUND);
    assert_non_null(strstr(o.err, "unknown dataset 'ml-3k'"));
    assert_int_equal(crec_fetch(NULL, &o), CREC_ENOTFOUND);
    assert_int_equal(crec_fetch("ml-100k", NULL), CREC_EINVAL);
    assert_false(exists(cache));
}

static void test_fetch_unreachable_is_enet(void **state) {
    (void)state;
    char dir[512];
    fresh_dir(dir, sizeof dir, "fetch_offline");
    crec_fetch_opts o;
    memset(&o, 0, sizeof o);
    o.cache_dir = dir;
    o.url = "http://127.0.0.1:9/ml-100k.zip"; /* discard port: nothing listens there */
    assert_int_equal(crec_fetch("ml-100k", &o), CREC_ENET);
    assert_non_null(strstr(o.err, "cannot download http://127.0.0.1:9/ml-100k.zip: "));
    assert_non_null(strstr(o.err, "are you offline?"));
    assert_non_null(strstr(o.err, "--url file:///path/to/ml-100k.zip"));
    assert_int_equal(count_entries(dir), 0);
    /* without a fixed digest the .md5 is fetched first, and fails the same way */
    assert_int_equal(crec_fetch("ml-latest-small", &o), CREC_ENET);
    assert_non_null(strstr(o.err, "ml-100k.zip.md5"));
    assert_non_null(strstr(o.err, "are you offline?"));
}

/* ---------------------------------------------------------------- crec_fetch over HTTP (local server) */

typedef struct http_server {
    int fd, port;
    pthread_t thread;
    const unsigned char *body;
    size_t body_len;
    _Atomic int requests;
} http_server;

/* Routes: /moved -> 302 to /data.zip; /data.zip -> the body; anything else -> 404. */
static void *http_serve(void *arg) {
    http_server *s = arg;
    for (;;) {
        int c = accept(s->fd, NULL, NULL);
        if (c < 0) {
            if (errno == EINTR) continue;
            break; /* listening socket shut down */
        }
        char req[2048];
        size_t n = 0;
        while (n < sizeof req - 1) {
            ssize_t k = read(c, req + n, sizeof req - 1 - n);
            if (k <= 0) break;
            n += (size_t)k;
            req[n] = 0;
            if (strstr(req, "\r\n\r\n")) break;
        }
        req[n] = 0;
        s->requests++;
        char path[256] = "";
        sscanf(req, "GET %255s", path);
        char head[256];
        int hl;
        if (strcmp(path, "/moved") == 0) {
            hl = snprintf(head, sizeof head, "HTTP/1.1 302 Found\r\nLocation: /data.zip\r\nContent-Length: 0\r\n"
                          "Connection: close\r\n\r\n");
            (void)!write(c, head, (size_t)hl);
        } else if (strcmp(path, "/data.zip") == 0) {
            hl = snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                          s->body_len);
            (void)!write(c, head, (size_t)hl);
            size_t off = 0;
            while (off < s->body_len) {
                ssize_t k = write(c, s->body + off, s->body_len - off);
                if (k <= 0) break;
                off += (size_t)k;
            }
        } else {
            const char *nf = "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found";
            (void)!write(c, nf, strlen(nf));
        }
        close(c);
    }
    return NULL;
}

static void http_start(http_server *s) {
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s->fd >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(s->fd, 8), 0);
    socklen_t al = sizeof a;
    assert_int_equal(getsockname(s->fd, (struct sockaddr *)&a, &al), 0);
    s->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&s->thread, NULL, http_serve, s), 0);
}

static void http_stop(http_server *s) {
    shutdown(s->fd, SHUT_RDWR);
    pthread_join(s->thread, NULL);
    close(s->fd);
}

static void test_fetch_http_redirect_and_404(void **state) {
    (void)state;
    size_t len;
    unsigned char *zip = ml_zip(&len);
    char hex[33];
    crec__md5_buf_hex(zip, len, hex);
    http_server s = {.body = zip, .body_len = len};
    http_start(&s);
    char dir[512], url[128], p[700];
    fresh_dir(dir, sizeof dir, "fetch_http");
    crec_fetch_opts o;
    memset(&o, 0, sizeof o);
    o.cache_dir = dir;
    o.md5 = hex;
    o.progress = 1; /* stderr is not a terminal under ctest: must stay silent and harmless */
    pathf(url, sizeof url, "http://127.0.0.1:%d/moved", s.port);
    o.url = url;
    int rc = crec_fetch("ml-100k", &o);
    if (rc) fail_msg("crec_fetch over http: %d %s", rc, o.err);
    pathf(p, sizeof p, "%s/u.data", o.path);
    assert_file_equals(p, k_udata, strlen(k_udata));
    assert_int_equal(s.requests, 2); /* the redirect was followed */

    pathf(url, sizeof url, "http://127.0.0.1:%d/missing.zip", s.port);
    o.force = 1;
    assert_int_equal(crec_fetch("ml-100k", &o), CREC_ENET);
    char want[160];
    pathf(want, sizeof want, "HTTP 404 from %s", url);
    assert_string_equal(o.err, want);
    pathf(p, sizeof p, "%s/ml-100k.zip.part", dir);
    assert_false(exists(p));
    http_stop(&s);
    free(zip);
}

/* ---------------------------------------------------------------- main */

static int group_setup(void **state) {
    (void)state;
    snprintf(g_root, sizeof g_root, "/tmp/crec-test-fetch-XXXXXX");
    if (!mkdtemp(g_root)) return -1;
    setenv("CREC_QUIET", "1", 1);
    setenv("CREC_NO_PROGRESS", "1", 1);
    /* a proxy from the environment must not intercept the loopback tests */
    setenv("no_proxy", "127.0.0.1,localhost", 1);
    setenv("NO_PROXY", "127.0.0.1,localhost", 1);
    return 0;
}

static int group_teardown(void **state) {
    (void)state;
    rm_rf(g_root);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_md5_rfc1321_vectors),
        cmocka_unit_test(test_md5_one_megabyte),
        cmocka_unit_test(test_unzip_stored_and_deflated),
        cmocka_unit_test(test_unzip_bad_crc_rejected),
        cmocka_unit_test(test_unzip_refuses_path_escape),
        cmocka_unit_test(test_unzip_truncated_and_garbage),
        cmocka_unit_test(test_unzip_size_mismatch),
        cmocka_unit_test(test_unzip_single_byte_corruption),
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_cache_dir_env),
        cmocka_unit_test(test_fetch_file_url_verifies_unpacks_caches),
        cmocka_unit_test(test_fetch_wrong_md5),
        cmocka_unit_test(test_fetch_md5_sidecar),
        cmocka_unit_test(test_fetch_corrupt_archive),
        cmocka_unit_test(test_fetch_unknown_name),
        cmocka_unit_test(test_fetch_unreachable_is_enet),
        cmocka_unit_test(test_fetch_http_redirect_and_404),
    };
    return cmocka_run_group_tests_name("fetch", tests, group_setup, group_teardown);
}
