/*
 * lossopt_blocks.h -- the memory blocks behind the output cache
 * (src/_outputs.pyx): a block of at least nbytes, aligned for the kernels'
 * vector loads and stores, on Linux marked for transparent huge pages.
 *
 * Alignment: 64 bytes (one cache line, one AVX-512 vector), so no vector
 * access of an output splits a line; from LOSSOPT_BLOCK_HUGE bytes on,
 * 2 MiB (one huge page), and madvise(MADV_HUGEPAGE) over the block, as
 * NumPy does for its own large allocations: a fresh block is then faulted
 * in 2 MiB at a time instead of 4 KiB (where the kernel's
 * transparent_hugepage setting is "madvise" or "always").
 *
 * The block is carved out of one malloc (raw, what lossopt_block_free
 * takes), so it works wherever malloc does; madvise is only a hint.
 */
#ifndef LOSSOPT_BLOCKS_H
#define LOSSOPT_BLOCKS_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#define LOSSOPT_BLOCK_HUGE ((size_t)4 << 20)
#define LOSSOPT_BLOCK_HUGE_ALIGN ((size_t)2 << 20)

/* a block of nbytes (> 0) aligned as above; *raw receives what to free.
 * NULL (and *raw NULL) when malloc fails or the size overflows. */
static void *lossopt_block_new(size_t nbytes, void **raw)
{
    const size_t align = nbytes >= LOSSOPT_BLOCK_HUGE ? LOSSOPT_BLOCK_HUGE_ALIGN : 64;
    *raw = NULL;
    if (nbytes == 0 || nbytes > SIZE_MAX - align)
        return NULL;
    void *p = malloc(nbytes + align);
    if (p == NULL)
        return NULL;
    *raw = p;
    char *data = (char *)(((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1));
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (align == LOSSOPT_BLOCK_HUGE_ALIGN)
        (void)madvise(data, nbytes & ~(LOSSOPT_BLOCK_HUGE_ALIGN - 1), MADV_HUGEPAGE);
#endif
    return data;
}

static void lossopt_block_free(void *raw)
{
    free(raw);
}

#endif  /* LOSSOPT_BLOCKS_H */
