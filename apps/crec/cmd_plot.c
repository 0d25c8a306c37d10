/* cmd_plot.c: crec plot --csv F --x COL --y COL [--series COL] --out F.svg [--logx]: a line plot of a CSV file's
 * columns as a standalone SVG, drawn by the project's own plot module (src/core/svgplot.c), so a figure such as
 * quality against training FLOPs needs no Python. One series per distinct value of --series (in order of first
 * appearance, at most 16), each series' points sorted by x. Bad input is reported as file:line: reason. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/svgplot.h"

#define PLOT_MAX_SERIES 16
#define PLOT_MAX_FIELDS 256

typedef struct {
    char *name;
    double *x, *y;
    int n, cap;
} plot_series;

typedef struct {
    double x, y;
} plot_pt;

static int pt_cmp(const void *a, const void *b) {
    double u = ((const plot_pt *)a)->x, v = ((const plot_pt *)b)->x;
    return (u > v) - (u < v);
}

/* Split line (modified in place) at delim into at most PLOT_MAX_FIELDS fields; "..." quotes with "" for a quote.
 * Returns the number of fields, or -1 for an unterminated quote / too many fields. */
static int split_fields(char *line, char delim, char **f) {
    int n = 0;
    char *s = line;
    for (;;) {
        if (n == PLOT_MAX_FIELDS) return -1;
        if (*s == '"') {
            char *w = ++s;
            f[n++] = w;
            for (;;) {
                if (!*s) return -1;
                if (*s == '"' && s[1] == '"') { *w++ = '"'; s += 2; continue; }
                if (*s == '"') { s++; break; }
                *w++ = *s++;
            }
            *w = 0;
            if (*s && *s != delim) return -1;
        } else {
            f[n++] = s;
            while (*s && *s != delim) s++;
        }
        if (!*s) break;
        *s++ = 0;
    }
    for (int i = 0; i < n; i++) { /* trim blanks around unquoted fields */
        char *a = f[i];
        while (*a == ' ') a++;
        size_t l = strlen(a);
        while (l > 0 && a[l - 1] == ' ') a[--l] = 0;
        f[i] = a;
    }
    return n;
}

static int find_col(char **hdr, int nh, const char *name) {
    for (int i = 0; i < nh; i++)
        if (strcmp(hdr[i], name) == 0) return i;
    return -1;
}

