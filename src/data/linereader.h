/* linereader.h: the streaming line reader and the small parsing helpers every dataset loader shares.
 *
 * The one idea: a loader sees one line at a time in a mutable buffer (trailing "\n"/"\r\n" removed, a UTF-8 BOM
 * removed from line 1, NUL-terminated), splits it in place into NUL-terminated fields, and reports a bad line
 * through crec__load_bad, which alone knows about skip_bad, n_skipped and "keep the first message".
 * Nothing here reads a whole file: memory is bounded by the longest line (at most CREC__LINE_MAX bytes). */
#ifndef CREC_DATA_LINEREADER_H
#define CREC_DATA_LINEREADER_H

#include <stdint.h>
#include <stdio.h>

#include "crec/dataset.h"

/* Longest line kept; longer lines are consumed and flagged too_long (the loaders report them as bad). */
#define CREC__LINE_MAX ((size_t)64 << 20)

typedef struct crec_linereader {
    FILE *f;
    const char *path; /* borrowed: must outlive the reader */
    char *line;       /* current line, NUL-terminated, owned by the reader; valid until the next call */
    size_t len;       /* bytes in line, not counting the terminator (line may hold NUL bytes: see has_nul) */
    size_t cap;
    int64_t lineno;   /* 1-based number of the current line; after EOF, the number of lines read */
    int has_nul;      /* the line holds a NUL byte */
    int too_long;     /* the line was longer than CREC__LINE_MAX; line holds its first CREC__LINE_MAX bytes */
    int read_errno;   /* errno of a failed read (crec__lr_next returned CREC_EIO) */
    char *rbuf;       /* fread buffer */
    size_t rpos, rlen;
    int eof;
} crec_linereader;

/* Open path for reading. On failure returns CREC_EIO (or CREC_ENOMEM) with o->err = "<path>: <strerror>" and
 * leaves nothing to close. path is borrowed. A directory is refused with EISDIR. */
int crec__lr_open(crec_linereader *lr, const char *path, crec_load_opts *o);
/* Next line: 1 = a line is in lr->line, 0 = end of file, CREC_EIO = read error (errno in lr->read_errno). */
int crec__lr_next(crec_linereader *lr);
/* Close the file and free the buffers; adds the lines read to o->n_lines when o is not NULL. */
void crec__lr_close(crec_linereader *lr, crec_load_opts *o);
/* Reason the current line is unusable whatever the format ("unexpected NUL byte", "line longer than ..."),
 * or NULL. Static string. */
const char *crec__lr_problem(const crec_linereader *lr);
/* Next usable line: empty lines skipped, unusable ones (crec__lr_problem) reported through crec__load_bad and
 * skipped when o->skip_bad. 1 = a line, 0 = end of file, CREC_EIO, or CREC_EPARSE from crec__load_bad. */
int crec__lr_next_usable(crec_linereader *lr, crec_load_opts *o);

/* ---- options and errors ---- */

/* Entry of a public loader: when *o is NULL point it at tmp (zeroed, stop at the first error); then reset the
 * out fields (n_skipped, n_lines, err). */
void crec__load_begin(crec_load_opts **o, crec_load_opts *tmp);
/* Report a bad line of lr: "<path>:<line>: <reason>". With o->skip_bad the line is counted in o->n_skipped,
 * the first message is kept in o->err, and 0 is returned (go on); otherwise o->err is set and CREC_EPARSE
 * returned (stop). */
int crec__load_bad(crec_load_opts *o, const crec_linereader *lr, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The error of a failed crec__lr_next: o->err = "<path>: <strerror>", returns CREC_EIO. */
int crec__load_eio(crec_load_opts *o, const crec_linereader *lr);
/* Printable excerpt of s[0..len) for a message: at most 40 bytes, control bytes shown as '?', "..." when cut.
 * Writes into buf (n >= 48) and returns it. */
const char *crec__quote(char *buf, size_t n, const char *s, size_t len);

/* ---- fields: split a mutable line in place; every field is NUL-terminated inside the line ---- */

typedef struct crec__field {
    char *s;
    size_t len;
} crec__field;

/* Split on every occurrence of the byte sep. Returns the number of fields (which may exceed maxf: only the
 * first maxf are stored, and the line is then not modified after field maxf). */
int crec__split_char(char *line, size_t len, char sep, crec__field *f, int maxf);
/* Split on every occurrence of the string sep (e.g. "::"). Same contract as crec__split_char. */
int crec__split_str(char *line, size_t len, const char *sep, crec__field *f, int maxf);
/* Split on runs of spaces and tabs (leading/trailing ones ignored). Same contract. */
int crec__split_ws(char *line, size_t len, crec__field *f, int maxf);
/* RFC 4180 split on delim: "a ""b"" c" is unescaped in place, quoted fields may hold delim; spaces around
 * unquoted fields are trimmed. Returns the number of fields, or -1 with *why set (static string) when the
 * quoting is broken (a quote left open at the end of the line, or text after a closing quote). */
int crec__split_csv(char *line, size_t len, char delim, crec__field *f, int maxf, const char **why);
/* Next whitespace-separated token of [*p, end): 1 and (tok, tlen) set, or 0 at the end. */
int crec__next_ws(const char **p, const char *end, const char **tok, size_t *tlen);

/* ---- numbers ---- */

/* Whole string must be an optionally signed decimal integer that fits int64. 0 or -1. */
int crec__parse_i64(const char *s, size_t len, int64_t *out);
/* Whole string must be a finite number (strtod syntax, no leading space). 0 or -1. */
int crec__parse_float(const char *s, size_t len, float *out);
/* Integer epoch seconds, or an ISO date "YYYY-MM-DD", "YYYY-MM-DD HH:MM:SS", "YYYY-MM-DDTHH:MM:SS" with an
 * optional trailing 'Z', read as UTC. 0 or -1. */
int crec__parse_time(const char *s, size_t len, int64_t *out);

/* ---- paths ---- */

/* 1 when path is a directory, 0 otherwise (including when it does not exist). */
int crec__is_dir(const char *path);
/* Pointer to the last component of path (after the last '/'); path itself when it has none. */
const char *crec__basename(const char *path);
/* dir + "/" + name into a new string (caller frees), or NULL on allocation failure. When dir_of is set,
 * the directory of path is used instead of path itself. */
char *crec__path_join(const char *path, int dir_of, const char *name);
/* When ds->name is empty, set it to the last component of path without its extension (use_dir: the name of
 * the directory holding path, for a file inside a dataset folder). */
void crec__dataset_default_name(crec_dataset *ds, const char *path, int use_dir);
/* Case-insensitive equality of s[0..len) and the NUL-terminated word. */
int crec__ieq(const char *s, size_t len, const char *word);

#endif
