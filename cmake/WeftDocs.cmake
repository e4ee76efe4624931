# `docs`: the API reference, Doxygen HTML from the public headers (the
# installed ones), in ${build}/docs/html. The header comments are the
# source; cmake/doxygen.sed lets them stay plain C comments.
include_guard(GLOBAL)
find_program(DOXYGEN_EXECUTABLE doxygen)
if(NOT DOXYGEN_EXECUTABLE)
  add_custom_target(docs
    COMMAND ${CMAKE_COMMAND} -E echo "docs: install doxygen (apt-get install doxygen) and re-run cmake"
    COMMAND ${CMAKE_COMMAND} -E false)
  return()
endif()
file(GLOB _doc_dirs LIST_DIRECTORIES true
     ${weft_SOURCE_DIR}/runtime/include/weft
     ${weft_SOURCE_DIR}/transports/*/include/weft)
list(JOIN _doc_dirs " " WEFT_DOCS_INPUT)
set(WEFT_DOCS_INPUT "${WEFT_DOCS_INPUT} ${weft_SOURCE_DIR}/docs/API.md")
set(WEFT_DOCS_OUT ${weft_BINARY_DIR}/docs)
set(WEFT_DOCS_SED ${CMAKE_CURRENT_LIST_DIR}/doxygen.sed)
set(WEFT_DOCS_STRIP "${weft_SOURCE_DIR}/runtime/include")
configure_file(${CMAKE_CURRENT_LIST_DIR}/Doxyfile.in ${WEFT_DOCS_OUT}/Doxyfile @ONLY)
add_custom_target(docs
  COMMAND ${DOXYGEN_EXECUTABLE} ${WEFT_DOCS_OUT}/Doxyfile
  WORKING_DIRECTORY ${WEFT_DOCS_OUT}
  COMMENT "doxygen: API reference in ${WEFT_DOCS_OUT}/html"
  VERBATIM)
