/* test_loaders.c: every dataset loader on small hand-written fixtures (tests/data/loaders/): exact counts, id
 * mapping, titles, attributes, timestamps and values; every malformed fixture gives its documented
 * "file:line: reason"; skip_bad counting; random garbage, NUL bytes and huge lines do not crash. The real-data tests
 * (ML-100K, ML-1M, Amazon Beauty under $CREC_SHARED_DATA) are skipped when that folder is missing. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/util.h"
#include "crec/dataset.h"
#include "data/linereader.h"

/* ---- helpers ---- */

/* "<CREC_TEST_DATA>/loaders/<rel>" in one of 8 rotating buffers. */
static const char *fx(const char *rel) {
    static char buf[8][1024];
    static int k;
    const char *root = getenv("CREC_TEST_DATA");
    if (!root || !*root) root = "tests/data";
    char *b = buf[k++ & 7];
    snprintf(b, sizeof buf[0], "%s/loaders/%s", root, rel);
    return b;
}

static int32_t iid(const crec_dataset *ds, const char *name) { return crec_idmap_get(&ds->items, name, strlen(name)); }
static int32_t uid(const crec_dataset *ds, const char *name) { return crec_idmap_get(&ds->users, name, strlen(name)); }

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* Attributes of item `name` as "a,b,c", sorted by name (from the CSR index). */
static const char *attrs_of(crec_dataset *ds, const char *name) {
    static char out[512];
    const char *nm[64];
    out[0] = 0;
    int32_t i = iid(ds, name);
    if (i < 0) return "<no such item>";
    if (!ds->attr_ptr) assert_int_equal(crec_dataset_attr_csr(ds), 0);
    size_t n = 0, j = 0;
    for (int64_t k = ds->attr_ptr[i]; k < ds->attr_ptr[i + 1] && n < 64; k++)
        nm[n++] = ds->attrs.names[ds->attr_idx[k]];
    qsort(nm, n, sizeof nm[0], cmp_str);
    for (size_t k = 0; k < n; k++) j += (size_t)snprintf(out + j, sizeof out - j, "%s%s", k ? "," : "", nm[k]);
    return out;
}

static const char *title_of(const crec_dataset *ds, const char *name) {
    int32_t i = iid(ds, name);
    if (i < 0 || !ds->title || i >= ds->meta_cap || !ds->title[i]) return "<none>";
    return ds->title[i];
}

/* Event e as "user item ts value". */
static const char *event(const crec_dataset *ds, int64_t e) {
    static char out[256];
    snprintf(out, sizeof out, "%s %s %lld %g", ds->users.names[ds->user[e]], ds->items.names[ds->item[e]],
             (long long)ds->ts[e], (double)ds->value[e]);
    return out;
}

static void assert_err(const crec_load_opts *o, const char *rel, const char *suffix) {
    char want[1200];
    snprintf(want, sizeof want, "%s%s", fx(rel), suffix);
    assert_string_equal(o->err, want);
}

typedef int (*loader_fn)(crec_dataset *, const char *, crec_load_opts *);

/* Load rel with a fresh dataset and expect rc and the message "<path><suffix>". */
static void expect_fail(loader_fn fn, const char *rel, int skip_bad, int want_rc, const char *suffix) {
    crec_dataset *ds = crec_dataset_new();
    assert_non_null(ds);
    crec_load_opts o = {0};
    o.skip_bad = skip_bad;
    int rc = fn(ds, fx(rel), &o);
    if (rc != want_rc) print_error("%s: rc %d (%s), expected %d\n", rel, rc, o.err, want_rc);
    assert_int_equal(rc, want_rc);
    assert_err(&o, rel, suffix);
    crec_dataset_free(ds);
}

/* ---- the private helpers the loaders stand on ---- */

static void test_parse_time(void **state) {
    (void)state;
    int64_t t = 0;
    assert_int_equal(crec__parse_time("881250949", 9, &t), 0);
    assert_int_equal(t, 881250949);
    assert_int_equal(crec__parse_time("2020-01-02T03:04:05Z", 20, &t), 0);
    assert_int_equal(t, 1577934245);
    assert_int_equal(crec__parse_time("2020-01-02 03:04:05", 19, &t), 0);
    assert_int_equal(t, 1577934245);
    assert_int_equal(crec__parse_time("2020-01-02", 10, &t), 0);
    assert_int_equal(t, 1577923200);
    assert_int_equal(crec__parse_time("2000-02-29", 10, &t), 0);
    assert_int_equal(t, 951782400);
    assert_int_equal(crec__parse_time("1969-12-31T23:59:59", 19, &t), 0);
    assert_int_equal(t, -1);
    assert_int_equal(crec__parse_time("2001-02-29", 10, &t), -1);
    assert_int_equal(crec__parse_time("2020-13-01", 10, &t), -1);
    assert_int_equal(crec__parse_time("2020-1-2", 8, &t), -1);
    assert_int_equal(crec__parse_time("12a", 3, &t), -1);
    assert_int_equal(crec__parse_time("", 0, &t), -1);
    assert_int_equal(crec__parse_time("99999999999999999999", 20, &t), -1);
}

