/*
 * core/gzread.h: reading any gzip file as one decompressed stream, with zlib: one member or many
 * (concatenated files), empty members, and every optional header field (extra, name, comment,
 * header CRC). Every member's CRC-32 and length are checked, and nothing may follow the last
 * member; an error names the file and the compressed byte offset.
 *
 * A reader can also record access points while it decodes (a deflate block boundary and the
 * 32 KiB of output before it, as zlib's zran example does), and start again at one: that is what
 * lets a later run decode a single-member file in parallel (see gzindex.h).
 */
#ifndef TRANCHE_GZREAD_H
#define TRANCHE_GZREAD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

#define GZ_WINDOW 32768u

/* A place where decoding can start. */
struct gz_point {
    uint64_t in;         /* compressed offset of the first whole byte to read from */
    uint64_t out;        /* decompressed offset of the point */
    uint64_t member_out; /* decompressed offset where the point's member began */
    uint64_t window_at;  /* where the index file keeps the window (the index sets it) */
    uint32_t crc;        /* CRC-32 of the member's data before `out` */
    uint32_t window_len; /* bytes of output before the point the decoder needs; 0 at a header */
    uint8_t bits;        /* 0-7: the point begins that many bits before `in`, in byte in - 1 */
    uint8_t at_header;   /* the point is a member's header (then bits, crc, window are 0) */
    uint8_t prev_byte;   /* the decompressed byte at out - 1 (when out > 0) */
};

/* Called for each access point recorded; window holds pt->window_len bytes. Returns 0 or -1. */
typedef int (*gz_point_fn)(void *arg, const struct gz_point *pt, const unsigned char *window,
                           struct error *err);

struct gz_reader;

/* A reader at the start of fd (`size` bytes, named `path` in messages). */
int gz_reader_new(int fd, const char *path, uint64_t size, struct gz_reader **out,
                  struct error *err);
void gz_reader_free(struct gz_reader *r);

/* A reader of fd read in order with read(), never pread (a pipe: standard input), whose size is
 * known when it ends; the caller read its first head_len (at most 2) bytes already, and they come
 * first. It records access points as any reader, but cannot seek. */
int gz_reader_new_sequential(int fd, const char *path, const unsigned char *head, size_t head_len,
                             struct gz_reader **out, struct error *err);

/* Records an access point at the start and then about every `spacing` decompressed bytes (at
 * the first deflate block boundary or member header after that), through fn; fn NULL stops
 * (fn may call this itself). */
void gz_reader_track(struct gz_reader *r, uint64_t spacing, gz_point_fn fn, void *arg);

/* Starts decoding again at pt, whose window (pt->window_len bytes) is `window`. */
int gz_reader_seek(struct gz_reader *r, const struct gz_point *pt, const unsigned char *window,
                   struct error *err);

/*
 * Decodes up to `room` (> 0) bytes into out. Returns how many (> 0), 0 at the end of the file
 * (every member checked, nothing after the last), or -1 with err naming the file and the
 * compressed offset of the problem.
 */
ssize_t gz_reader_read(struct gz_reader *r, unsigned char *out, size_t room, struct error *err);

/*
 * Checks that the reader, having decoded exactly up to pt->out, is where the index says pt is:
 * at a member header (the member before it is then finished and its trailer checked), or inside
 * a member with the same CRC-32 of the data so far. Returns 0, or -1 with err set: the data
 * decoded since the reader's own starting point does not match what the index recorded.
 */
int gz_reader_verify(struct gz_reader *r, const struct gz_point *pt, struct error *err);

/* For a point at a member header: *data becomes the same point at the start of that member's
 * deflate data (parsing the header with r). Returns 0, or -1 (err set when the header is bad). */
int gz_reader_data_start(struct gz_reader *r, const struct gz_point *pt, struct gz_point *data,
                         struct error *err);

/* The decompressed offset of the next byte read, and the members begun so far. */
uint64_t gz_reader_offset(const struct gz_reader *r);
uint64_t gz_reader_members(const struct gz_reader *r);

/* The compressed offset of the next byte inflate takes (how far into the file decoding is). */
uint64_t gz_reader_in_offset(const struct gz_reader *r);

/*
 * Decoding whole segments between two access points with libdeflate (several times faster than
 * zlib's inflate; it cannot start mid-stream by itself): in front of the segment's own bytes go
 * two fixed-Huffman blocks, a few junk literals that make them end at the bit where the segment
 * begins in its first byte, then the window as literals; after the segment, an empty final
 * block. The segment's bytes are not moved, so stored blocks in it keep their alignment. A build
 * without libdeflate has no segment decoder (NULL): use a gz_reader.
 */
struct gz_segment_decoder;

/* *out is NULL (and 0 returned) in a build without libdeflate. */
int gz_segment_decoder_new(struct gz_segment_decoder **out, struct error *err);
void gz_segment_decoder_free(struct gz_segment_decoder *s);

/* Whether the segment [a, b) can be decoded this way: s is not NULL, both points are block
 * boundaries inside one member, and the segment is not too long. */
int gz_segment_fits(const struct gz_segment_decoder *s, const struct gz_point *a,
                    const struct gz_point *b);

/*
 * Decodes the segment from point a (whose window is `window`) to point b, checks its CRC-32
 * against b's, and sets *data to the b->out - a->out bytes, which stay valid (and writable) until
 * the next call; (at least) the a->window_len bytes before them are scratch the caller may
 * overwrite.
 * Returns their number, or -1 with err naming the file and the compressed offsets.
 */
ssize_t gz_segment_decode(struct gz_segment_decoder *s, int fd, const char *path,
                          const struct gz_point *a, const unsigned char *window,
                          const struct gz_point *b, unsigned char **data, struct error *err);

#endif
