/*
 * core/bgzf.h: writing BGZF, the gzip variant of independent members of at most 64 KiB, each
 * carrying its own size in a "BC" extra field (as bgzip and htslib write it). Any gzip reader
 * reads it as a multi-member gzip file; a BGZF reader can split it at block boundaries.
 * Compression is libdeflate's where the build found it, else zlib's.
 */
#ifndef TRANCHE_BGZF_H
#define TRANCHE_BGZF_H

#include <stddef.h>

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

/* "libdeflate 1.14" or "zlib 1.2.13": what compresses, for --version. */
const char *bgzf_codec(void);

#endif