static void test_split_csv(void **state) {
    (void)state;
    char line[] = "a, \"x \"\"y\"\", z\" ,,\"\"";
    crec__field f[8];
    const char *why = NULL;
    int n = crec__split_csv(line, strlen(line), ',', f, 8, &why);
    assert_int_equal(n, 4);
    assert_string_equal(f[0].s, "a");
    assert_string_equal(f[1].s, "x \"y\", z");
    assert_int_equal(f[1].len, 8);
    assert_string_equal(f[2].s, "");
    assert_string_equal(f[3].s, "");
    char open[] = "a,\"b";
    assert_int_equal(crec__split_csv(open, strlen(open), ',', f, 8, &why), -1);
    assert_string_equal(why, "unterminated quoted field (quoted fields spanning lines are not supported)");
    char after[] = "\"a\"b,c";
    assert_int_equal(crec__split_csv(after, strlen(after), ',', f, 8, &why), -1);
    assert_string_equal(why, "unexpected text after a closing quote");
}

/* The line reader: BOM on line 1, CRLF, an empty line, a last line without newline, a NUL byte. */
static void test_linereader(void **state) {
    (void)state;
    char dir[] = "/tmp/crec_lr_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/lines.txt", dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fwrite("\xEF\xBB\xBF" "ab\r\n\r\nc\0d\nlast", 1, 17, f);
    fclose(f);
    crec_linereader lr;
    crec_load_opts o = {0};
    assert_int_equal(crec__lr_open(&lr, path, &o), 0);
    assert_int_equal(crec__lr_next(&lr), 1);
    assert_int_equal(lr.len, 2);
    assert_string_equal(lr.line, "ab");
    assert_int_equal(crec__lr_next(&lr), 1);
    assert_int_equal(lr.len, 0);
    assert_int_equal(crec__lr_next(&lr), 1);
    assert_int_equal(lr.len, 3);
    assert_int_equal(lr.has_nul, 1);
    assert_string_equal(crec__lr_problem(&lr), "unexpected NUL byte");
    assert_int_equal(crec__lr_next(&lr), 1);
    assert_string_equal(lr.line, "last");
    assert_int_equal(lr.lineno, 4);
    assert_int_equal(crec__lr_next(&lr), 0);
    assert_int_equal(crec__lr_next(&lr), 0);
    crec__lr_close(&lr, &o);
    assert_int_equal(o.n_lines, 4);
    unlink(path);
    rmdir(dir);
}

/* ---- MovieLens ---- */

static void test_ml100k_fixture(void **state) {
    (void)state;
    for (int by_file = 0; by_file < 2; by_file++) {
        crec_dataset *ds = crec_dataset_new();
        crec_load_opts o = {0};
        assert_int_equal(crec_load_movielens(ds, fx(by_file ? "ml100k/u.data" : "ml100k"), &o), 0);
        assert_string_equal(o.err, "");
        assert_int_equal(ds->n, 4);
        assert_int_equal(ds->users.n, 3);
        assert_int_equal(ds->items.n, 4); /* 3 rated + "400" from u.item only */
        assert_string_equal(ds->users.names[0], "10");
        assert_string_equal(ds->users.names[2], "12");
        assert_string_equal(ds->items.names[0], "100");
        assert_string_equal(ds->items.names[3], "400");
        assert_string_equal(event(ds, 0), "10 100 881250949 4");
        assert_string_equal(event(ds, 1), "11 100 881250950 3");
        assert_string_equal(event(ds, 3), "12 300 881250952 1");
        assert_int_equal(ds->user[2], 0);
        assert_int_equal(ds->item[2], 1);
        assert_int_equal(ds->has_time, 1);
        assert_int_equal(ds->has_value, 1);
        assert_string_equal(title_of(ds, "100"), "Toy Story (1995)");
        assert_string_equal(title_of(ds, "300"), "Caf\xe9 Society (1996)"); /* ISO-8859-1 byte kept */
        assert_string_equal(title_of(ds, "400"), "Never Rated (1997)");
        assert_int_equal(ds->attrs.n, 3);
        assert_string_equal(attrs_of(ds, "100"), "Action,Comedy");
        assert_string_equal(attrs_of(ds, "200"), "Action");
        assert_string_equal(attrs_of(ds, "300"), "");
        assert_string_equal(attrs_of(ds, "400"), "unknown");
        assert_int_equal(o.n_lines, 4 + 4 + 4); /* u.data, u.genre (with its blank last line), u.item */
        assert_int_equal(o.n_skipped, 0);
        assert_string_equal(ds->name, "ml100k");
        crec_dataset_free(ds);
    }
}

static void test_ml100k_standard_genres(void **state) {
    (void)state;
    crec_dataset *ds = crec_dataset_new();
    crec_load_opts o = {0};
    assert_int_equal(crec_load_movielens(ds, fx("ml100k-stdgenres"), &o), 0);
    assert_int_equal(ds->n, 1);
    assert_string_equal(event(ds, 0), "1 7 100 2");
    assert_string_equal(title_of(ds, "7"), "Seven (1995)");
    /* flags 8, 15, 16 of the standard 19 (u.item's last line has no newline) */
    assert_string_equal(attrs_of(ds, "7"), "Drama,Sci-Fi,Thriller");
    crec_dataset_free(ds);
}

