# weft_generate(<target>
#               PROTOS <paths relative to an import dir>...
#               IMPORT_DIRS <dirs>...
#               [LINK <other weft_generate targets or libraries>...])
#
# Runs protoc with protoc-gen-weft over each of PROTOS and builds the generated .c files into the STATIC library <target>.
# Output: ${CMAKE_CURRENT_BINARY_DIR}/weft_gen/<path>.weft.{h,c}; that
# directory is a PUBLIC include directory, so `#include "a/b/c.weft.h"`.
# The code regenerates when a .proto file (or anything it imports, through
# protoc's --dependency_out) or the plugin changes.
#
# Inside the weft tree the plugin is the protoc-gen-weft target. Elsewhere
# set WEFT_PROTOC_GEN_WEFT to an installed plugin and WEFT_INCLUDE_DIR to
# weft's runtime/include (see docs/GENERATE.md).
include_guard(GLOBAL)

function(weft_generate target)
  cmake_parse_arguments(PARSE_ARGV 1 WG "" "" "PROTOS;IMPORT_DIRS;LINK")
  if(NOT WG_PROTOS)
    message(FATAL_ERROR "weft_generate(${target}): PROTOS is empty")
  endif()
  if(WG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR
      "weft_generate(${target}): unexpected arguments ${WG_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT PROTOC)
    find_program(PROTOC protoc REQUIRED)
  endif()
  if(TARGET protoc-gen-weft)
    set(plugin $<TARGET_FILE:protoc-gen-weft>)
    set(plugin_dep protoc-gen-weft)
  else()
    if(NOT WEFT_PROTOC_GEN_WEFT)
      find_program(WEFT_PROTOC_GEN_WEFT protoc-gen-weft REQUIRED)
    endif()
    set(plugin ${WEFT_PROTOC_GEN_WEFT})
    set(plugin_dep ${WEFT_PROTOC_GEN_WEFT})
  endif()

  set(out ${CMAKE_CURRENT_BINARY_DIR}/weft_gen)
  set(iargs "")
  set(idirs "")
  foreach(d IN LISTS WG_IMPORT_DIRS)
    get_filename_component(d "${d}" ABSOLUTE BASE_DIR ${CMAKE_CURRENT_SOURCE_DIR})
    list(APPEND idirs ${d})
    list(APPEND iargs -I${d})
  endforeach()
  # One protoc run per file: protoc's --dependency_out (which makes edits to
  # imported files trigger regeneration too) takes a single input, and each
  # file's output depends only on that file and what it imports.
  set(srcs "")
  set(hdrs "")
  foreach(p IN LISTS WG_PROTOS)
    string(REGEX REPLACE "\\.proto$" "" stem "${p}")
    set(found "")
    foreach(d IN LISTS idirs)
      if(EXISTS ${d}/${p})
        set(found ${d}/${p})
        break()
      endif()
    endforeach()
    if(NOT found)
      message(FATAL_ERROR
        "weft_generate(${target}): ${p} not found in IMPORT_DIRS ${idirs}")
    endif()
    get_filename_component(stem_dir "${out}/.deps/${stem}" DIRECTORY)
    add_custom_command(
      OUTPUT ${out}/${stem}.weft.c ${out}/${stem}.weft.h
      COMMAND ${CMAKE_COMMAND} -E make_directory ${out} ${stem_dir}
      COMMAND ${PROTOC} --plugin=protoc-gen-weft=${plugin} --weft_out=${out}
              --dependency_out=${out}/.deps/${stem}.d ${iargs} ${p}
      DEPENDS ${found} ${plugin_dep}
      DEPFILE ${out}/.deps/${stem}.d
      COMMENT "protoc-gen-weft: ${p}"
      VERBATIM)
    list(APPEND srcs ${out}/${stem}.weft.c)
    list(APPEND hdrs ${out}/${stem}.weft.h)
  endforeach()

  add_library(${target} STATIC ${srcs} ${hdrs})
  target_include_directories(${target} PUBLIC ${out})
  if(TARGET weft_base)
    target_link_libraries(${target} PUBLIC weft_base)
  else()
    if(NOT WEFT_INCLUDE_DIR)
      message(FATAL_ERROR
        "weft_generate: set WEFT_INCLUDE_DIR to weft's runtime/include")
    endif()
    if(NOT TARGET PkgConfig::PROTOBUF_C)
      find_package(PkgConfig REQUIRED)
      pkg_check_modules(PROTOBUF_C REQUIRED IMPORTED_TARGET GLOBAL libprotobuf-c)
    endif()
    target_include_directories(${target} PUBLIC ${WEFT_INCLUDE_DIR})
    target_link_libraries(${target} PUBLIC PkgConfig::PROTOBUF_C)
  endif()
  if(WG_LINK)
    target_link_libraries(${target} PUBLIC ${WG_LINK})
  endif()
  if(TARGET weft_warnings)
    target_link_libraries(${target} PRIVATE weft_warnings)
  endif()
endfunction()
