/*
 * core/bgzf.h: writing BGZF, the gzip variant of independent members of at most 64 KiB, each
 * carrying its own size in a "BC" extra field (as bgzip and htslib write it). Any gzip reader
 * reads it as a multi-member gzip file; a BGZF reader can split it at block boundaries.
 * Compression is libdeflate's where the build found it, else zlib's.
 */
#ifndef TRANCHE_BGZF_H
#define TRANCHE_BGZF_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* Input bytes per block: small enough that even incompressible data fits a 64 KiB block. */
#define BGZF_MAX_INPUT 65280
#define BGZF_MAX_BLOCK 65536
#define BGZF_EOF_SIZE 28

/* The empty block that ends a BGZF file. */
extern const unsigned char bgzf_eof_block[BGZF_EOF_SIZE];

struct bgzf_encoder;

/* A compressor at `level` (1-9). Not shared between processes: make one per worker, after fork. */
int bgzf_encoder_new(int level, struct bgzf_encoder **out, struct error *err);
void bgzf_encoder_free(struct bgzf_encoder *e);

/*
 * Compresses in[0, len), len <= BGZF_MAX_INPUT, as one complete block into out, which has room
 * for BGZF_MAX_BLOCK bytes; returns the block's size, or 0 with err set.
 */
size_t bgzf_encode_block(struct bgzf_encoder *e, const void *in, size_t len, unsigned char *out,
                         struct error *err);

/* ---- reading ---------------------------------------------------------------------------- */

/* One block of a BGZF file: where it is, and where its data falls in the decompressed stream. */
struct bgzf_block {
    uint64_t offset; /* compressed offset of the block's header */
    uint64_t ustart; /* decompressed offset of its first byte */
    uint32_t size;   /* compressed size, header and footer included */
    uint32_t isize;  /* decompressed size */
};

struct bgzf_index {
    struct bgzf_block *blocks; /* n blocks, in file order (NULL when n == 0) */
    size_t n;
    uint64_t usize; /* the decompressed size of the whole file */
};

/*
 * Walks the members of a gzip file by their headers alone (never by looking for magic bytes in
 * compressed data): every member must be a BGZF block, whose BC field gives its size, and the
 * last must end exactly at `size`. Empty blocks are decoded and checked here.
 * Returns 0 with *is_bgzf = 1 and idx filled (free with bgzf_index_release); 0 with *is_bgzf = 0
 * and idx empty for gzip this reader does not split (plain gzip, a member with a file name,
 * comment or header CRC, or a later member without the BC field: read it as a gzip stream);
 * or -1 for corrupt input, with err naming the file and the compressed offset of the first bad
 * byte (idx and *is_bgzf untouched).
 */
int bgzf_index_build(int fd, const char *path, uint64_t size, struct bgzf_index *idx, int *is_bgzf,
                     struct error *err);
void bgzf_index_release(struct bgzf_index *idx);

struct bgzf_decoder;
int bgzf_decoder_new(struct bgzf_decoder **out, struct error *err);
void bgzf_decoder_free(struct bgzf_decoder *d);

/* Reads block b of fd and decompresses it into out (room for b->isize bytes; may be NULL when
 * that is 0), checking that the deflate data fills the block, its CRC-32 and size; err names the
 * file and the block's compressed offset on failure. */
int bgzf_decode_block(struct bgzf_decoder *d, int fd, const char *path, const struct bgzf_block *b,
                      unsigned char *out, struct error *err);

#endif