static void test_ml1m_fixture(void **state) {
    (void)state;
    crec_dataset *ds = crec_dataset_new();
    crec_load_opts o = {0};
    assert_int_equal(crec_load_movielens(ds, fx("ml1m"), &o), 0);
    assert_int_equal(ds->n, 3);
    assert_int_equal(ds->users.n, 2);
    assert_int_equal(ds->items.n, 3); /* 1193, 661 rated; 9 from movies.dat */
    assert_string_equal(event(ds, 0), "1 1193 978300760 5");
    assert_string_equal(event(ds, 2), "2 1193 978298413 4");
    assert_int_equal(ds->has_time, 1);
    assert_int_equal(ds->has_value, 1);
    assert_int_equal(iid(ds, "9"), 2);
    assert_string_equal(title_of(ds, "1193"), "One Flew Over the Cuckoo's Nest (1975)");
    assert_string_equal(title_of(ds, "9"), "Sudden Death (1995)");
    assert_string_equal(attrs_of(ds, "661"), "Animation,Children's,Musical");
    assert_string_equal(attrs_of(ds, "9"), "Action");
    assert_int_equal(o.n_lines, 6);
    assert_string_equal(ds->name, "ml1m");
    crec_dataset_free(ds);
}

/* The ml-1m "user::item" variant named directly: value 1, ts = counter, no time; movies.dat beside it. */
static void test_ml1m_implicit(void **state) {
    (void)state;
    crec_dataset *ds = crec_dataset_new();
    crec_load_opts o = {0};
    assert_int_equal(crec_load_movielens(ds, fx("ml1m/ratings.implicit.all-users.dat"), &o), 0);
    assert_int_equal(ds->n, 3);
    assert_string_equal(event(ds, 0), "1 1193 0 1");
    assert_string_equal(event(ds, 1), "2 661 1 1");
    assert_string_equal(event(ds, 2), "3 9 2 1");
    assert_int_equal(ds->has_time, 0);
    assert_int_equal(ds->has_value, 0);
    assert_string_equal(title_of(ds, "661"), "James and the Giant Peach (1996)");
    crec_dataset_free(ds);
}

static void test_ml_latest_csv(void **state) {
    (void)state;
    crec_dataset *ds = crec_dataset_new();
    crec_load_opts o = {0};
    assert_int_equal(crec_load_movielens(ds, fx("mlcsv"), &o), 0);
    assert_int_equal(ds->n, 3);
    assert_string_equal(event(ds, 1), "1 3 964981247 4.5");
    assert_string_equal(event(ds, 2), "2 1 1445714835 2.5");
    assert_int_equal(ds->items.n, 3);
    assert_string_equal(title_of(ds, "3"), "American President, The (1995)");
    assert_string_equal(title_of(ds, "5"), "Movie with \"quotes\" (2000)");
    assert_string_equal(attrs_of(ds, "1"), "Adventure,Animation");
    assert_string_equal(attrs_of(ds, "5"), ""); /* "(no genres listed)" */
    assert_int_equal(o.n_lines, 4 + 4);
    crec_dataset_free(ds);
}

static void test_ml_malformed(void **state) {
    (void)state;
    expect_fail(crec_load_movielens, "bad/fields.base", 0, CREC_EPARSE,
                ":2: expected 4 tab-separated fields (user item rating timestamp), got 2");
    expect_fail(crec_load_movielens, "bad/rating.base", 0, CREC_EPARSE, ":3: bad rating 'x'");
    expect_fail(crec_load_movielens, "bad/timestamp.base", 0, CREC_EPARSE, ":2: bad timestamp 'abc'");
    expect_fail(crec_load_movielens, "bad/empty_item.base", 0, CREC_EPARSE, ":1: empty item id");
    expect_fail(crec_load_movielens, "bad/fields.dat", 0, CREC_EPARSE,
                ":2: expected 4 '::'-separated fields (user::item::rating::timestamp), got 3");
    expect_fail(crec_load_movielens, "bad/mlgenre", 0, CREC_EPARSE, "/u.item:1: bad genre flag '2' (expected 0 or 1)");
    expect_fail(crec_load_movielens, "bad", 0, CREC_ENOTFOUND,
                ": no MovieLens ratings file (u.data, ratings.dat or ratings.csv)");
}

static void test_skip_bad(void **state) {
    (void)state;
    crec_dataset *ds = crec_dataset_new();
    crec_load_opts o = {0};
    o.skip_bad = 1;
    assert_int_equal(crec_load_movielens(ds, fx("bad/fields.base"), &o), 0);
    assert_int_equal(ds->n, 2);
    assert_int_equal(o.n_skipped, 1);
    assert_int_equal(o.n_lines, 3);
    assert_err(&o, "bad/fields.base", ":2: expected 4 tab-separated fields (user item rating timestamp), got 2");
    crec_dataset_free(ds);

    /* two bad lines (2 and 4): both counted, the first message kept */
    ds = crec_dataset_new();
    assert_int_equal(crec_load_movielens(ds, fx("bad/two.base"), &o), 0);
    assert_int_equal(ds->n, 3);
    assert_int_equal(o.n_skipped, 2);
    assert_int_equal(o.n_lines, 5);
    assert_string_equal(event(ds, 2), "5 50 5 1");
    assert_err(&o, "bad/two.base", ":2: expected 4 tab-separated fields (user item rating timestamp), got 2");
    crec_dataset_free(ds);

    /* without skip_bad: stop at line 2, the first line is in */
    ds = crec_dataset_new();
    o.skip_bad = 0;
    assert_int_equal(crec_load_movielens(ds, fx("bad/two.base"), &o), CREC_EPARSE);
    assert_int_equal(ds->n, 1);
    assert_int_equal(o.n_lines, 2);
    crec_dataset_free(ds);

    /* o == NULL: stop at the first error, no message anywhere */
    ds = crec_dataset_new();
    assert_int_equal(crec_load_movielens(ds, fx("bad/two.base"), NULL), CREC_EPARSE);
    assert_int_equal(crec_load_sequences(ds, fx("seq.txt"), NULL), 0);
    crec_dataset_free(ds);
}

