/* test_replace.c: writing an output path replaces a regular file atomically (PATH.tmp, then rename) but writes a
 * device or a FIFO in place: `--out /dev/null` run as root once replaced /dev/null itself with a plain file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/binio.h"
#include "core/svgplot.h"
#include "core/util.h"

static char dir[64];

static int setup(void **st) {
    (void)st;
    snprintf(dir, sizeof dir, "/tmp/crec-replace-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **st) {
    (void)st;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_regular_file(void **st) {
    (void)st;
    char path[128], tmp[160];
    snprintf(path, sizeof path, "%s/out.bin", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    crec_buf b = {0};
    assert_int_equal(crec_buf_write(&b, "hello", 5), 0);
    assert_int_equal(crec__binfile_write(path, "CRECTEST", 1, &b), 0);
    struct stat s1;
    assert_int_equal(stat(path, &s1), 0);
    assert_true(S_ISREG(s1.st_mode));
    assert_int_not_equal(access(tmp, F_OK), 0); /* no temporary left */
    /* a second write replaces the file (a new inode: readers holding the old one keep it) */
    assert_int_equal(crec__binfile_write(path, "CRECTEST", 2, &b), 0);
    struct stat s2;
    assert_int_equal(stat(path, &s2), 0);
    assert_int_not_equal(s1.st_ino, s2.st_ino);
    uint32_t v = 0;
    crec_buf r;
    assert_int_equal(crec__binfile_read(path, "CRECTEST", 2, &v, &r), 0);
    assert_int_equal(v, 2);
    crec__binfile_release(&r);
    /* a failed write leaves the old file and no temporary */
    crec__replace rp;
    assert_int_equal(crec__replace_open(&rp, path, "wb"), 0);
    fputs("partial", rp.f);
    assert_int_equal(crec__replace_close(&rp, 0), CREC_EIO);
    assert_int_equal(crec__binfile_read(path, "CRECTEST", 2, &v, &r), 0);
    crec__binfile_release(&r);
    assert_int_not_equal(access(tmp, F_OK), 0);
    /* a directory is refused */
    assert_int_equal(crec__replace_open(&rp, dir, "wb"), CREC_EIO);
    crec_buf_free(&b);
}

/* A FIFO stands for /dev/null (a test cannot make a device): after the writes it is still a FIFO, the bytes
 * went through it, and no PATH.tmp appeared. */
static void test_fifo(void **st) {
    (void)st;
    char path[128], tmp[160];
    snprintf(path, sizeof path, "%s/pipe", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    assert_int_equal(mkfifo(path, 0600), 0);
    int rd = open(path, O_RDONLY | O_NONBLOCK); /* a reader, so that opening for writing does not wait */
    assert_true(rd >= 0);
    crec_buf b = {0};
    assert_int_equal(crec_buf_write(&b, "hello", 5), 0);
    assert_int_equal(crec__binfile_write(path, "CRECTEST", 1, &b), 0);
    char got[256];
    ssize_t n = read(rd, got, sizeof got);
    assert_true(n >= 8 + 5);
    assert_memory_equal(got, "CRECTEST", 8);
    assert_memory_equal(got + n - 5, "hello", 5);
    crec__svgplot *p = crec__svgplot_new("t", "x", "y");
    assert_non_null(p);
    double x[2] = {0, 1}, y[2] = {1, 2};
    assert_int_equal(crec__svgplot_add(p, "s", x, y, 2), 0);
    assert_int_equal(crec__svgplot_save(p, path), 0);
    crec__svgplot_free(p);
    n = read(rd, got, sizeof got - 1);
    assert_true(n > 4);
    got[n] = 0;
    assert_non_null(strstr(got, "<svg"));
    close(rd);
    struct stat s;
    assert_int_equal(stat(path, &s), 0);
    assert_true(S_ISFIFO(s.st_mode));
    assert_int_not_equal(access(tmp, F_OK), 0);
    crec_buf_free(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_regular_file),
        cmocka_unit_test(test_fifo),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
