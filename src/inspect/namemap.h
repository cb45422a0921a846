/**
 * @file namemap.h
 * Tensor names across formats, for diff: llama.cpp's GGUF names of a llama
 * model and the Hugging Face (transformers) names they were converted from
 * (llama.cpp gguf-py/gguf/tensor_mapping.py, MODEL_ARCH.LLAMA), and a
 * two-column map file given with --map.
 */
#ifndef INSPECT_NAMEMAP_H
#define INSPECT_NAMEMAP_H

#include <stddef.h>

/**
 * The Hugging Face name of GGUF tensor @p name ("blk.3.attn_q.weight" ->
 * "model.layers.3.self_attn.q_proj.weight"), written to @p out (NUL-
 * terminated, @p cap bytes); its length, or 0 when the name has none.
 */
size_t namemap_gguf_to_hf(const char *name, size_t len, char *out, size_t cap);

/** A --map file: pairs (NAME_A, NAME_B), sorted by NAME_A. */
struct namemap {
	char **a, **b;
	size_t n;
	char *text; /**< the file, split in place */
};

/**
 * Reads @p path: one pair per line, NAME_A and NAME_B separated by spaces or
 * tabs; blank lines and lines starting with '#' are skipped. Returns 0, or
 * -1 with a message in @p msg (naming the file and line) for an unreadable
 * file, a line without two names, or a NAME_A given twice.
 */
int namemap_load(const char *path, struct namemap *map, char *msg, size_t cap);

/** NAME_B for @p name, or NULL. */
const char *namemap_find(const struct namemap *map, const char *name, size_t len);

void namemap_free(struct namemap *map);

#endif
