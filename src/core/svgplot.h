/* svgplot.h: line plots written as standalone SVG files (no dependency, no fonts to ship): one or more named
 * series of (x, y) points over linear axes with "nice" ticks (1, 2, 5 x 10^k), a legend, a title and axis labels.
 * Any text is XML-escaped; a non-finite y leaves a gap in its line. Used by `crec stream eval` and by any command
 * that wants a figure.
 *
 *   crec__svgplot *p = crec__svgplot_new("NDCG@10 per window", "window", "NDCG@10");
 *   crec__svgplot_add(p, "online", x, y, n);     // copies the points
 *   crec__svgplot_save(p, "plot.svg");           // or crec__svgplot_write(p, FILE *)
 *   crec__svgplot_free(p);
 *
 * Ownership: the plot copies every string and array it is given; the caller frees the plot. */
#ifndef CREC_CORE_SVGPLOT_H
#define CREC_CORE_SVGPLOT_H

#include <stdio.h>

typedef struct crec__svgplot crec__svgplot;

/* A new empty plot (any text may be NULL); NULL when out of memory. Default size 720 x 420 px, axes fitted to the
 * data (y from 0 when every y >= 0), the legend right of the frame. */
crec__svgplot *crec__svgplot_new(const char *title, const char *xlabel, const char *ylabel);
void crec__svgplot_free(crec__svgplot *p); /* NULL is fine */
/* Add a series of n points (n >= 1; x and y copied). Returns 0, CREC_EINVAL (NULL arrays, n < 1, a non-finite x,
 * more than 16 series) or CREC_ENOMEM. */
int crec__svgplot_add(crec__svgplot *p, const char *name, const double *x, const double *y, int n);
/* Optional: size in pixels (>= 200 x 150) and a fixed y range (lo < hi; NaN for either keeps it automatic). */
void crec__svgplot_set_size(crec__svgplot *p, int width, int height);
void crec__svgplot_set_ylim(crec__svgplot *p, double lo, double hi);
/* Write the SVG document to f / to path (through path.tmp, renamed). 0, CREC_EINVAL (no series) or CREC_EIO. */
int crec__svgplot_write(const crec__svgplot *p, FILE *f);
int crec__svgplot_save(const crec__svgplot *p, const char *path);

#endif
