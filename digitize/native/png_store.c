/*
 * Stored PNG for Tesseract's own line images, in the reader process only (digitize/tesseract_api.py).
 *
 * Tesseract 5.3 (built without TESSERACT_IMAGEDATA_AS_PIX, as Debian builds it) writes every line image it
 * recognizes to a PNG in memory and reads it straight back (ImageData::SetPixInternal, through Leptonica's
 * pixWriteMem): zlib at level 6 with libpng's adaptive filters costs about a fifth of its CPU on a page,
 * measured in bench/backlog.md. Nothing outside the process ever sees those PNGs, and PNG is lossless at
 * every level, so Tesseract reads back the very same pixels: its output does not change (tests compare it
 * byte for byte with the tesseract program's).
 *
 * Loaded with LD_PRELOAD into the reader, this library answers Leptonica's call that sets a PNG's
 * compression level: the PNG is stored (level 0) and unfiltered. The reader writes no other PNG. Where
 * libpng 1.6's functions cannot be found, the call is dropped and libpng keeps its default level.
 * Built by `bash run.sh setup` where a C compiler is installed; without it the reader runs as before.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>

#define PNG_FILTER_NONE 0x08

typedef void (*set_level_fn)(void *png, int level);
typedef void (*set_filter_fn)(void *png, int method, int filters);

void png_set_compression_level(void *png, int level) {
    static set_level_fn set_level;
    static set_filter_fn set_filter;
    (void)level;
    if (set_level == NULL) {
        /* libpng's own functions: next in the lookup order (the tesseract program), or in the libpng
           already loaded as a dependency of a libtesseract opened without RTLD_GLOBAL (the reader) */
        void *libpng = dlopen("libpng16.so.16", RTLD_LAZY | RTLD_NOLOAD);
        void *where = dlvsym(RTLD_NEXT, "png_set_compression_level", "PNG16_0") != NULL ? RTLD_NEXT : libpng;
        if (where != NULL) {
            set_level = (set_level_fn)dlvsym(where, "png_set_compression_level", "PNG16_0");
            set_filter = (set_filter_fn)dlvsym(where, "png_set_filter", "PNG16_0");
        }
        if (libpng != NULL)
            dlclose(libpng); /* still loaded by Tesseract: the functions stay where they are */
    }
    if (set_level != NULL)
        set_level(png, 0);
    if (set_filter != NULL)
        set_filter(png, 0, PNG_FILTER_NONE);
}
