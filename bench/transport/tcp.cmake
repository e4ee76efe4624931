# TCP part of bench/transport: weft tcp:// against a plain C socket echo
# (the ceiling), plus memory per idle connection on one weft server.
if(TARGET weft_tcp AND TARGET weft_test_echo)
  add_executable(bench_tcp ${CMAKE_CURRENT_LIST_DIR}/tcp_bench.c)
  target_link_libraries(bench_tcp PRIVATE weft_test_echo weft_tcp weft
                        Threads::Threads weft_warnings)
  # weft_rpc uses libm (llround) without linking it; C++ tests get it via
  # libstdc++. Keep libm even though nothing before it needs it yet.
  target_link_options(bench_tcp PRIVATE
    "LINKER:--push-state,--no-as-needed,-lm,--pop-state")
  # One server-streaming call (tcp:// or ws://), server and client in
  # separate processes, for instruction counts under callgrind (README.md).
  add_executable(bench_stream ${CMAKE_CURRENT_LIST_DIR}/stream_probe.c)
  target_link_libraries(bench_stream PRIVATE weft_test_echo weft_tcp weft
                        Threads::Threads weft_warnings)
  target_link_options(bench_stream PRIVATE
    "LINKER:--push-state,--no-as-needed,-lm,--pop-state")
endif()
