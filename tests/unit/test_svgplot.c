/* test_svgplot.c: the SVG line-plot module (src/core/svgplot.c): the document is well-formed XML (checked by a
 * small strict parser below: one root, balanced tags, quoted attributes, only the five predefined entities), every
 * series is present with its escaped name, its points and its legend entry, and a non-finite y splits the line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/svgplot.h"
#include "crec/common.h"

static int is_name(int c) { return isalnum(c) || c == '-' || c == '_' || c == ':' || c == '.'; }

/* Text or attribute value from s until stop: '&' must start a predefined entity, '<' is not allowed. */
static const char *check_chars(const char *s, char stop) {
    static const char *ENT[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"};
    while (*s && *s != stop) {
        if (*s == '<') return NULL;
        if (*s == '&') {
            int ok = 0;
            for (int k = 0; k < 5 && !ok; k++)
                if (!strncmp(s, ENT[k], strlen(ENT[k]))) ok = (int)strlen(ENT[k]);
            if (!ok) return NULL;
            s += ok;
            continue;
        }
        s++;
    }
    return s;
}

/* 1 when doc is well-formed (the subset an SVG writer uses: a declaration, elements, attributes, text). */
static int well_formed(const char *doc, char *why, size_t n) {
    const char *s = doc;
    char stack[64][32];
    int depth = 0, roots = 0;
    if (!strncmp(s, "<?xml", 5)) {
        s = strstr(s, "?>");
        if (!s) return snprintf(why, n, "unterminated declaration"), 0;
        s += 2;
    }
    while (*s) {
        if (*s != '<') {
            const char *e = check_chars(s, '<');
            if (!e) return snprintf(why, n, "bad text near '%.20s'", s), 0;
            if (depth == 0)
                for (const char *q = s; q < e; q++)
                    if (!isspace((unsigned char)*q)) return snprintf(why, n, "text outside the root"), 0;
            s = e;
            continue;
        }
        s++;
        int closing = *s == '/';
        if (closing) s++;
        char name[32];
        int k = 0;
        while (is_name((unsigned char)*s) && k < 31) name[k++] = *s++;
        name[k] = 0;
        if (!k) return snprintf(why, n, "bad tag near '%.20s'", s - 1), 0;
        if (closing) {
            while (isspace((unsigned char)*s)) s++;
            if (*s != '>') return snprintf(why, n, "bad end tag %s", name), 0;
            s++;
            if (depth == 0 || strcmp(stack[depth - 1], name))
                return snprintf(why, n, "end tag %s does not match %s", name, depth ? stack[depth - 1] : "(none)"), 0;
            depth--;
            continue;
        }
        char seen[32][32];
        int ns = 0;
        for (;;) {
            while (isspace((unsigned char)*s)) s++;
            if (*s == '>' || (*s == '/' && s[1] == '>')) break;
            char an[32];
            int a = 0;
            while (is_name((unsigned char)*s) && a < 31) an[a++] = *s++;
            an[a] = 0;
            if (!a || *s != '=' || s[1] != '"') return snprintf(why, n, "bad attribute in <%s>", name), 0;
            for (int q = 0; q < ns; q++)
                if (!strcmp(seen[q], an)) return snprintf(why, n, "attribute %s twice in <%s>", an, name), 0;
            if (ns < 32) snprintf(seen[ns++], 32, "%s", an);
            const char *e = check_chars(s + 2, '"');
            if (!e || *e != '"') return snprintf(why, n, "bad value of %s in <%s>", an, name), 0;
            s = e + 1;
        }
        if (depth == 0 && ++roots > 1) return snprintf(why, n, "two root elements"), 0;
        if (*s == '/') {
            s += 2;
            continue;
        }
        s++;
        if (depth == 64) return snprintf(why, n, "too deep"), 0;
        snprintf(stack[depth++], 32, "%s", name);
    }
    if (depth) return snprintf(why, n, "unclosed <%s>", stack[depth - 1]), 0;
    if (roots != 1) return snprintf(why, n, "no root"), 0;
    return 1;
}

static int count(const char *s, const char *sub) {
    int c = 0;
    for (const char *p = strstr(s, sub); p; p = strstr(p + 1, sub)) c++;
    return c;
}

static void test_plot(void **st) {
    (void)st;
    crec__svgplot *p = crec__svgplot_new("HR & NDCG <per window>", "window", "NDCG@10");
    assert_non_null(p);
    double x[5] = {1, 2, 3, 4, 5}, y1[5] = {0.1, 0.12, 0.11, 0.13, 0.14}, y2[5] = {0.05, NAN, 0.07, 0.08, 0.09};
    assert_int_equal(crec__svgplot_add(p, "online \"mf\"", x, y1, 5), 0);
    assert_int_equal(crec__svgplot_add(p, "static <a&b>", x, y2, 5), 0);
    double bad[1] = {INFINITY};
    assert_int_equal(crec__svgplot_add(p, "bad", bad, y1, 1), CREC_EINVAL);
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    assert_int_equal(crec__svgplot_write(p, f), 0);
    fclose(f);
    char why[128] = "";
    if (!well_formed(buf, why, sizeof why)) fail_msg("not well-formed: %s\n%s", why, buf);
    assert_non_null(strstr(buf, "<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert_non_null(strstr(buf, "HR &amp; NDCG &lt;per window&gt;"));
    assert_non_null(strstr(buf, "data-name=\"online &quot;mf&quot;\""));
    assert_non_null(strstr(buf, "data-name=\"static &lt;a&amp;b&gt;\""));
    assert_int_equal(count(buf, "class=\"series\""), 2);
    /* series 1: one line of 5 points; series 2: the NaN splits it into two lines, 4 markers */
    assert_int_equal(count(buf, "<polyline"), 3);
    assert_int_equal(count(buf, "<circle"), 9);
    /* legend entries */
    assert_non_null(strstr(buf, ">online &quot;mf&quot;</text>"));
    assert_non_null(strstr(buf, ">static &lt;a&amp;b&gt;</text>"));
    free(buf);
    /* the checker itself rejects broken documents */
    assert_false(well_formed("<svg><g></svg>", why, sizeof why));
    assert_false(well_formed("<svg a=\"x & y\"/>", why, sizeof why));
    assert_false(well_formed("<svg></svg><svg/>", why, sizeof why));
    assert_true(well_formed("<svg a=\"x &amp; y\"><g/></svg>", why, sizeof why));
    /* saving to a file */
    char path[] = "/tmp/crec_svgplot_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(crec__svgplot_save(p, path), 0);
    f = fopen(path, "r");
    assert_non_null(f);
    char head[6] = "";
    assert_int_equal(fread(head, 1, 5, f), 5);
    fclose(f);
    assert_string_equal(head, "<?xml");
    remove(path);
    crec__svgplot_free(p);
    /* an empty plot writes nothing */
    p = crec__svgplot_new(NULL, NULL, NULL);
    f = open_memstream(&buf, &n);
    assert_int_equal(crec__svgplot_write(p, f), CREC_EINVAL);
    fclose(f);
    free(buf);
    crec__svgplot_free(p);
}

/* Flat data and a fixed y range still give a valid frame. */
static void test_degenerate(void **st) {
    (void)st;
    crec__svgplot *p = crec__svgplot_new("flat", "x", "y");
    double x[1] = {3}, y[1] = {0.5};
    assert_int_equal(crec__svgplot_add(p, "one point", x, y, 1), 0);
    crec__svgplot_set_ylim(p, 0, 1);
    crec__svgplot_set_size(p, 10, 10); /* clamped */
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    assert_int_equal(crec__svgplot_write(p, f), 0);
    fclose(f);
    char why[128];
    if (!well_formed(buf, why, sizeof why)) fail_msg("not well-formed: %s", why);
    assert_non_null(strstr(buf, "width=\"200\" height=\"150\""));
    assert_true(strstr(buf, "nan") == NULL && strstr(buf, "inf") == NULL);
    free(buf);
    crec__svgplot_free(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plot),
        cmocka_unit_test(test_degenerate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
