/* bench_ws's floor server (see ws_floor.c). */
#ifndef WEFT_BENCH_WS_FLOOR_H
#define WEFT_BENCH_WS_FLOOR_H

/* Serves WebSocket echo on the listening socket lfd, one connection at a
 * time, until its stdin closes. */
void ws_floor_serve(int lfd);

#endif
