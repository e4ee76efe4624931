# weft_generate(<target>
#               PROTOS <paths relative to an import dir>...
#               [IMPORT_DIRS <dirs>...]   (default: the current source dir)
#               [LINK <other weft_generate targets or libraries>...]
#               [BREAKING_AGAINST <descriptor set or folder>
#                [BREAKING_RULES <categories or rule ids>...]])
#
# Runs protoc with protoc-gen-weft over each of PROTOS and builds the generated .c files into the STATIC library <target>.
# Output: ${CMAKE_CURRENT_BINARY_DIR}/weft_gen/<path>.weft.{h,c}; that
# directory is a PUBLIC include directory, so `#include "a/b/c.weft.h"`.
# The code regenerates when a .proto file (or anything it imports, through
# protoc's --dependency_out) or the plugin changes.
#
# With BREAKING_AGAINST, `weft breaking` compares PROTOS with that baseline
# (a FileDescriptorSet from `weft breaking --write-baseline`, or a folder of
# .proto files) before generating, and the build fails, printing each
# violation, when a change breaks peers built from it (docs/BREAKING.md).
# BREAKING_RULES defaults to FILE; WIRE_JSON or WIRE allow more.
#
# Where the plugin and the runtime come from:
#  - inside the weft tree: the protoc-gen-weft and weft_base targets;
#  - a project that found weft with find_package(weft) (this file is then
#    included by weftConfig.cmake) or added its source tree with
#    add_subdirectory()/FetchContent: weft::protoc-gen-weft and
#    weft::headers. There <target> links weft::headers (weft's headers and
#    the well-known types' generated ones; the application links the runtime
#    itself: weft::weft, weft::codec or their _static forms), and
#    WEFT_WKT_PROTO_DIR is added to the import path, so .proto files can
#    import google/protobuf/*.proto with nothing listed;
#  - otherwise (this file included on its own): set WEFT_PROTOC_GEN_WEFT to
#    a plugin and WEFT_INCLUDE_DIR to weft's headers.
# See docs/GENERATE.md. For BREAKING_AGAINST outside the weft tree, set
# WEFT_CLI to the weft command (else it is looked up on PATH).
include_guard(GLOBAL)
get_filename_component(_WEFT_GEN_TREE "${CMAKE_CURRENT_LIST_DIR}/../.." ABSOLUTE)

# protoc's --dependency_out names its output with an absolute path. Under
# CMP0116 OLD, Ninja reads the depfile as written and, not finding the
# build-relative output name it expects, reruns protoc (and recompiles
# everything generated) on every build. NEW has CMake rewrite the depfile
# for the generator. A function keeps the policies in force where it is
# defined, so setting it here does not reach the including project.
cmake_policy(PUSH)
if(POLICY CMP0116)
  cmake_policy(SET CMP0116 NEW)
endif()