/* ---- sequences and pairs ---- */

static void test_sequences(void **state) {
    (void)state;
    crec_dataset *ds = crec_dataset_new();
    crec_load_opts o = {0};
    assert_int_equal(crec_load_sequences(ds, fx("seq.txt"), &o), 0);
    assert_int_equal(ds->n, 7);
    assert_int_equal(ds->users.n, 3);
    assert_int_equal(ds->items.n, 5);
    static const char *const want[7] = {"u1 a 0 1", "u1 b 1 1", "u1 c 2 1", "u2 b 3 1",
                                        "u2 d 4 1", "u3 a 5 1", "u3 e 6 1"};
    for (int e = 0; e < 7; e++) assert_string_equal(event(ds, e), want[e]);
    assert_int_equal(iid(ds, "e"), 4);
    assert_int_equal(uid(ds, "u3"), 2);
    assert_int_equal(ds->has_time, 0);
    assert_int_equal(ds->has_value, 0);
    assert_int_equal(o.n_lines, 4);
    assert_int_equal(o.n_skipped, 0);
    assert_string_equal(ds->name, "seq");
    crec_dataset_free(ds);

    expect_fail(crec_load_sequences, "bad/seq_lonely.txt", 0, CREC_EPARSE,
                ":2: expected a user followed by at least one item, got 1 field");
    ds = crec_dataset_new();
    o.skip_bad = 1;
    assert_int_equal(crec_load_sequences(ds, fx("bad/seq_lonely.txt"), &o), 0);
    assert_int_equal(ds->n, 3);
    assert_int_equal(ds->users.n, 2); /* u2 never added */
    assert_int_equal(o.n_skipped, 1);
    crec_dataset_free(ds);
}

static void test_pairs(void **state) {
    (void)state;
    crec_dataset *ds = crec_dataset_new();
    crec_load_opts o = {0};
    assert_int_equal(crec_load_pairs(ds, fx("pairs.txt"), &o), 0);
    assert_int_equal(ds->n, 4);
    assert_int_equal(ds->users.n, 3);
    assert_int_equal(ds->items.n, 3);
    assert_string_equal(event(ds, 0), "u1 i1 0 1");
    assert_string_equal(event(ds, 1), "u1 i2 1 1");
    assert_string_equal(event(ds, 2), "u2 i1 2 1");
    assert_string_equal(event(ds, 3), "u3 i3 3 1");
    assert_int_equal(o.n_lines, 5);
    assert_string_equal(ds->name, "pairs");
    crec_dataset_free(ds);
    expect_fail(crec_load_pairs, "bad/pairs_extra.txt", 0, CREC_EPARSE, ":2: expected 2 fields (user item), got 3");
}

/* ---- CSV ---- */

static void test_csv_bom_crlf_quotes(void **state) {
    (void)state;
    crec_dataset *ds = crec_dataset_new();
    crec_load_opts o = {0};
    assert_int_equal(crec_load_csv(ds, fx("csv/ratings.csv"), &o), 0);
    assert_int_equal(ds->n, 3);
    assert_int_equal(ds->users.n, 2);
    assert_int_equal(ds->items.n, 2);
    assert_string_equal(ds->items.names[0], "The \"Best\" item, v2");
    assert_string_equal(event(ds, 0), "alice The \"Best\" item, v2 1577934245 4.5");
    assert_string_equal(event(ds, 1), "bob plain 1577923200 3");
    assert_string_equal(event(ds, 2), "alice plain 1577934245 5");
    assert_int_equal(ds->has_time, 1);
    assert_int_equal(ds->has_value, 1);
    assert_int_equal(o.n_lines, 4);
    crec_dataset_free(ds);
}

static void test_csv_columns(void **state) {
    (void)state;
    /* semicolons, columns by name and by number, ISO times */
    crec_dataset *ds = crec_dataset_new();
    crec_load_opts o = {0};
    o.col_user = "u";
    o.col_item = "2";
    o.col_value = "score";
    o.col_time = "4";
    assert_int_equal(crec_load_csv(ds, fx("csv/semi.csv"), &o), 0);
    assert_int_equal(ds->n, 2);
    assert_string_equal(event(ds, 0), "1 10 1622548800 2");
    assert_string_equal(event(ds, 1), "2 10 1622505600 3.5");
    crec_dataset_free(ds);

    /* TSV with default names userId/movieId/ts and no value column */
    ds = crec_dataset_new();
    memset(&o, 0, sizeof o);
    assert_int_equal(crec_load_csv(ds, fx("csv/plays.tsv"), &o), 0);
    assert_int_equal(ds->n, 2);
    assert_string_equal(event(ds, 1), "8 80 6 1");
    assert_int_equal(ds->has_time, 1);
    assert_int_equal(ds->has_value, 0);
    crec_dataset_free(ds);

    /* no header: columns 1 and 2, ts = counter */
    ds = crec_dataset_new();
    o.no_header = 1;
    assert_int_equal(crec_load_csv(ds, fx("csv/nohead.csv"), &o), 0);
    assert_int_equal(ds->n, 2);
    assert_string_equal(event(ds, 0), "1 10 0 1");
    assert_string_equal(event(ds, 1), "2 20 1 1");
    assert_int_equal(ds->has_time, 0);
    crec_dataset_free(ds);

    /* unknown names and numbers */
    ds = crec_dataset_new();
    memset(&o, 0, sizeof o);
    o.col_user = "person";
    assert_int_equal(crec_load_csv(ds, fx("csv/ratings.csv"), &o), CREC_EINVAL);
    assert_err(&o, "csv/ratings.csv", ": no column named 'person' (columns: user_id, item_id, rating, timestamp)");
    o.col_user = NULL;
    o.col_item = "9";
    assert_int_equal(crec_load_csv(ds, fx("csv/ratings.csv"), &o), CREC_EINVAL);
    assert_err(&o, "csv/ratings.csv", ": column 9 out of range (the file has 4 columns)");
    memset(&o, 0, sizeof o);
    assert_int_equal(crec_load_csv(ds, fx("csv/semi.csv"), &o), CREC_EINVAL);
    assert_err(&o, "csv/semi.csv", ": no user column (columns: u, i, score, when); name it with col_user");
    assert_int_equal(ds->n, 0);
    crec_dataset_free(ds);
}

