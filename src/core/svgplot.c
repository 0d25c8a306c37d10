/* svgplot.c: line plots as standalone SVG (see svgplot.h). The one idea: data coordinates map to pixels through
 * one affine map per axis, fitted to "nice" tick bounds, so every series, gridline and tick label agrees. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/svgplot.h"
#include "core/util.h"
#include "crec/common.h"

#define SVG_MAX_SERIES 16

typedef struct {
    char *name;
    double *x, *y;
    int n;
} svg_series;

struct crec__svgplot {
    char *title, *xlabel, *ylabel;
    int w, h;
    double ylo, yhi; /* NaN: automatic */
    svg_series s[SVG_MAX_SERIES];
    int ns;
};

static const char *const PALETTE[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
                                      "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

crec__svgplot *crec__svgplot_new(const char *title, const char *xlabel, const char *ylabel) {
    crec__svgplot *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->title = dup_or_null(title);
    p->xlabel = dup_or_null(xlabel);
    p->ylabel = dup_or_null(ylabel);
    if ((title && !p->title) || (xlabel && !p->xlabel) || (ylabel && !p->ylabel)) {
        crec__svgplot_free(p);
        return NULL;
    }
    p->w = 720;
    p->h = 420;
    p->ylo = p->yhi = NAN;
    return p;
}

void crec__svgplot_free(crec__svgplot *p) {
    if (!p) return;
    for (int i = 0; i < p->ns; i++) {
        free(p->s[i].name);
        free(p->s[i].x);
        free(p->s[i].y);
    }
    free(p->title);
    free(p->xlabel);
    free(p->ylabel);
    free(p);
}

int crec__svgplot_add(crec__svgplot *p, const char *name, const double *x, const double *y, int n) {
    if (!p || !x || !y || n < 1 || p->ns >= SVG_MAX_SERIES) return CREC_EINVAL;
    for (int i = 0; i < n; i++)
        if (!isfinite(x[i])) return CREC_EINVAL;
    svg_series *s = &p->s[p->ns];
    s->name = strdup(name ? name : "");
    s->x = malloc((size_t)n * sizeof *s->x);
    s->y = malloc((size_t)n * sizeof *s->y);
    if (!s->name || !s->x || !s->y) {
        free(s->name);
        free(s->x);
        free(s->y);
        memset(s, 0, sizeof *s);
        return CREC_ENOMEM;
    }
    memcpy(s->x, x, (size_t)n * sizeof *x);
    memcpy(s->y, y, (size_t)n * sizeof *y);
    s->n = n;
    p->ns++;
    return 0;
}

void crec__svgplot_set_size(crec__svgplot *p, int width, int height) {
    if (!p) return;
    p->w = width < 200 ? 200 : width > 10000 ? 10000 : width;
    p->h = height < 150 ? 150 : height > 10000 ? 10000 : height;
}

void crec__svgplot_set_ylim(crec__svgplot *p, double lo, double hi) {
    if (!p) return;
    if (isfinite(lo) && isfinite(hi) && !(lo < hi)) return;
    p->ylo = lo;
    p->yhi = hi;
}

/* Text with &, <, >, ", ' escaped; control characters dropped. */
static void put_text(FILE *f, const char *s) {
    for (const unsigned char *c = (const unsigned char *)(s ? s : ""); *c; c++) {
        switch (*c) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&apos;", f); break;
        default:
            if (*c >= 0x20) fputc(*c, f);
        }
    }
}

/* A tick step of 1, 2 or 5 x 10^k giving about `want` intervals over [lo, hi]. */
static double nice_step(double lo, double hi, int want) {
    double raw = (hi - lo) / want;
    if (!(raw > 0) || !isfinite(raw)) return 1;
    double e = pow(10, floor(log10(raw))), f = raw / e;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * e;
}

/* Tick label: as few decimals as the step needs. */
static void tick_label(char *buf, size_t n, double v, double step) {
    int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    if (dec > 8) dec = 8;
    if (fabs(v) < step * 1e-9) v = 0;
    snprintf(buf, n, "%.*f", dec, v);
}