function(weft_generate target)
  cmake_parse_arguments(PARSE_ARGV 1 WG "" "BREAKING_AGAINST"
                        "PROTOS;IMPORT_DIRS;LINK;BREAKING_RULES")
  if(NOT WG_PROTOS)
    message(FATAL_ERROR "weft_generate(${target}): PROTOS is empty")
  endif()
  if(NOT WG_IMPORT_DIRS)
    set(WG_IMPORT_DIRS ${CMAKE_CURRENT_SOURCE_DIR})
  endif()
  if(WG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR
      "weft_generate(${target}): unexpected arguments ${WG_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT PROTOC)
    find_program(PROTOC protoc REQUIRED)
  endif()
  # A caller outside weft's own project that has weft's targets.
  set(user_mode OFF)
  if(TARGET weft::headers AND NOT PROJECT_SOURCE_DIR STREQUAL _WEFT_GEN_TREE)
    set(user_mode ON)
  endif()
  if(TARGET protoc-gen-weft)
    set(plugin $<TARGET_FILE:protoc-gen-weft>)
    set(plugin_dep protoc-gen-weft)
  elseif(TARGET weft::protoc-gen-weft)
    set(plugin $<TARGET_FILE:weft::protoc-gen-weft>)
    set(plugin_dep $<TARGET_FILE:weft::protoc-gen-weft>)
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
  # An application can import the well-known types and, from an installed
  # weft, weft's own schemas (WEFT_PROTO_DIR: aitbc/v1, weft/v1).
  if(user_mode)
    foreach(d IN ITEMS ${WEFT_WKT_PROTO_DIR} ${WEFT_PROTO_DIR})
      if(NOT d IN_LIST idirs)
        list(APPEND idirs ${d})
        list(APPEND iargs -I${d})
      endif()
    endforeach()
  endif()
  # One protoc run per file: protoc's --dependency_out (which makes edits to
  # imported files trigger regeneration too) takes a single input, and each
  # file's output depends only on that file and what it imports.
  set(srcs "")
  set(hdrs "")
  set(found_all "")
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
    list(APPEND found_all ${found})
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

  # A file's .c includes the headers of the files it imports, which may be
  # generated by another command of this same target: finish all generation
  # before any compilation starts (Ninja does this by itself, Makefiles not).
  add_custom_target(${target}_weft_gen DEPENDS ${srcs} ${hdrs})
  if(WG_BREAKING_AGAINST)
    _weft_breaking_check(${target} "${WG_BREAKING_AGAINST}"
                         "${WG_BREAKING_RULES}" "${found_all}" "${idirs}")
  elseif(WG_BREAKING_RULES)
    message(FATAL_ERROR
      "weft_generate(${target}): BREAKING_RULES needs BREAKING_AGAINST")
  endif()
  add_library(${target} STATIC ${srcs} ${hdrs})
  add_dependencies(${target} ${target}_weft_gen)
  target_include_directories(${target} PUBLIC ${out})
  if(user_mode)
    # Headers only: the application links the runtime it chose (weft::weft,
    # weft::codec or their _static forms), so it is linked once.
    target_link_libraries(${target} PUBLIC weft::headers)
    # From a source tree the well-known types' headers are generated in
    # weft's build: before this target compiles.
    if(TARGET weft_wkt_weft_gen)
      add_dependencies(${target} weft_wkt_weft_gen)
    endif()
    # weft_wkt (as inside the tree) is part of weft::codec here.
    list(REMOVE_ITEM WG_LINK weft_wkt)
  elseif(TARGET weft_base)
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

# The BREAKING_AGAINST check: `weft breaking` over the target's .proto
# files, rerun when they or the baseline change; generation waits for it.
function(_weft_breaking_check target against rules protos idirs)
  if(TARGET weft-cli)
    set(cli $<TARGET_FILE:weft-cli>)
    set(cli_dep weft-cli)
  else()
    if(NOT WEFT_CLI)
      find_program(WEFT_CLI weft REQUIRED)
    endif()
    set(cli ${WEFT_CLI})
    set(cli_dep ${WEFT_CLI})
  endif()
  get_filename_component(against "${against}" ABSOLUTE
                         BASE_DIR ${CMAKE_CURRENT_SOURCE_DIR})
  if(IS_DIRECTORY ${against})
    file(GLOB_RECURSE against_deps CONFIGURE_DEPENDS ${against}/*.proto)
  elseif(EXISTS ${against})
    set(against_deps ${against})
  else()
    message(FATAL_ERROR
      "weft_generate(${target}): BREAKING_AGAINST ${against} does not exist")
  endif()
  if(NOT rules)
    set(rules FILE)
  endif()
  string(REPLACE ";" "," rules_arg "${rules}")
  set(iargs "")
  foreach(d IN LISTS idirs)
    list(APPEND iargs -I ${d})
  endforeach()
  set(stamp ${CMAKE_CURRENT_BINARY_DIR}/${target}.weft_breaking.stamp)
  add_custom_command(
    OUTPUT ${stamp}
    COMMAND ${cli} breaking ${protos} ${iargs} --against ${against}
            --rules ${rules_arg}
    COMMAND ${CMAKE_COMMAND} -E touch ${stamp}
    DEPENDS ${protos} ${against_deps} ${cli_dep}
    COMMENT "weft breaking: ${target} against ${against} (${rules_arg})"
    VERBATIM)
  add_custom_target(${target}_breaking DEPENDS ${stamp})
  add_dependencies(${target}_weft_gen ${target}_breaking)
endfunction()

cmake_policy(POP)
