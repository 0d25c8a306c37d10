/* unzip.c: a small zip reader over zlib's raw inflate, enough for the archives dataset publishers ship.
 * The central directory at the end of the file is the truth (as in every conforming reader): find the
 * end-of-central-directory record, walk its entries, and for each one follow its local header to the data.
 * Methods stored (0) and deflate (8); ZIP64 sizes and offsets; CRC-32 checked per entry. Every length read
 * from the file is checked against the file before it is used, so truncated or garbage input gives
 * CREC_EFORMAT with a reason, never a crash. Entry names that are absolute or contain a ".." component are
 * refused before anything is written, and extraction never follows a symlink below the target folder. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "core/util.h"
#include "crec/fetch.h"

#define ZIP_LOC_SIG 0x04034b50u     /* local file header */
#define ZIP_CEN_SIG 0x02014b50u     /* central directory entry */
#define ZIP_EOCD_SIG 0x06054b50u    /* end of central directory */
#define ZIP64_EOCD_SIG 0x06064b50u  /* zip64 end of central directory */
#define ZIP64_LOC_SIG 0x07064b50u   /* zip64 end of central directory locator */
#define ZIP_EOCD_LEN 22
#define ZIP_CEN_LEN 46
#define ZIP_LOC_LEN 30
#define ZIP_CHUNK (1 << 16)

typedef struct zip_reader {
    int fd;
    int64_t size;       /* bytes in the file */
    const char *path;   /* for messages */
    char *err;
    size_t errn;
} zip_reader;

/* One central-directory entry, sizes already widened from the zip64 extra field. */
typedef struct zip_entry {
    char *name;         /* NUL-terminated copy, owned by the caller of parse_entry */
    uint16_t flags, method;
    uint32_t crc;
    uint64_t csize, usize, loc_off;
} zip_entry;

static uint16_t rd16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd64(const unsigned char *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }

/* Read exactly n bytes at off. CREC_EFORMAT when the file ends first, CREC_EIO on a read error. */
static int read_at(zip_reader *z, uint64_t off, void *buf, size_t n, const char *what) {
    if (off > (uint64_t)z->size || n > (uint64_t)z->size - off) {
        crec__errf(z->err, z->errn, "%s: truncated zip (%s at offset %llu runs past the end of the %lld-byte file)",
                   z->path, what, (unsigned long long)off, (long long)z->size);
        return CREC_EFORMAT;
    }
    unsigned char *p = buf;
    while (n > 0) {
        ssize_t got = pread(z->fd, p, n, (off_t)off);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) {
            crec__errf(z->err, z->errn, "%s: read error: %s", z->path, got < 0 ? strerror(errno) : "unexpected end");
            return CREC_EIO;
        }
        p += got;
        off += (uint64_t)got;
        n -= (size_t)got;
    }
    return 0;
}

