/* The per-stream send queue (internal/txq.h). */
#include "internal/txq.h"

#include <stdlib.h>
#include <string.h>

#include "weft/error.h"

weft__txq_item *weft__txq_item_msg(const void *msg, const weft_encoded_msg *enc,
                                   void (*release)(void *ud), void *ud) {
  weft__txq_item *it = weft__txq_item_bytes(NULL, 0, NULL, 0, release, ud);
  if (it) {
    it->msg = msg;
    it->enc = enc;
  }
  return it;
}

weft__txq_item *weft__txq_item_bytes(const void *pre, size_t plen,
                                     const uint8_t *data, size_t len,
                                     void (*release)(void *ud), void *ud) {
  weft__txq_item *it = malloc(sizeof *it + plen);
  if (!it)
    return NULL;
  memset(it, 0, sizeof *it);
  if (plen && pre)
    memcpy(it->pre, pre, plen);
  it->plen = plen;
  it->data = data;
  it->len = data ? len : 0;
  it->release = release;
  it->ud = ud;
  return it;
}

void weft__txq_item_free(weft__txq_item *it) {
  free(it);
}

void weft__txq_items_done(weft__txq_item *list) {
  while (list) {
    weft__txq_item *n = list->next;
    if (list->release)
      list->release(list->ud);
    free(list);
    list = n;
  }
}

void weft__txq_init(weft__txq *q, const weft__txq_cfg *cfg) {
  memset(q, 0, sizeof *q);
  if (cfg)
    q->cfg = *cfg;
}

void weft__txq_destroy(weft__txq *q) {
  weft__txq_items_done(q->head);
  q->head = q->tail = NULL;
  q->n = q->bytes = 0;
}

static size_t item_bytes(const weft__txq_item *it) {
  return it->plen + it->len - it->off;
}

bool weft__txq_full(const weft__txq *q) {
  return (q->cfg.high_msgs && q->n >= q->cfg.high_msgs) ||
         (q->cfg.high_bytes && q->bytes > q->cfg.high_bytes);
}

static bool at_low(const weft__txq *q) {
  return (!q->cfg.high_msgs || q->n <= q->cfg.high_msgs / 2) &&
         (!q->cfg.high_bytes || q->bytes <= q->cfg.high_bytes / 2);
}

static int refused(const weft__txq *q) {
  if (q->gone)
    return q->err;
  return q->ended ? WEFT_ERR_STATE : 0;
}

int weft__txq_append(weft__txq *q, weft__txq_item *it) {
  int rv = refused(q);
  if (rv < 0)
    return rv;
  it->next = NULL;
  if (q->tail)
    q->tail->next = it;
  else
    q->head = it;
  q->tail = it;
  q->n++;
  q->bytes += item_bytes(it);
  return 0;
}

int weft__txq_push(weft__txq *q, weft__txq_item *it) {
  int rv = refused(q);
  if (rv < 0)
    return rv;
  if (weft__txq_full(q)) {
    q->want_writable = true;
    return WEFT_ERR_AGAIN;
  }
  return weft__txq_append(q, it);
}

static void unlink_head(weft__txq *q) {
  weft__txq_item *it = q->head;
  q->head = it->next;
  if (!q->head)
    q->tail = NULL;
  q->n--;
  it->next = NULL;
}

weft__txq_item *weft__txq_pop(weft__txq *q) {
  weft__txq_item *it = q->head;
  if (!it)
    return NULL;
  q->bytes -= item_bytes(it);
  unlink_head(q);
  return it;
}

size_t weft__txq_read(weft__txq *q, uint8_t *buf, size_t cap,
                      weft__txq_item **done) {
  weft__txq_item **tail = done;
  while (*tail)
    tail = &(*tail)->next;
  size_t got = 0;
  while (q->head && got < cap) {
    weft__txq_item *it = q->head;
    if (it->off < it->plen) {
      size_t k = it->plen - it->off;
      if (k > cap - got)
        k = cap - got;
      memcpy(buf + got, it->pre + it->off, k);
      it->off += k;
      got += k;
    }
    if (it->off >= it->plen && got < cap) {
      size_t at = it->off - it->plen, k = it->len - at;
      if (k > cap - got)
        k = cap - got;
      if (k)
        memcpy(buf + got, it->data + at, k);
      it->off += k;
      got += k;
    }
    if (item_bytes(it) > 0)
      break; /* buf is full */
    unlink_head(q);
    *tail = it;
    tail = &it->next;
  }
  q->bytes -= got;
  return got;
}

bool weft__txq_take_writable(weft__txq *q) {
  if (!q->want_writable || !at_low(q))
    return false;
  q->want_writable = false;
  return true;
}

void weft__txq_end(weft__txq *q) {
  q->ended = true;
}

bool weft__txq_done(const weft__txq *q) {
  return q->ended && !q->head;
}

weft__txq_item *weft__txq_cancel(weft__txq *q, int err) {
  if (!q->gone) {
    q->gone = true;
    q->err = err < 0 ? err : WEFT_ERR_CANCELLED;
  }
  weft__txq_item *list = q->head;
  q->head = q->tail = NULL;
  q->n = q->bytes = 0;
  return list;
}