static void test_csv_malformed(void **state) {
    (void)state;
    expect_fail(crec_load_csv, "bad/quote.csv", 0, CREC_EPARSE,
                ":2: unterminated quoted field (quoted fields spanning lines are not supported)");
    expect_fail(crec_load_csv, "bad/fields.csv", 0, CREC_EPARSE, ":3: expected 2 comma-separated fields, got 3");
    expect_fail(crec_load_csv, "bad/time.csv", 0, CREC_EPARSE, ":2: bad timestamp '2020-13-01'");
    expect_fail(crec_load_csv, "bad/value.csv", 0, CREC_EPARSE, ":2: bad value 'x'");
    crec_dataset *ds = crec_dataset_new();
    crec_load_opts o = {0};
    o.skip_bad = 1;
    assert_int_equal(crec_load_csv(ds, fx("bad/quote.csv"), &o), 0);
    assert_int_equal(ds->n, 1);
    assert_string_equal(event(ds, 0), "b c 0 1");
    assert_int_equal(o.n_skipped, 1);
    crec_dataset_free(ds);
}

/* ---- item attributes ---- */

static void test_attrs_json_and_tsv(void **state) {
    (void)state;
    crec_dataset *ds = crec_dataset_new();
    crec_load_opts o = {0};
    assert_int_equal(crec_load_sequences(ds, fx("seq.txt"), &o), 0);
    assert_int_equal(crec_load_item_attrs(ds, fx("attrs.json"), &o), 0);
    assert_int_equal(o.n_skipped, 1); /* "zzz" */
    assert_int_equal(ds->attrs.n, 3);
    assert_string_equal(attrs_of(ds, "a"), "1,red"); /* the number 1 is mapped by its text */
    assert_string_equal(attrs_of(ds, "b"), "2.5,red");
    assert_string_equal(attrs_of(ds, "c"), "");
    crec_dataset_free(ds);

    ds = crec_dataset_new();
    assert_int_equal(crec_load_sequences(ds, fx("seq.txt"), &o), 0);
    assert_int_equal(crec_load_item_attrs(ds, fx("attrs.tsv"), &o), 0);
    assert_int_equal(o.n_skipped, 1); /* "nope"; the header is not counted */
    assert_int_equal(o.n_lines, 4);
    assert_string_equal(attrs_of(ds, "a"), "x,y");
    assert_string_equal(attrs_of(ds, "c"), "z");
    assert_string_equal(attrs_of(ds, "b"), "");
    crec_dataset_free(ds);
}

static void test_attrs_malformed(void **state) {
    (void)state;
    crec_dataset *ds = crec_dataset_new();
    crec_load_opts o = {0};
    assert_int_equal(crec_load_sequences(ds, fx("seq.txt"), &o), 0);
    /* jansson's position: file:line:column: reason */
    assert_int_equal(crec_load_item_attrs(ds, fx("bad/attrs_syntax.json"), &o), CREC_EPARSE);
    char want[1100];
    snprintf(want, sizeof want, "%s:1:12: ", fx("bad/attrs_syntax.json"));
    if (strncmp(o.err, want, strlen(want)) != 0 || strlen(o.err) <= strlen(want))
        fail_msg("err '%s' does not start with '%s' and a reason", o.err, want);

    assert_int_equal(crec_load_item_attrs(ds, fx("bad/attrs_notarray.json"), &o), CREC_EPARSE);
    assert_err(&o, "bad/attrs_notarray.json", ": item 'a': expected an array of attributes");
    o.skip_bad = 1;
    assert_int_equal(crec_load_item_attrs(ds, fx("bad/attrs_notarray.json"), &o), 0);
    assert_int_equal(o.n_skipped, 1);
    assert_string_equal(attrs_of(ds, "b"), "ok");
    o.skip_bad = 0;
    assert_int_equal(crec_load_item_attrs(ds, fx("bad/attrs_notab.tsv"), &o), CREC_EPARSE);
    assert_err(&o, "bad/attrs_notab.tsv", ":2: expected item<TAB>attributes, got 1 field");
    crec_dataset_free(ds);
}

/* ---- files that are empty, missing, or garbage ---- */