/* Locate the end of central directory and return the directory's offset, size and entry count. */
static int find_directory(zip_reader *z, uint64_t *cd_off, uint64_t *cd_size, uint64_t *count) {
    if (z->size < ZIP_EOCD_LEN) {
        crec__errf(z->err, z->errn, "%s: not a zip archive (%lld bytes, too short)", z->path, (long long)z->size);
        return CREC_EFORMAT;
    }
    size_t tail = z->size < ZIP_EOCD_LEN + 65535 ? (size_t)z->size : ZIP_EOCD_LEN + 65535;
    uint64_t tail_off = (uint64_t)z->size - tail;
    unsigned char *buf = malloc(tail);
    if (!buf) return CREC_ENOMEM;
    int rc = read_at(z, tail_off, buf, tail, "end record");
    if (rc) {
        free(buf);
        return rc;
    }
    /* The record ends with a variable comment, so scan backwards for a signature whose comment fits. */
    int64_t at = -1;
    for (int64_t i = (int64_t)tail - ZIP_EOCD_LEN; i >= 0; i--) {
        if (rd32(buf + i) == ZIP_EOCD_SIG && (size_t)i + ZIP_EOCD_LEN + rd16(buf + i + 20) <= tail) {
            at = i;
            break;
        }
    }
    if (at < 0) {
        free(buf);
        crec__errf(z->err, z->errn, "%s: not a zip archive (no end of central directory record; truncated?)",
                   z->path);
        return CREC_EFORMAT;
    }
    const unsigned char *e = buf + at;
    uint64_t eocd_off = tail_off + (uint64_t)at;
    uint16_t disk = rd16(e + 4), cd_disk = rd16(e + 6);
    *count = rd16(e + 10);
    *cd_size = rd32(e + 12);
    *cd_off = rd32(e + 16);
    free(buf);
    if (disk != 0 || cd_disk != 0) {
        crec__errf(z->err, z->errn, "%s: multi-volume zip archives are not supported", z->path);
        return CREC_EFORMAT;
    }
    uint64_t limit = eocd_off; /* the directory must end before the record that describes it */
    if (*count == 0xFFFF || *cd_size == 0xFFFFFFFFu || *cd_off == 0xFFFFFFFFu) {
        unsigned char loc[20], r[56];
        if (eocd_off < sizeof loc || (rc = read_at(z, eocd_off - sizeof loc, loc, sizeof loc, "zip64 locator")))
            goto no64;
        if (rd32(loc) != ZIP64_LOC_SIG) goto no64;
        uint64_t r_off = rd64(loc + 8);
        if (r_off > eocd_off - sizeof loc) goto no64;
        if ((rc = read_at(z, r_off, r, sizeof r, "zip64 end record"))) return rc;
        if (rd32(r) != ZIP64_EOCD_SIG) goto no64;
        *count = rd64(r + 32);
        *cd_size = rd64(r + 40);
        *cd_off = rd64(r + 48);
        limit = r_off;
    }
    if (*cd_off > limit || *cd_size > limit - *cd_off) {
        crec__errf(z->err, z->errn,
                   "%s: corrupt zip (central directory at %llu, %llu bytes, overlaps its end record at %llu; "
                   "truncated?)",
                   z->path, (unsigned long long)*cd_off, (unsigned long long)*cd_size, (unsigned long long)limit);
        return CREC_EFORMAT;
    }
    if (*count > *cd_size / ZIP_CEN_LEN) {
        crec__errf(z->err, z->errn, "%s: corrupt zip (%llu entries cannot fit a %llu-byte central directory)",
                   z->path, (unsigned long long)*count, (unsigned long long)*cd_size);
        return CREC_EFORMAT;
    }
    return 0;
no64:
    if (rc) return rc;
    crec__errf(z->err, z->errn, "%s: corrupt zip (zip64 markers without a valid zip64 end record)", z->path);
    return CREC_EFORMAT;
}

/* Parse the entry at cd[*pos], advance *pos. e->name is malloc'ed on success (caller frees). */
static int parse_entry(zip_reader *z, const unsigned char *cd, uint64_t cd_size, uint64_t *pos, uint64_t idx,
                       zip_entry *e) {
    uint64_t p = *pos;
    if (cd_size - p < ZIP_CEN_LEN || rd32(cd + p) != ZIP_CEN_SIG) {
        crec__errf(z->err, z->errn, "%s: corrupt zip (central directory entry %llu is missing or damaged)", z->path,
                   (unsigned long long)idx);
        return CREC_EFORMAT;
    }
    const unsigned char *c = cd + p;
    uint16_t nl = rd16(c + 28), xl = rd16(c + 30), cl = rd16(c + 32);
    if (cd_size - p - ZIP_CEN_LEN < (uint64_t)nl + xl + cl) {
        crec__errf(z->err, z->errn, "%s: corrupt zip (central directory entry %llu runs past the directory)",
                   z->path, (unsigned long long)idx);
        return CREC_EFORMAT;
    }
    e->flags = rd16(c + 8);
    e->method = rd16(c + 10);
    e->crc = rd32(c + 16);
    e->csize = rd32(c + 20);
    e->usize = rd32(c + 24);
    e->loc_off = rd32(c + 42);
    const unsigned char *name = c + ZIP_CEN_LEN, *x = name + nl, *xend = x + xl;
    /* zip64 extra field (id 1): the 8-byte values present are exactly those whose 32-bit field is all ones */
    while (xend - x >= 4) {
        uint16_t id = rd16(x), len = rd16(x + 2);
        if ((size_t)(xend - x - 4) < len) break;
        if (id == 0x0001) {
            const unsigned char *v = x + 4, *vend = v + len;
            uint64_t *fields[3] = {&e->usize, &e->csize, &e->loc_off};
            for (int k = 0; k < 3; k++) {
                if (*fields[k] != 0xFFFFFFFFu) continue;
                if (vend - v < 8) {
                    crec__errf(z->err, z->errn, "%s: corrupt zip (short zip64 field in entry %llu)", z->path,
                               (unsigned long long)idx);
                    return CREC_EFORMAT;
                }
                *fields[k] = rd64(v);
                v += 8;
            }
        }
        x += 4 + len;
    }
    if (memchr(name, 0, nl)) {
        crec__errf(z->err, z->errn, "%s: refusing entry %llu: its name contains a NUL byte", z->path,
                   (unsigned long long)idx);
        return CREC_EFORMAT;
    }
    e->name = crec__strndup((const char *)name, nl);
    if (!e->name) return CREC_ENOMEM;
    *pos = p + ZIP_CEN_LEN + nl + xl + cl;
    return 0;
}

