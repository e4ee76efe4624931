/* libFuzzer target: the envelope mux engine, fed arbitrary envelopes
 * in-process, no sockets, no threads; the server side, or the client side
 * with flags bit 2.
 *
 * Input: one flags byte (bit 0: JSON codec, bit 1: a 16-byte message
 * limit, bit 2: client), then records [op][len hi][len lo][len bytes].
 * op & 7:
 *   0-3  feed the bytes as one received envelope
 *   4    server: submit a MESSAGE with the bytes on the newest stream;
 *        client: open a new stream, the bytes as its first message
 *   5    server: submit the newest stream's STATUS (code from the first
 *        byte) with the bytes as reply; client: a MESSAGE on it
 *   6    CANCEL it; 7: GOAWAY, HALF_CLOSE (client), or expire deadlines
 * Checked: the engine never crashes or leaks; everything it queues is an
 * envelope its own decoder accepts, in the connection's codec; after a
 * connection error it takes no more input; the stream count matches the
 * opens and ends its events reported. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mux_engine.h"
#include "mux_internal.h"

typedef struct fz {
  weft__mxe *e;
  uint64_t newest;
  long live; /* opens minus ends, from the events */
} fz;

static int f_open(void *ud, uint64_t id, const weft__env *e) {
  fz *f = ud;
  size_t pos = 0;
  weft__env_md kv;
  while (weft__env_md_next(e, &pos, &kv) == 1)
    ;
  f->newest = id;
  f->live++;
  return 0;
}

static int f_reset(void *ud, uint64_t id, void *su, int code,
                   const weft__bytes *msg, bool remote) {
  (void)id, (void)su, (void)code, (void)msg, (void)remote;
  ((fz *)ud)->live--;
  return 0;
}

static int f_message(void *ud, uint64_t id, void *su, const weft__bytes *p) {
  (void)ud, (void)id, (void)su;
  if (p->n && p->p[0] == 0xEE) /* a callback may refuse: connection error */
    return WEFT_ERR_NOMEM;
  return 0;
}

static int f_status(void *ud, uint64_t id, void *su, const weft__env *e) {
  (void)id, (void)su, (void)e;
  ((fz *)ud)->live--;
  return 0;
}

static const weft__mxe_callbacks cbs = {.on_open = f_open,
                                        .on_message = f_message,
                                        .on_status = f_status,
                                        .on_reset = f_reset};

static void drain(fz *f, bool text) {
  weft__mxe_chunk *c = weft__mxe_take_output(f->e);
  while (c) {
    weft__mxe_chunk *n = c->next;
    weft__env env;
    weft_error err;
    uint8_t *scratch = NULL;
    if (c->text != text)
      abort();
    int rc = text ? weft__env_json_decode(&env, c->data, c->len, &scratch, &err)
                  : weft__env_decode(&env, c->data, c->len, &err);
    if (rc < 0)
      abort(); /* the engine wrote something it cannot read */
    free(scratch);
    c->next = NULL; /* back to the engine: later envelopes reuse it */
    weft__mxe_recycle(f->e, c);
    c = n;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  bool text = data[0] & 1, server = !(data[0] & 4);
  weft__mxe_opts o = {.server = server,
                      .text = text,
                      .max_message_size = (data[0] & 2) ? 16 : 0,
                      .cb = &cbs};
  fz f = {0};
  o.ud = &f;
  if (weft__mxe_new(&f.e, &o) < 0)
    return 0;
  bool dead = false;
  size_t i = 1;
  while (i + 3 <= size) {
    unsigned op = data[i] & 7;
    size_t len = (size_t)data[i + 1] << 8 | data[i + 2];
    i += 3;
    if (len > size - i)
      len = size - i;
    const uint8_t *p = data + i;
    i += len;
    weft__mxe_msg m = {.data = p, .len = len};
    weft_error err;
    int rc;
    switch (op) {
    case 4:
      if (server) {
        weft__mxe_submit_message(f.e, f.newest, &m);
      } else if (weft__mxe_stream_new(f.e, NULL, &f.newest) == 0) {
        f.live++;
        weft__mxe_submit_open(f.e, f.newest, "/s.S/M", NULL,
                              len ? (int64_t)len * 1000000 : 0, 0, &m);
      }
      break;
    case 5:
      if (!server) {
        weft__mxe_submit_message(f.e, f.newest, &m);
        break;
      }
      rc = weft__mxe_submit_status(f.e, f.newest, len ? p[0] & 15 : 0, "st", p,
                                   len, NULL, &m);
      if (rc == 0)
        f.live--;
      break;
    case 6:
      if (weft__mxe_submit_cancel(f.e, f.newest, 1, "c") == 0)
        f.live--;
      break;
    case 7:
      if (len & 1) {
        weft__mxe_submit_goaway(f.e, 14, "bye");
      } else if (!server && len % 4 == 2) {
        weft__mxe_submit_half_close(f.e, f.newest);
      } else {
        weft__mxe_expire(f.e, (int64_t)len * 1000000); /* on_reset counts */
      }
      break;
    default:
      rc = weft__mxe_feed(f.e, p, len, text, 0, &err);
      if (dead && rc != WEFT_ERR_CLOSED)
        abort();
      if (rc < 0) {
        if (err.code != rc || !err.message[0])
          abort(); /* every connection error says why */
        dead = true;
      }
    }
    if (!dead && (long)weft__mxe_count(f.e) != f.live)
      abort();
    drain(&f, text);
  }
  weft__mxe_free(f.e);
  return 0;
}