static void test_empty_file(void **state) {
    (void)state;
    loader_fn fns[5] = {crec_load_movielens, crec_load_sequences, crec_load_pairs, crec_load_csv,
                        crec_load_item_attrs};
    for (int k = 0; k < 6; k++) {
        crec_dataset *ds = crec_dataset_new();
        crec_load_opts o = {0};
        int rc = k < 5 ? fns[k](ds, fx("empty.txt"), &o) : crec_load(ds, CREC_FMT_AUTO, fx("empty.txt"), &o);
        if (rc != 0) fail_msg("loader %d on an empty file: rc %d (%s)", k, rc, o.err);
        assert_int_equal(ds->n, 0);
        assert_int_equal(o.n_lines, 0);
        assert_string_equal(o.err, "");
        crec_dataset_free(ds);
    }
}

static void test_missing_file(void **state) {
    (void)state;
    expect_fail(crec_load_movielens, "no/such/u.data", 0, CREC_EIO, ": No such file or directory");
    expect_fail(crec_load_sequences, "nothing.txt", 0, CREC_EIO, ": No such file or directory");
    expect_fail(crec_load_pairs, "nothing.txt", 1, CREC_EIO, ": No such file or directory");
    expect_fail(crec_load_csv, "nothing.csv", 0, CREC_EIO, ": No such file or directory");
    expect_fail(crec_load_item_attrs, "nothing.json", 0, CREC_EIO, ": No such file or directory");
    expect_fail(crec_load_sequences, "csv", 0, CREC_EIO, ": Is a directory");
}

static void write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

static int rc_is_sane(int rc) { return rc == 0 || rc == CREC_EPARSE || rc == CREC_EFORMAT || rc == CREC_EINVAL; }

static void test_garbage_does_not_crash(void **state) {
    (void)state;
    char dir[] = "/tmp/crec_garbage_XXXXXX";
    assert_non_null(mkdtemp(dir));
    static const char *const names[4] = {"garbage.bin", "garbage.csv", "garbage.json", "u.data"};
    char path[4][300];
    crec_rng rng;
    crec__rng_seed(&rng, 42);
    size_t n = 1 << 16;
    unsigned char *buf = malloc(n);
    assert_non_null(buf);
    for (int g = 0; g < 4; g++) {
        for (size_t k = 0; k < n; k++) {
            uint64_t r = crec__rng_next(&rng);
            /* bytes biased to separators, quotes, newlines and NULs so every parser path is hit */
            static const char spice[] = "\t\n,;:|\" \r{}[]\0";
            buf[k] = (r & 3) == 0 ? (unsigned char)spice[(r >> 8) % (sizeof spice)] : (unsigned char)(r >> 16);
        }
        if (g == 2) buf[0] = '{';
        snprintf(path[g], sizeof path[g], "%s/%s", dir, names[g]);
        write_file(path[g], buf, n);
    }
    free(buf);
    loader_fn fns[5] = {crec_load_movielens, crec_load_sequences, crec_load_pairs, crec_load_csv,
                        crec_load_item_attrs};
    for (int g = 0; g < 4; g++)
        for (int skip = 0; skip < 2; skip++)
            for (int k = 0; k < 6; k++) {
                crec_dataset *ds = crec_dataset_new();
                crec_load_opts o = {0};
                o.skip_bad = skip;
                if (k == 4) crec_load_sequences(ds, path[g], NULL); /* some items to attach to */
                int rc = k < 5 ? fns[k](ds, path[g], &o) : crec_load(ds, CREC_FMT_AUTO, path[g], &o);
                if (!rc_is_sane(rc)) fail_msg("%s loader %d skip %d: rc %d (%s)", names[g], k, skip, rc, o.err);
                if (rc != 0) assert_true(strlen(o.err) > 0);
                if (skip && rc == 0 && (k == 1 || k == 2)) assert_true(o.n_skipped > 0);
                crec_dataset_free(ds);
            }

    /* a NUL byte inside a line: that line is bad, the others load */
    char nulp[300];
    snprintf(nulp, sizeof nulp, "%s/nul.txt", dir);
    write_file(nulp, "u1 a\nu2 b\0c\nu3 d\n", 17);
    crec_dataset *ds = crec_dataset_new();
    crec_load_opts o = {0};
    assert_int_equal(crec_load_sequences(ds, nulp, &o), CREC_EPARSE);
    char want[400];
    snprintf(want, sizeof want, "%s:2: unexpected NUL byte", nulp);
    assert_string_equal(o.err, want);
    o.skip_bad = 1;
    assert_int_equal(crec_load_sequences(ds, nulp, &o), 0);
    assert_int_equal(o.n_skipped, 1);
    assert_int_equal(ds->n, 1 + 2);
    crec_dataset_free(ds);

    /* huge lines: 4 MiB without a separator; one user with 300000 items on one line */
    char hugep[300];
    snprintf(hugep, sizeof hugep, "%s/huge.txt", dir);
    size_t hn = (size_t)4 << 20;
    char *h = malloc(hn);
    assert_non_null(h);
    memset(h, 'x', hn);
    write_file(hugep, h, hn);
    ds = crec_dataset_new();
    memset(&o, 0, sizeof o);
    assert_int_equal(crec_load_pairs(ds, hugep, &o), CREC_EPARSE);
    snprintf(want, sizeof want, "%s:1: expected 2 fields (user item), got 1", hugep);
    assert_string_equal(o.err, want);
    crec_dataset_free(ds);
    size_t j = (size_t)snprintf(h, hn, "u");
    for (int i = 0; i < 300000; i++) j += (size_t)snprintf(h + j, hn - j, " i%d", i % 1000);
    write_file(hugep, h, j);
    free(h);
    ds = crec_dataset_new();
    assert_int_equal(crec_load_sequences(ds, hugep, &o), 0);
    assert_int_equal(ds->n, 300000);
    assert_int_equal(ds->items.n, 1000);
    assert_int_equal(ds->ts[299999], 299999);
    crec_dataset_free(ds);

    for (int g = 0; g < 4; g++) unlink(path[g]);
    unlink(nulp);
    unlink(hugep);
    rmdir(dir);
}