static int parse_num(const char *s, double *out) {
    char *end;
    if (!*s) return -1;
    double v = strtod(s, &end);
    if (*end || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

static void plot_usage(FILE *f) {
    fputs("usage: crec plot --csv F --x COL --y COL [--series COL] --out F.svg [--logx] [--title T]\n"
          "\n"
          "Draws columns of a CSV file (header row; comma- or tab-separated, \"...\" quoting) as a line plot in a\n"
          "standalone SVG file, with the project's own plot code (no Python needed).\n"
          "\n"
          "  --csv F        input CSV; the first line names the columns\n"
          "  --x COL        column for the x axis (numbers)\n"
          "  --y COL        column for the y axis (numbers; empty or 'nan' leaves a gap)\n"
          "  --series COL   one line per distinct value of this column (at most 16); default: one line named COL of --y\n"
          "  --out F.svg    output file (written through F.svg.tmp, then renamed)\n"
          "  --logx         x axis in log10 (every x must be > 0; the axis is labelled log10(COL))\n"
          "  --title T      plot title (default: 'Y against X')\n",
          f);
}

int cmd_plot(int argc, char **argv) {
    const char *csv = NULL, *xcol = NULL, *ycol = NULL, *scol = NULL, *out = NULL, *title = NULL;
    int logx = 0, bad = 0;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            plot_usage(stdout);
            return CLI_OK;
        }
        if (cli_opt(argc, argv, &i, "--csv", &csv, &bad) || cli_opt(argc, argv, &i, "--x", &xcol, &bad) ||
            cli_opt(argc, argv, &i, "--y", &ycol, &bad) || cli_opt(argc, argv, &i, "--series", &scol, &bad) ||
            cli_opt(argc, argv, &i, "--out", &out, &bad) || cli_opt(argc, argv, &i, "--title", &title, &bad))
            continue;
        if (cli_flag(argv, i, "--logx")) { logx = 1; continue; }
        fprintf(stderr, "crec plot: unknown option '%s'\n", argv[i]);
        bad = 1;
    }
    if (bad || !csv || !xcol || !ycol || !out) {
        if (!bad) fprintf(stderr, "crec plot: --csv, --x, --y and --out are required\n");
        plot_usage(stderr);
        return CLI_USAGE;
    }
    FILE *f = fopen(csv, "r");
    if (!f) {
        fprintf(stderr, "crec plot: cannot open %s\n", csv);
        return CLI_FAIL;
    }
    plot_series ser[PLOT_MAX_SERIES];
    int ns = 0, rc = CLI_FAIL, lineno = 0, ix = -1, iy = -1, is = -1, nh = 0, npts = 0;
    char *line = NULL, *hdrline = NULL, *hdr[PLOT_MAX_FIELDS], *fld[PLOT_MAX_FIELDS];
    size_t lcap = 0;
    ssize_t len;
    char delim = ',';
    memset(ser, 0, sizeof ser);
    while ((len = getline(&line, &lcap, f)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if (!hdrline) {
            if (len == 0) {
                fprintf(stderr, "crec plot: %s:%d: empty header line\n", csv, lineno);
                goto done;
            }
            if (strchr(line, '\t')) delim = '\t';
            hdrline = strdup(line);
            if (!hdrline) goto oom;
            nh = split_fields(hdrline, delim, hdr);
            if (nh < 0) {
                fprintf(stderr, "crec plot: %s:%d: bad header (unterminated quote or over %d columns)\n", csv, lineno,
                        PLOT_MAX_FIELDS);
                goto done;
            }
            const char *want[3] = {xcol, ycol, scol};
            int *idx[3] = {&ix, &iy, &is};
            for (int k = 0; k < 3; k++) {
                if (!want[k]) continue;
                *idx[k] = find_col(hdr, nh, want[k]);
                if (*idx[k] < 0) {
                    fprintf(stderr, "crec plot: %s:%d: no column '%s' in the header\n", csv, lineno, want[k]);
                    goto done;
                }
            }
            continue;
        }
        if (len == 0) continue; /* blank lines are skipped */
        int n = split_fields(line, delim, fld);
        if (n != nh) {
            if (n < 0)
                fprintf(stderr, "crec plot: %s:%d: unterminated quote or too many fields\n", csv, lineno);
            else
                fprintf(stderr, "crec plot: %s:%d: %d fields, the header has %d\n", csv, lineno, n, nh);
            goto done;
        }
        double x, y;
        if (parse_num(fld[ix], &x)) {
            fprintf(stderr, "crec plot: %s:%d: column '%s': not a finite number: '%s'\n", csv, lineno, xcol, fld[ix]);
            goto done;
        }
        if (logx) {
            if (x <= 0) {
                fprintf(stderr, "crec plot: %s:%d: column '%s': --logx needs x > 0, got %s\n", csv, lineno, xcol,
                        fld[ix]);
                goto done;
            }
            x = log10(x);
        }
        const char *ys = fld[iy];
        if (!*ys || !strcmp(ys, "nan") || !strcmp(ys, "NaN") || !strcmp(ys, "NA")) {
            y = NAN;
        } else if (parse_num(ys, &y)) {
            fprintf(stderr, "crec plot: %s:%d: column '%s': not a number: '%s'\n", csv, lineno, ycol, ys);
            goto done;
        }
        const char *sname = is >= 0 ? fld[is] : ycol;
        int s = 0;
        while (s < ns && strcmp(ser[s].name, sname)) s++;
        if (s == ns) {
            if (ns == PLOT_MAX_SERIES) {
                fprintf(stderr, "crec plot: %s:%d: more than %d series in column '%s'\n", csv, lineno,
                        PLOT_MAX_SERIES, scol);
                goto done;
            }
            ser[s].name = strdup(sname);
            if (!ser[s].name) goto oom;
            ns++;
        }
        plot_series *p = &ser[s];
        if (p->n == p->cap) {
            int nc = p->cap ? 2 * p->cap : 16;
            double *nx = realloc(p->x, (size_t)nc * sizeof *nx);
            if (!nx) goto oom;
            p->x = nx;
            double *ny = realloc(p->y, (size_t)nc * sizeof *ny);
            if (!ny) goto oom;
            p->y = ny;
            p->cap = nc;
        }
        p->x[p->n] = x, p->y[p->n] = y, p->n++;
        npts++;
    }
    if (!hdrline) {
        fprintf(stderr, "crec plot: %s:1: empty file (a header line is needed)\n", csv);
        goto done;
    }
    if (npts == 0) {
        fprintf(stderr, "crec plot: %s:%d: no data rows after the header\n", csv, lineno);
        goto done;
    }
    char xl[512], tl[600];
    snprintf(xl, sizeof xl, logx ? "log10(%s)" : "%s", xcol);
    snprintf(tl, sizeof tl, "%s against %s", ycol, xcol);
    crec__svgplot *pl = crec__svgplot_new(title ? title : tl, xl, ycol);
    if (!pl) goto oom;
    for (int s = 0; s < ns; s++) {
        plot_pt *pt = malloc((size_t)ser[s].n * sizeof *pt);
        if (!pt) {
            crec__svgplot_free(pl);
            goto oom;
        }
        for (int k = 0; k < ser[s].n; k++) pt[k].x = ser[s].x[k], pt[k].y = ser[s].y[k];
        qsort(pt, (size_t)ser[s].n, sizeof *pt, pt_cmp);
        for (int k = 0; k < ser[s].n; k++) ser[s].x[k] = pt[k].x, ser[s].y[k] = pt[k].y;
        free(pt);
        int e = crec__svgplot_add(pl, ser[s].name, ser[s].x, ser[s].y, ser[s].n);
        if (e) {
            cli_err("plot", ser[s].name, e);
            crec__svgplot_free(pl);
            goto done;
        }
    }
    int e = crec__svgplot_save(pl, out);
    crec__svgplot_free(pl);
    if (e) {
        cli_err("plot", out, e);
        goto done;
    }
    fprintf(stderr, "crec plot: %d series, %d points -> %s\n", ns, npts, out);
    rc = CLI_OK;
    goto done;
oom:
    fprintf(stderr, "crec plot: out of memory\n");
done:
    for (int s = 0; s < ns; s++) free(ser[s].name), free(ser[s].x), free(ser[s].y);
    free(line);
    free(hdrline);
    fclose(f);
    return rc;
}
