# The JSON half of bench/codec (included from bench/codec/CMakeLists.txt):
# json_bench decodes and encodes the binary benchmark's batch as JSON with
# weft and with libprotobuf C++, in one run. Its generated code lives in the
# json/ subfolder's build directory so it never collides with the binary
# benchmark's.
add_subdirectory(${CMAKE_CURRENT_LIST_DIR}/json ${CMAKE_CURRENT_BINARY_DIR}/json)