/* 1 when name is safe to create below the target folder: relative, no ".." component, not empty.
 * Backslashes count as separators for this test, so "..\\x" from Windows tools is refused as well. */
static int name_is_safe(const char *name) {
    if (!name[0] || name[0] == '/' || name[0] == '\\') return 0;
    if (((name[0] | 32) >= 'a' && (name[0] | 32) <= 'z') && name[1] == ':') return 0; /* C:... */
    const char *s = name;
    while (*s) {
        size_t n = strcspn(s, "/\\");
        if (n == 2 && s[0] == '.' && s[1] == '.') return 0;
        s += n;
        if (*s) s++;
    }
    return 1;
}

/* Create each directory of path after byte `from` (path[from] is a '/'), up to but excluding the last
 * component unless `all`. Existing components must be directories; with follow == 0 (below the target
 * folder) a symlink to one is refused, so an archive can never write through a link. */
static int make_parents(zip_reader *z, char *path, size_t from, int all, int follow) {
    size_t len = strlen(path);
    for (size_t i = from + 1; i <= len; i++) {
        if (path[i] != '/' && !(all && path[i] == 0)) continue;
        if (i > 0 && path[i - 1] == '/') continue; /* empty component */
        char saved = path[i];
        path[i] = 0;
        struct stat st;
        int ok = mkdir(path, 0755) == 0 || (errno == EEXIST && (follow ? stat(path, &st) : lstat(path, &st)) == 0 && S_ISDIR(st.st_mode));
        if (!ok) {
            crec__errf(z->err, z->errn, "cannot create folder %s: %s", path,
                       errno == EEXIST ? "a file or symlink is in the way" : strerror(errno));
            path[i] = saved;
            return CREC_EIO;
        }
        path[i] = saved;
        if (saved == 0) break;
    }
    return 0;
}

