/* Replays a libFuzzer corpus without libFuzzer: every file named on the
 * command line, or found (one level deep) in a directory named there, is
 * passed once to LLVMFuzzerTestOneInput. Linked into fuzz targets in normal
 * (non-WEFT_FUZZ) builds so CTest replays committed corpora under ASan. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  uint8_t *buf = NULL;
  long n;
  if (!f) {
    fprintf(stderr, "replay: cannot open %s\n", path);
    return 1;
  }
  if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
      fseek(f, 0, SEEK_SET) != 0) {
    fclose(f);
    return 1;
  }
  /* an exact-size heap copy, so ASan catches reads past the input */
  buf = malloc(n > 0 ? (size_t)n : 1);
  if (!buf || (n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n)) {
    free(buf);
    fclose(f);
    return 1;
  }
  fclose(f);
  LLVMFuzzerTestOneInput(buf, (size_t)n);
  free(buf);
  return 0;
}

int main(int argc, char **argv) {
  int i, failures = 0, count = 0;
  if (LLVMFuzzerInitialize)
    LLVMFuzzerInitialize(&argc, &argv);
  for (i = 1; i < argc; i++) {
    struct stat st;
    if (stat(argv[i], &st) != 0) {
      fprintf(stderr, "replay: %s: not found\n", argv[i]);
      failures++;
      continue;
    }
    if (S_ISDIR(st.st_mode)) {
      DIR *d = opendir(argv[i]);
      struct dirent *e;
      if (!d) {
        failures++;
        continue;
      }
      while ((e = readdir(d)) != NULL) {
        char path[4096];
        struct stat fst;
        snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
        if (stat(path, &fst) == 0 && S_ISREG(fst.st_mode)) {
          failures += run_file(path);
          count++;
        }
      }
      closedir(d);
    } else {
      failures += run_file(argv[i]);
      count++;
    }
  }
  printf("replayed %d inputs, %d unreadable\n", count, failures);
  return failures ? 1 : 0;
}