/* ---- dispatch ---- */

static void test_auto_dispatch(void **state) {
    (void)state;
    assert_int_equal(crec_format_parse("movielens"), CREC_FMT_MOVIELENS);
    assert_int_equal(crec_format_parse("sequences"), CREC_FMT_SEQUENCES);
    assert_int_equal(crec_format_parse("pairs"), CREC_FMT_PAIRS);
    assert_int_equal(crec_format_parse("csv"), CREC_FMT_CSV);
    assert_int_equal(crec_format_parse("auto"), CREC_FMT_AUTO);
    assert_int_equal(crec_format_parse("json"), CREC_FMT_UNKNOWN);
    assert_int_equal(crec_format_parse(NULL), CREC_FMT_UNKNOWN);
    assert_int_equal((int)crec_format_parse("Pairs"), CREC_FMT_PAIRS);
    static const struct {
        const char *rel;
        int64_t n;
        int has_value, titled;
    } cases[] = {
        {"seq.txt", 7, 0, 0},      {"pairs.txt", 4, 0, 0},         {"csv/ratings.csv", 3, 1, 0},
        {"csv/plays.tsv", 2, 0, 0}, {"ml100k", 4, 1, 1},            {"ml1m/ratings.dat", 3, 1, 1},
        {"ml1m/ratings.implicit.all-users.dat", 3, 0, 1}, {"mlcsv/ratings.csv", 3, 1, 1}, {"ml1m/movies.dat", 3, 1, 1},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        crec_dataset *ds = crec_dataset_new();
        crec_load_opts o = {0};
        int rc = crec_load(ds, CREC_FMT_AUTO, fx(cases[c].rel), &o);
        if (rc || ds->n != cases[c].n) fail_msg("%s: rc %d n %lld (%s)", cases[c].rel, rc, (long long)ds->n, o.err);
        assert_int_equal(ds->has_value, cases[c].has_value);
        assert_int_equal(ds->title != NULL, cases[c].titled);
        crec_dataset_free(ds);
    }
    /* an explicit format wins over the guess: seq.txt read as pairs fails on line 1 */
    crec_dataset *ds = crec_dataset_new();
    crec_load_opts o = {0};
    assert_int_equal(crec_load(ds, CREC_FMT_PAIRS, fx("seq.txt"), &o), CREC_EPARSE);
    assert_err(&o, "seq.txt", ":1: expected 2 fields (user item), got 4");
    assert_int_equal(crec_load(ds, (crec_format)42, fx("seq.txt"), &o), CREC_EINVAL);
    crec_dataset_free(ds);
}

/* ---- real data (skipped without $CREC_SHARED_DATA) ---- */

static const char *shared(const char *rel) {
    static char buf[4][1024];
    static int k;
    const char *root = getenv("CREC_SHARED_DATA");
    if (!root || !*root) return NULL;
    char *b = buf[k++ & 3];
    snprintf(b, sizeof buf[0], "%s/%s", root, rel);
    struct stat st;
    return stat(b, &st) == 0 ? b : NULL;
}

#define NEED_SHARED(var, rel)                                                                  \
    const char *var = shared(rel);                                                             \
    if (!var) {                                                                                \
        print_message("skipped: %s not found under $CREC_SHARED_DATA (%s)\n", rel,            \
                      getenv("CREC_SHARED_DATA") ? getenv("CREC_SHARED_DATA") : "unset");      \
        skip();                                                                                \
    }

static void test_real_ml100k(void **state) {
    (void)state;
    NEED_SHARED(dir, "ml-100k");
    crec_dataset *ds = crec_dataset_new();
    crec_load_opts o = {0};
    double t0 = crec__now();
    assert_int_equal(crec_load_movielens(ds, dir, &o), 0);
    double dt = crec__now() - t0;
    print_message("ml-100k: %lld interactions, %d users, %d items, %d genres, %lld lines in %.1f ms\n",
                  (long long)ds->n, ds->users.n, ds->items.n, ds->attrs.n, (long long)o.n_lines, dt * 1e3);
    assert_int_equal(ds->n, 100000);
    assert_int_equal(ds->users.n, 943);
    assert_int_equal(ds->items.n, 1682);
    assert_int_equal(o.n_skipped, 0);
    assert_string_equal(title_of(ds, "1"), "Toy Story (1995)");
    assert_int_equal(ds->attrs.n, 19);
    assert_non_null(ds->attr_ptr);
    assert_string_equal(attrs_of(ds, "1"), "Animation,Children's,Comedy");
    assert_string_equal(ds->name, "ml-100k");
    assert_string_equal(event(ds, 0), "196 242 881250949 3");
    crec_dataset_free(ds);
}

