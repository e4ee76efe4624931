# Stand-in for weft_add_fuzzer() (defined by tests/fuzz/CMakeLists.txt, owned
# by the codec module) so the compat fuzz targets build before that file is
# merged. Does nothing once the real function exists. Same contract:
#   weft_add_fuzzer(<name> SOURCES <files> LIBS <libs> CORPUS <dir>)
# WEFT_FUZZ=ON (clang): a libFuzzer binary and a CTest test (label fuzz) that
# runs it for WEFT_FUZZ_SECONDS over a copy of the corpus. Otherwise: the same
# LLVMFuzzerTestOneInput with a replay main, run over every corpus file as a
# regular CTest test.
if(COMMAND weft_add_fuzzer)
  return()
endif()
set(WEFT_FUZZ_SECONDS 60 CACHE STRING "Seconds per libFuzzer run")
function(weft_add_fuzzer name)
  cmake_parse_arguments(F "" "CORPUS" "SOURCES;LIBS" ${ARGN})
  set(t fuzz_${name})
  if(WEFT_FUZZ)
    add_executable(${t} ${F_SOURCES})
    target_link_options(${t} PRIVATE -fsanitize=fuzzer)
    target_link_libraries(${t} PRIVATE ${F_LIBS} weft_warnings)
    set(work ${CMAKE_CURRENT_BINARY_DIR}/corpus_${name})
    add_test(NAME ${t}
      COMMAND ${CMAKE_COMMAND} -E env sh -c
        "mkdir -p '${work}' && cp -n '${F_CORPUS}'/* '${work}'/ ; exec \"$0\" -max_total_time=${WEFT_FUZZ_SECONDS} -print_final_stats=1 '${work}'"
        $<TARGET_FILE:${t}>)
    set_tests_properties(${t} PROPERTIES LABELS fuzz
      TIMEOUT ${WEFT_FUZZ_SECONDS}0)
  else()
    add_executable(${t} ${F_SOURCES}
      ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/compat_replay_main.c)
    target_link_libraries(${t} PRIVATE ${F_LIBS} weft_warnings)
    add_test(NAME ${t}_replay COMMAND ${t} ${F_CORPUS})
    set_tests_properties(${t}_replay PROPERTIES TIMEOUT 120)
  endif()
endfunction()