int crec__svgplot_write(const crec__svgplot *p, FILE *f) {
    if (!p || !f || p->ns == 0) return CREC_EINVAL;
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    for (int i = 0; i < p->ns; i++)
        for (int k = 0; k < p->s[i].n; k++) {
            double x = p->s[i].x[k], y = p->s[i].y[k];
            if (x < xlo) xlo = x;
            if (x > xhi) xhi = x;
            if (isfinite(y)) {
                if (y < ylo) ylo = y;
                if (y > yhi) yhi = y;
            }
        }
    if (!isfinite(ylo)) ylo = 0, yhi = 1; /* no finite y at all */
    if (ylo >= 0 && isnan(p->ylo)) ylo = 0;
    if (isfinite(p->ylo)) ylo = p->ylo;
    if (isfinite(p->yhi)) yhi = p->yhi;
    if (!(xhi > xlo)) xlo -= 0.5, xhi += 0.5;
    if (!(yhi > ylo)) {
        double d = fabs(ylo) > 0 ? fabs(ylo) * 0.1 : 0.5;
        ylo -= d;
        yhi += d;
    }
    double xs = nice_step(xlo, xhi, 8), ys = nice_step(ylo, yhi, 6);
    double X0 = floor(xlo / xs + 1e-9) * xs, X1 = ceil(xhi / xs - 1e-9) * xs;
    double Y0 = isfinite(p->ylo) ? ylo : floor(ylo / ys + 1e-9) * ys;
    double Y1 = isfinite(p->yhi) ? yhi : ceil(yhi / ys - 1e-9) * ys;
    if (!(X1 > X0)) X1 = X0 + xs;
    if (!(Y1 > Y0)) Y1 = Y0 + ys;
    /* the legend sits right of the frame, so it never hides a line */
    double lw = 0;
    for (int i = 0; i < p->ns; i++) {
        double w = 7.0 * (double)strlen(p->s[i].name);
        if (w > lw) lw = w;
    }
    if (lw > p->w / 2.5) lw = p->w / 2.5;
    const double L = 70, R = lw + 56, T = 40, B = 55;
    double pw = p->w - L - R, ph = p->h - T - B;
#define PX(x) (L + ((x) - X0) / (X1 - X0) * pw)
#define PY(y) (T + (1 - ((y) - Y0) / (Y1 - Y0)) * ph)
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
               "font-family=\"sans-serif\" font-size=\"12\">\n", p->w, p->h, p->w, p->h);
    fprintf(f, "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"white\"/>\n", p->w, p->h);
    if (p->title) {
        fprintf(f, "<text x=\"%.1f\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">", p->w / 2.0);
        put_text(f, p->title);
        fputs("</text>\n", f);
    }
    char lab[64];
    fputs("<g stroke=\"#dddddd\" stroke-width=\"1\">\n", f);
    for (int k = 0; k <= 1000; k++) {
        double y = Y0 + k * ys;
        if (y > Y1 + ys * 1e-6) break;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", L, PY(y), L + pw, PY(y));
    }
    fputs("</g>\n<g text-anchor=\"end\">\n", f);
    for (int k = 0; k <= 1000; k++) {
        double y = Y0 + k * ys;
        if (y > Y1 + ys * 1e-6) break;
        tick_label(lab, sizeof lab, y, ys);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">%s</text>\n", L - 6, PY(y) + 4, lab);
    }
    fputs("</g>\n<g text-anchor=\"middle\">\n", f);
    for (int k = 0; k <= 1000; k++) {
        double x = X0 + k * xs;
        if (x > X1 + xs * 1e-6) break;
        tick_label(lab, sizeof lab, x, xs);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">%s</text>\n", PX(x), T + ph + 18, lab);
    }
    fputs("</g>\n", f);
    fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"black\"/>\n", L, T,
            pw, ph);
    if (p->xlabel) {
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", L + pw / 2, (double)p->h - 12);
        put_text(f, p->xlabel);
        fputs("</text>\n", f);
    }
    if (p->ylabel) {
        fprintf(f, "<text x=\"16\" y=\"%.1f\" text-anchor=\"middle\" transform=\"rotate(-90 16 %.1f)\">",
                T + ph / 2, T + ph / 2);
        put_text(f, p->ylabel);
        fputs("</text>\n", f);
    }
    for (int i = 0; i < p->ns; i++) {
        const svg_series *s = &p->s[i];
        const char *col = PALETTE[i % (int)(sizeof PALETTE / sizeof *PALETTE)];
        fputs("<g class=\"series\" data-name=\"", f);
        put_text(f, s->name);
        fprintf(f, "\" stroke=\"%s\" fill=\"%s\">\n", col, col);
        /* one polyline per run of finite points; clipped y values are drawn at the frame */
        int open = 0;
        for (int k = 0; k < s->n; k++) {
            double y = s->y[k];
            if (!isfinite(y)) {
                if (open) fputs("\"/>\n", f);
                open = 0;
                continue;
            }
            double yy = y < Y0 ? Y0 : y > Y1 ? Y1 : y;
            if (!open) fputs("<polyline fill=\"none\" stroke-width=\"2\" points=\"", f);
            fprintf(f, "%s%.1f,%.1f", open ? " " : "", PX(s->x[k]), PY(yy));
            open = 1;
        }
        if (open) fputs("\"/>\n", f);
        for (int k = 0; k < s->n; k++) {
            double y = s->y[k];
            if (!isfinite(y)) continue;
            double yy = y < Y0 ? Y0 : y > Y1 ? Y1 : y;
            fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\"/>\n", PX(s->x[k]), PY(yy));
        }
        fputs("</g>\n", f);
    }
    /* legend, right of the frame */
    double lx = L + pw + 14, ly = T;
    fprintf(f, "<g class=\"legend\"><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"white\" "
               "fill-opacity=\"0.85\" stroke=\"#999999\"/>\n", lx - 6, ly - 2, lw + 40, 18.0 * p->ns + 4);
    for (int i = 0; i < p->ns; i++) {
        const char *col = PALETTE[i % (int)(sizeof PALETTE / sizeof *PALETTE)];
        double yy = ly + 18.0 * i + 10;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2\"/>\n", lx,
                yy, lx + 22, yy, col);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">", lx + 28, yy + 4);
        put_text(f, p->s[i].name);
        fputs("</text>\n", f);
    }
    fputs("</g>\n</svg>\n", f);
#undef PX
#undef PY
    return ferror(f) ? CREC_EIO : 0;
}

int crec__svgplot_save(const crec__svgplot *p, const char *path) {
    if (!p || !path) return CREC_EINVAL;
    crec__replace r;
    int rc = crec__replace_open(&r, path, "w");
    if (rc) return rc;
    rc = crec__svgplot_write(p, r.f);
    int rc2 = crec__replace_close(&r, !rc);
    return rc ? rc : rc2;
}
