# WebSocket part of bench/transport (included from
# bench/transport/CMakeLists.txt). Peers: npm ws (run
# `npm install` in this folder; node_modules is not committed) and
# python3-websockets.
if(TARGET weft_ws_net AND TARGET weft_ws_sync)
  add_executable(bench_ws ${CMAKE_CURRENT_LIST_DIR}/ws_bench.c
                          ${CMAKE_CURRENT_LIST_DIR}/ws_floor.c)
  target_link_libraries(bench_ws PRIVATE weft_ws_net weft_ws_sync OpenSSL::Crypto
                        weft_warnings)
  target_compile_definitions(bench_ws PRIVATE
    WEFT_BENCH_DIR="${CMAKE_CURRENT_LIST_DIR}")
endif()