/* Copy or inflate one entry's data into out_fd, checking size and CRC. */
static int extract_data(zip_reader *z, const zip_entry *e, uint64_t data_off, int out_fd, const char *out_path,
                        unsigned char *inbuf, unsigned char *outbuf) {
    uint32_t crc = 0;
    uint64_t produced = 0, left = e->csize, off = data_off;
    int rc = 0;
    if (e->method == 0) {
        if (e->csize != e->usize) {
            crec__errf(z->err, z->errn, "%s: corrupt zip (stored entry %s has sizes %llu and %llu)", z->path,
                       e->name, (unsigned long long)e->csize, (unsigned long long)e->usize);
            return CREC_EFORMAT;
        }
        while (left > 0) {
            size_t n = left < ZIP_CHUNK ? (size_t)left : ZIP_CHUNK;
            if ((rc = read_at(z, off, inbuf, n, e->name))) return rc;
            crc = crec__crc32(crc, inbuf, n);
            if (write(out_fd, inbuf, n) != (ssize_t)n) goto write_fail;
            off += n;
            left -= n;
            produced += n;
        }
    } else {
        z_stream zs;
        memset(&zs, 0, sizeof zs);
        if (inflateInit2(&zs, -15) != Z_OK) return CREC_ENOMEM;
        int zr = Z_OK;
        while (zr != Z_STREAM_END) {
            if (zs.avail_in == 0) {
                if (left == 0) {
                    crec__errf(z->err, z->errn, "%s: corrupt zip (deflate data of %s ends early)", z->path, e->name);
                    rc = CREC_EFORMAT;
                    break;
                }
                size_t n = left < ZIP_CHUNK ? (size_t)left : ZIP_CHUNK;
                if ((rc = read_at(z, off, inbuf, n, e->name))) break;
                zs.next_in = inbuf;
                zs.avail_in = (uInt)n;
                off += n;
                left -= n;
            }
            zs.next_out = outbuf;
            zs.avail_out = ZIP_CHUNK;
            zr = inflate(&zs, Z_NO_FLUSH);
            if (zr != Z_OK && zr != Z_STREAM_END && !(zr == Z_BUF_ERROR && zs.avail_in == 0)) {
                crec__errf(z->err, z->errn, "%s: corrupt zip (bad deflate data in %s: %s)", z->path, e->name,
                           zs.msg ? zs.msg : zError(zr));
                rc = zr == Z_MEM_ERROR ? CREC_ENOMEM : CREC_EFORMAT;
                break;
            }
            size_t n = ZIP_CHUNK - zs.avail_out;
            if (n > e->usize - produced) {
                crec__errf(z->err, z->errn, "%s: corrupt zip (%s inflates to more than its declared %llu bytes)",
                           z->path, e->name, (unsigned long long)e->usize);
                rc = CREC_EFORMAT;
                break;
            }
            crc = crec__crc32(crc, outbuf, n);
            if (n > 0 && write(out_fd, outbuf, n) != (ssize_t)n) {
                inflateEnd(&zs);
                goto write_fail;
            }
            produced += n;
        }
        inflateEnd(&zs);
        if (rc) return rc;
    }
    if (produced != e->usize) {
        crec__errf(z->err, z->errn, "%s: corrupt zip (%s has %llu bytes, the directory says %llu)", z->path,
                   e->name, (unsigned long long)produced, (unsigned long long)e->usize);
        return CREC_EFORMAT;
    }
    if (crc != e->crc) {
        crec__errf(z->err, z->errn, "%s: corrupt zip (CRC-32 mismatch in %s: stored %08x, computed %08x)", z->path,
                   e->name, (unsigned)e->crc, (unsigned)crc);
        return CREC_EFORMAT;
    }
    return 0;
write_fail:
    crec__errf(z->err, z->errn, "cannot write %s: %s", out_path, errno ? strerror(errno) : "short write");
    return CREC_EIO;
}

/* Extract one parsed entry below dir (already known to be safe by name). */
static int extract_entry(zip_reader *z, const zip_entry *e, const char *dir, uint64_t cd_off, unsigned char *inbuf,
                         unsigned char *outbuf) {
    if (e->flags & 1) {
        crec__errf(z->err, z->errn, "%s: %s is encrypted; encrypted zips are not supported", z->path, e->name);
        return CREC_EFORMAT;
    }
    size_t dl = strlen(dir), nl = strlen(e->name);
    int is_dir = e->name[nl - 1] == '/';
    if (e->method != 0 && e->method != 8 && !is_dir) {
        crec__errf(z->err, z->errn, "%s: %s uses compression method %u (only stored and deflate are supported)",
                   z->path, e->name, (unsigned)e->method);
        return CREC_EFORMAT;
    }
    char *out = malloc(dl + nl + 2);
    if (!out) return CREC_ENOMEM;
    memcpy(out, dir, dl);
    out[dl] = '/';
    memcpy(out + dl + 1, e->name, nl + 1);
    int rc = make_parents(z, out, dl, is_dir, 0);
    if (rc || is_dir) {
        free(out);
        return rc;
    }
    unsigned char loc[ZIP_LOC_LEN];
    if ((rc = read_at(z, e->loc_off, loc, sizeof loc, "local header"))) goto done;
    if (rd32(loc) != ZIP_LOC_SIG) {
        crec__errf(z->err, z->errn, "%s: corrupt zip (no local header for %s at offset %llu)", z->path, e->name,
                   (unsigned long long)e->loc_off);
        rc = CREC_EFORMAT;
        goto done;
    }
    uint64_t data_off = e->loc_off + ZIP_LOC_LEN + rd16(loc + 26) + rd16(loc + 28);
    if (data_off > cd_off || e->csize > cd_off - data_off) {
        crec__errf(z->err, z->errn, "%s: corrupt zip (data of %s runs into the central directory)", z->path,
                   e->name);
        rc = CREC_EFORMAT;
        goto done;
    }
    int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) {
        crec__errf(z->err, z->errn, "cannot create %s: %s", out, strerror(errno));
        rc = CREC_EIO;
        goto done;
    }
    errno = 0;
    rc = extract_data(z, e, data_off, fd, out, inbuf, outbuf);
    if (close(fd) != 0 && !rc) {
        crec__errf(z->err, z->errn, "cannot write %s: %s", out, strerror(errno));
        rc = CREC_EIO;
    }
    if (rc) unlink(out); /* never leave a half-written or unverified file behind */
