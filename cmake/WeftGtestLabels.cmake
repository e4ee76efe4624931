# weft_gtest_labels(<target> <label>...) gives every test that
# gtest_discover_tests found in <target> all of the labels.
#
# Why not gtest_discover_tests(... PROPERTIES LABELS "a;b"): the PROPERTIES
# list is flattened on its way to the discovery script (CMake 3.25), so the
# tests get LABELS a and a stray property named b; no level of escaping
# survives the re-expansions. Instead, a CTest include file run after the
# discovered one sets the labels on the names discovery lists in
# <target>_TESTS. Call it after gtest_discover_tests(<target> ...), without
# LABELS there and without TEST_LIST.
function(weft_gtest_labels target)
  if(ARGC LESS 2)
    message(FATAL_ERROR "weft_gtest_labels(${target}): no label given")
  endif()
  set(labels "${ARGN}")
  set(file "${CMAKE_CURRENT_BINARY_DIR}/${target}_labels.cmake")
  file(WRITE "${file}"
       "if(DEFINED ${target}_TESTS)\n"
       "  set_tests_properties(\${${target}_TESTS} PROPERTIES LABELS [==[${labels}]==])\n"
       "endif()\n")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES "${file}")
endfunction()
