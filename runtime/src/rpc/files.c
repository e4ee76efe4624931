/* The files whose message types the runtime has met through services and
 * methods, so pub/sub can resolve an Any's type URL even without the JSON
 * codec's global registry. */
#include <stdlib.h>
#include <string.h>

#include "rpc_internal.h"

static pthread_mutex_t files_mu = PTHREAD_MUTEX_INITIALIZER;
static const weft_file_desc **files;
static size_t nfiles, capfiles;

static bool known(const weft_file_desc *f) {
  for (size_t i = 0; i < nfiles; i++)
    if (files[i] == f)
      return true;
  return false;
}

static void note_locked(const weft_file_desc *f, int depth) {
  if (!f || depth > 64 || known(f))
    return;
  if (nfiles == capfiles) {
    size_t cap = capfiles ? capfiles * 2 : 16;
    const weft_file_desc **n = realloc(files, cap * sizeof *n);
    if (!n)
      return; /* resolution just fails later; nothing to undo */
    files = n;
    capfiles = cap;
  }
  files[nfiles++] = f;
  for (unsigned i = 0; i < f->n_deps; i++)
    note_locked(f->deps[i], depth + 1);
}

void weft__note_file(const weft_file_desc *f) {
  if (!f)
    return;
  pthread_mutex_lock(&files_mu);
  note_locked(f, 0);
  pthread_mutex_unlock(&files_mu);
}

const weft_msg_desc *weft__find_message(const char *full_name) {
  const weft_msg_desc *r = NULL;
  pthread_mutex_lock(&files_mu);
  for (size_t i = 0; i < nfiles && !r; i++) {
    const weft_file_desc *f = files[i];
    for (unsigned j = 0; j < f->n_messages; j++) {
      if (f->messages[j]->base.name &&
          strcmp(f->messages[j]->base.name, full_name) == 0) {
        r = f->messages[j];
        break;
      }
    }
  }
  pthread_mutex_unlock(&files_mu);
  return r;
}