static void test_real_ml1m(void **state) {
    (void)state;
    NEED_SHARED(imp, "ml-1m/ratings.implicit.all-users.dat");
    crec_dataset *ds = crec_dataset_new();
    crec_load_opts o = {0};
    double t0 = crec__now();
    assert_int_equal(crec_load(ds, CREC_FMT_AUTO, imp, &o), 0);
    print_message("ml-1m implicit: %lld pairs, %d users, %d items (%.1f ms)\n", (long long)ds->n, ds->users.n,
                  ds->items.n, (crec__now() - t0) * 1e3);
    assert_int_equal(ds->n, 1000209);
    assert_int_equal(ds->users.n, 6040);
    assert_int_equal(ds->items.n, 3883); /* 3706 rated + the never-rated movies of movies.dat */
    assert_int_equal(ds->has_time, 0);
    assert_string_equal(title_of(ds, "1"), "Toy Story (1995)");
    crec_dataset_free(ds);

    NEED_SHARED(exp, "ml-1m/ratings.users-0001-2999.dat");
    ds = crec_dataset_new();
    assert_int_equal(crec_load_movielens(ds, exp, &o), 0);
    assert_int_equal(ds->n, 487650);
    assert_int_equal(ds->users.n, 2999);
    assert_int_equal(ds->has_time, 1);
    assert_string_equal(event(ds, 0), "1 1193 978300760 5");
    crec_dataset_free(ds);
}

static void test_real_beauty(void **state) {
    (void)state;
    NEED_SHARED(seq, "amazon-beauty/Beauty.txt");
    crec_dataset *ds = crec_dataset_new();
    crec_load_opts o = {0};
    double t0 = crec__now();
    assert_int_equal(crec_load(ds, CREC_FMT_AUTO, seq, &o), 0);
    double dt = crec__now() - t0;
    assert_int_equal(ds->n, 198502);
    assert_int_equal(ds->users.n, 22363);
    assert_int_equal(ds->items.n, 12101);
    assert_string_equal(event(ds, 0), "1 1 0 1");

    NEED_SHARED(json, "amazon-beauty/Beauty_item2attributes.json");
    t0 = crec__now();
    assert_int_equal(crec_load_item_attrs(ds, json, &o), 0);
    double dj = crec__now() - t0;
    int64_t with = 0;
    for (int32_t i = 0; i < ds->items.n; i++) with += ds->attr_ptr[i + 1] > ds->attr_ptr[i];
    print_message("beauty: %lld interactions, %d users, %d items in %.1f ms; attributes: %d names, %lld pairs, "
                  "%lld items with any, %lld unknown items (%.1f ms)\n",
                  (long long)ds->n, ds->users.n, ds->items.n, dt * 1e3, ds->attrs.n,
                  (long long)ds->attr_ptr[ds->items.n],
                  (long long)with, (long long)o.n_skipped, dj * 1e3);
    assert_int_equal(o.n_skipped, 0);
    assert_int_equal(with, 12101);
    assert_int_equal(ds->attrs.n, 637);
    assert_string_equal(attrs_of(ds, "4"), "1,2,3");

    /* the derived TSV (header "item_id asin s3rec_attr_ids") gives the same index */
    NEED_SHARED(tsv, "amazon-beauty/Beauty_items.tsv");
    crec_dataset *d2 = crec_dataset_new();
    assert_int_equal(crec_load_sequences(d2, seq, &o), 0);
    assert_int_equal(crec_load_item_attrs(d2, tsv, &o), 0);
    assert_int_equal(o.n_skipped, 0);
    assert_int_equal(d2->attrs.n, 637);
    assert_int_equal(d2->attr_ptr[d2->items.n], ds->attr_ptr[ds->items.n]);
    for (int32_t i = 0; i < ds->items.n; i++) { /* same items (both from Beauty.txt), same attribute names */
        assert_string_equal(d2->items.names[i], ds->items.names[i]);
        char a[512];
        snprintf(a, sizeof a, "%s", attrs_of(ds, ds->items.names[i]));
        assert_string_equal(attrs_of(d2, ds->items.names[i]), a);
    }
    crec_dataset_free(d2);
    crec_dataset_free(ds);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_time),
        cmocka_unit_test(test_split_csv),
        cmocka_unit_test(test_linereader),
        cmocka_unit_test(test_ml100k_fixture),
        cmocka_unit_test(test_ml100k_standard_genres),
        cmocka_unit_test(test_ml1m_fixture),
        cmocka_unit_test(test_ml1m_implicit),
        cmocka_unit_test(test_ml_latest_csv),
        cmocka_unit_test(test_ml_malformed),
        cmocka_unit_test(test_skip_bad),
        cmocka_unit_test(test_sequences),
        cmocka_unit_test(test_pairs),
        cmocka_unit_test(test_csv_bom_crlf_quotes),
        cmocka_unit_test(test_csv_columns),
        cmocka_unit_test(test_csv_malformed),
        cmocka_unit_test(test_attrs_json_and_tsv),
        cmocka_unit_test(test_attrs_malformed),
        cmocka_unit_test(test_empty_file),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_garbage_does_not_crash),
        cmocka_unit_test(test_auto_dispatch),
        cmocka_unit_test(test_real_ml100k),
        cmocka_unit_test(test_real_ml1m),
        cmocka_unit_test(test_real_beauty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