done:
    free(out);
    return rc;
}

/* Extracts every entry of zip_path below dir (created if missing). Returns 0, CREC_EINVAL, CREC_ENOMEM,
 * CREC_EIO (cannot read the zip or write a file) or CREC_EFORMAT (not a zip, truncated, corrupt, CRC
 * mismatch, unsafe entry name, unsupported method); err gets the reason. Names are all checked before
 * anything is written; on a later failure the files already extracted stay (the caller owns dir and
 * should extract into a fresh folder it can remove, as crec_fetch does). */
int crec_unzip(const char *zip_path, const char *dir, char *err, size_t errn) {
    if (err && errn) err[0] = 0;
    if (!zip_path || !dir || !dir[0]) {
        crec__errf(err, errn, "crec_unzip: missing zip path or folder");
        return CREC_EINVAL;
    }
    zip_reader z = {.fd = -1, .path = zip_path, .err = err, .errn = errn};
    z.fd = open(zip_path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (z.fd < 0 || fstat(z.fd, &st) != 0) {
        crec__errf(err, errn, "cannot open %s: %s", zip_path, strerror(errno));
        if (z.fd >= 0) close(z.fd);
        return CREC_EIO;
    }
    z.size = st.st_size;
    unsigned char *cd = NULL, *inbuf = NULL, *outbuf = NULL;
    zip_entry *ents = NULL;
    uint64_t count = 0, parsed = 0, cd_off, cd_size;
    int rc = find_directory(&z, &cd_off, &cd_size, &count);
    if (rc) goto out;
    cd = malloc(cd_size ? cd_size : 1);
    ents = calloc(count ? count : 1, sizeof *ents);
    inbuf = malloc(ZIP_CHUNK);
    outbuf = malloc(ZIP_CHUNK);
    if (!cd || !ents || !inbuf || !outbuf) {
        rc = CREC_ENOMEM;
        goto out;
    }
    if ((rc = read_at(&z, cd_off, cd, cd_size, "central directory"))) goto out;
    /* pass 1: parse and vet every name, so a hostile archive writes nothing at all */
    for (uint64_t i = 0, pos = 0; i < count; i++, parsed++) {
        if ((rc = parse_entry(&z, cd, cd_size, &pos, i, &ents[i]))) goto out;
        if (!name_is_safe(ents[i].name)) {
            crec__errf(err, errn, "%s: refusing unsafe entry name \"%s\" (absolute or containing \"..\")", zip_path,
                       ents[i].name);
            parsed++;
            rc = CREC_EFORMAT;
            goto out;
        }
    }
    /* pass 2: create the folder and write */
    char *base = strdup(dir);
    if (!base) {
        rc = CREC_ENOMEM;
        goto out;
    }
    size_t bl = strlen(base);
    while (bl > 1 && base[bl - 1] == '/') base[--bl] = 0;
    struct stat bst;
    rc = 0;
    if (stat(base, &bst) != 0 || !S_ISDIR(bst.st_mode)) rc = make_parents(&z, base, 0, 1, 1);
    for (uint64_t i = 0; i < count && !rc; i++) rc = extract_entry(&z, &ents[i], base, cd_off, inbuf, outbuf);
    free(base);
out:
    for (uint64_t i = 0; i < parsed && ents; i++) free(ents[i].name);
    free(ents);
    free(cd);
    free(inbuf);
    free(outbuf);
    close(z.fd);
    return rc;
}
