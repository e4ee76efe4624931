# The installed weft: the libraries applications link, the install rules,
# weftConfig.cmake, weft.pc, the Debian packages (CPack) and the `docs`
# target. Included by the top-level CMakeLists.txt after the module folders
# (every module target exists) and before tests/ (which tests the result).
#
# Inside the tree each module is its own STATIC library (weft_codec,
# weft_rpc, weft_grpc, ...) and some depend on each other in a cycle (the rpc
# core calls weft_transports_init(), the transports call the rpc core).
# Users should not see that: the installed libraries are built from the
# modules' object files, so a user links
#
#   libweft-codec  base + binary codec + JSON codec + the well-known types
#                  (what every generated .c file needs)
#   libweft        the rest of the runtime: rpc core, every transport,
#                  pub/sub, MB and AITBC compat, run-time descriptors;
#                  links libweft-codec
#
# each shared (SONAME libweft.so.0, symbols versioned WEFT_0, only the public
# ones exported) and static. The modules that go into each are found by
# walking the link dependencies of the in-tree targets `weft_json` and
# `weft`, so a module added to the tree and linked into `weft` ends up in
# libweft without an edit here.
include_guard(GLOBAL)
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# The same names for a project that adds weft with add_subdirectory() or
# FetchContent: there they are the in-tree module libraries.
if(NOT TARGET weft::weft)
  add_library(weft::weft ALIAS weft)
  add_library(weft::codec ALIAS weft_json)
  add_library(weft::json ALIAS weft_json)
  add_library(weft::weft_static ALIAS weft)
  add_library(weft::codec_static ALIAS weft_json)
  add_executable(weft::protoc-gen-weft ALIAS protoc-gen-weft)
endif()

# weft::headers: the include directories (weft's headers and the
# well-known types' generated ones) and protobuf-c, no weft code. What
# weft_generate() libraries link outside the tree, so that the application
# picks the runtime once: weft::weft, weft::codec or their _static forms.
add_library(weft_headers INTERFACE)
set_target_properties(weft_headers PROPERTIES EXPORT_NAME headers)
get_target_property(_wkt_inc weft_wkt INTERFACE_INCLUDE_DIRECTORIES)
target_include_directories(weft_headers INTERFACE
  $<BUILD_INTERFACE:${weft_SOURCE_DIR}/runtime/include>
  $<BUILD_INTERFACE:${_wkt_inc}>
  $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>
  $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}/weft/wkt>)
target_link_libraries(weft_headers INTERFACE
  $<BUILD_INTERFACE:PkgConfig::PROTOBUF_C> $<INSTALL_INTERFACE:protobuf-c>)
if(NOT TARGET weft::headers)
  add_library(weft::headers ALIAS weft_headers)
endif()

# A subproject links the modules; the installed libraries are not built.
if(NOT WEFT_INSTALL)
  return()
endif()

set(WEFT_SOVERSION 0)
set(_wi_dir ${CMAKE_CURRENT_LIST_DIR})
set(WEFT_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/weft)
# The generated headers of google/protobuf/*.proto: their own include root,
# so they never mix with libprotobuf-dev's google/protobuf/*.pb.h.
set(WEFT_INSTALL_WKT_INCLUDEDIR ${CMAKE_INSTALL_INCLUDEDIR}/weft/wkt)
set(WEFT_INSTALL_PROTODIR ${CMAKE_INSTALL_DATADIR}/weft/proto)

# In-tree targets that are not part of an installed library: the AITBC
# domain bindings (an application's schema, not the runtime; the weft
# command links them itself).
set(WEFT_INSTALL_EXCLUDE weft_aitbc weft_warnings)

# _weft_closure(<out_modules> <out_external> <targets>...): every non-imported
# STATIC/OBJECT library reachable from <targets> through link dependencies,
# and every external item (imported target or plain library name) they link.
function(_weft_closure out_mods out_ext)
  set(todo ${ARGN})
  set(seen "")
  set(mods "")
  set(ext "")
  while(todo)
    list(POP_FRONT todo t)
    # Generator expressions the tree uses in link lists.
    if(t MATCHES "^\\$<TARGET_NAME_IF_EXISTS:([^>]+)>$")
      if(NOT TARGET ${CMAKE_MATCH_1})
        continue()
      endif()
      set(t ${CMAKE_MATCH_1})
    elseif(t MATCHES "^\\$<LINK_ONLY:([^>]+)>$")
      set(t ${CMAKE_MATCH_1})
    elseif(t MATCHES "^\\$<")
      message(FATAL_ERROR "WeftInstall.cmake: cannot follow the link item "
                          "${t}; teach _weft_closure this generator expression")
    endif()
    if(t IN_LIST seen OR t IN_LIST WEFT_INSTALL_EXCLUDE)
      continue()
    endif()
    list(APPEND seen ${t})
    if(NOT TARGET ${t})
      list(APPEND ext ${t})
      continue()
    endif()
    get_target_property(imported ${t} IMPORTED)
    if(imported)
      list(APPEND ext ${t})
      continue()
    endif()
    get_target_property(alias ${t} ALIASED_TARGET)
    if(alias)
      list(APPEND todo ${alias})
      continue()
    endif()
    get_target_property(type ${t} TYPE)
    if(type STREQUAL "INTERFACE_LIBRARY")
      get_target_property(deps ${t} INTERFACE_LINK_LIBRARIES)
    elseif(type STREQUAL "STATIC_LIBRARY" OR type STREQUAL "OBJECT_LIBRARY")
      list(APPEND mods ${t})
      get_target_property(deps ${t} LINK_LIBRARIES)
    else()
      message(FATAL_ERROR "WeftInstall.cmake: ${t} is a ${type}; the "
                          "installed libraries collect only static modules")
    endif()
    if(deps)
      list(APPEND todo ${deps})
    endif()
  endwhile()
  set(${out_mods} ${mods} PARENT_SCOPE)
  set(${out_ext} ${ext} PARENT_SCOPE)
endfunction()

# External link items as plain library names, for the static libraries'
# exported interface and for pkg-config's Libs.private (an installed
# weftConfig.cmake must not need weft's own pkg_check_modules targets).
function(_weft_plain_libs out)
  set(r "")
  foreach(e IN LISTS ARGN)
    if(e MATCHES "^PkgConfig::(.+)$")
      # Everything pkg-config listed (grpc also needs gpr, which weft calls
      # directly); a static link needs those packages' -dev files anyway.
      list(APPEND r ${${CMAKE_MATCH_1}_LIBRARIES})
    elseif(e STREQUAL "OpenSSL::SSL")
      list(APPEND r ssl)
    elseif(e STREQUAL "OpenSSL::Crypto")
      list(APPEND r crypto)
    elseif(e STREQUAL "ZLIB::ZLIB")
      list(APPEND r z)
    elseif(e STREQUAL "Threads::Threads")
      list(APPEND r pthread)
    elseif(e MATCHES "::")
      message(FATAL_ERROR "WeftInstall.cmake: no plain name known for ${e}")
    else()
      list(APPEND r ${e})
    endif()
  endforeach()
  list(REMOVE_DUPLICATES r)
  set(${out} ${r} PARENT_SCOPE)
endfunction()

_weft_closure(WEFT_CODEC_MODULES _codec_ext weft_json)
_weft_closure(_all_mods WEFT_EXTERNAL_LIBS weft)
set(WEFT_RUNTIME_MODULES ${_all_mods})
list(REMOVE_ITEM WEFT_RUNTIME_MODULES ${WEFT_CODEC_MODULES})
# Public headers of weft_rpc's siblings that applications use directly
# (weft_dyndesc for weft/dyndesc.h, the compat endpoints for weft/mb_net.h
# and weft/aitbc_endpoint.h, weft/breaking.h, weft/contract.h) even though
# `weft` does not link them.
foreach(t weft_dyndesc weft_compat weft_compat_ws weft_breaking weft_contract)
  if(TARGET ${t})
    _weft_closure(_m _e ${t})
    foreach(m IN LISTS _m)
      if(NOT m IN_LIST WEFT_CODEC_MODULES AND NOT m IN_LIST WEFT_RUNTIME_MODULES)
        list(APPEND WEFT_RUNTIME_MODULES ${m})
      endif()
    endforeach()
    list(APPEND WEFT_EXTERNAL_LIBS ${_e})
  endif()
endforeach()
list(REMOVE_DUPLICATES WEFT_EXTERNAL_LIBS)
_weft_plain_libs(WEFT_CODEC_PLAIN_LIBS ${_codec_ext})
_weft_plain_libs(WEFT_PLAIN_LIBS ${WEFT_EXTERNAL_LIBS})

set(_codec_objs "")
foreach(m IN LISTS WEFT_CODEC_MODULES)
  list(APPEND _codec_objs $<TARGET_OBJECTS:${m}>)
endforeach()
set(_rt_objs "")
foreach(m IN LISTS WEFT_RUNTIME_MODULES)
  list(APPEND _rt_objs $<TARGET_OBJECTS:${m}>)
endforeach()

# Version scripts: the WEFT_0 node exports the public API (weft_ but not the
# internal weft__ prefix) and, from libweft-codec, the well-known types'
# generated descriptors that generated code importing google/protobuf/*.proto
# refers to; every other symbol is local.
set(_codec_map ${CMAKE_CURRENT_BINARY_DIR}/weft-codec.map)
set(_rt_map ${CMAKE_CURRENT_BINARY_DIR}/weft.map)
file(WRITE ${_codec_map}
  "WEFT_0 {\n  global:\n    weft_[!_]*;\n    google__protobuf__*;\n    google__api__*;\n  local:\n    *;\n};\n")
file(WRITE ${_rt_map}
  "WEFT_0 {\n  global:\n    weft_[!_]*;\n  local:\n    *;\n};\n")


function(_weft_lib target kind output objs)
  add_library(${target} ${kind} ${objs})
  set_target_properties(${target} PROPERTIES
    OUTPUT_NAME ${output}
    ARCHIVE_OUTPUT_DIRECTORY ${weft_BINARY_DIR}/lib
    LIBRARY_OUTPUT_DIRECTORY ${weft_BINARY_DIR}/lib
    LINKER_LANGUAGE C)
  target_link_libraries(${target} INTERFACE weft_headers)
endfunction()

_weft_lib(weft_codec_shared SHARED weft-codec "${_codec_objs}")
_weft_lib(weft_codec_static STATIC weft-codec "${_codec_objs}")
_weft_lib(weft_shared SHARED weft "${_rt_objs}")
_weft_lib(weft_static STATIC weft "${_rt_objs}")
foreach(t weft_codec_shared weft_shared)
  set_target_properties(${t} PROPERTIES VERSION ${PROJECT_VERSION}
                        SOVERSION ${WEFT_SOVERSION})
endforeach()
set_target_properties(weft_codec_shared PROPERTIES EXPORT_NAME codec)
set_target_properties(weft_codec_static PROPERTIES EXPORT_NAME codec_static)
set_target_properties(weft_shared PROPERTIES EXPORT_NAME weft)
set_target_properties(weft_static PROPERTIES EXPORT_NAME weft_static)
target_link_options(weft_codec_shared PRIVATE
  -Wl,--version-script=${_codec_map})
target_link_options(weft_shared PRIVATE -Wl,--version-script=${_rt_map})
set_property(TARGET weft_codec_shared APPEND PROPERTY LINK_DEPENDS ${_codec_map})
set_property(TARGET weft_shared APPEND PROPERTY LINK_DEPENDS ${_rt_map})
if(NOT WEFT_SANITIZE AND NOT WEFT_FUZZ)
  # Every symbol resolved at link time: a module that needs a library this
  # file does not link fails here, not in a user's program.
  target_link_options(weft_codec_shared PRIVATE -Wl,--no-undefined)
  target_link_options(weft_shared PRIVATE -Wl,--no-undefined)
endif()
# (protobuf-c, which the generated headers include and the generated .c
# files call, is a public dependency through weft_headers.)
target_link_libraries(weft_codec_shared PRIVATE ${_codec_ext})
target_link_libraries(weft_shared PUBLIC weft_codec_shared
                      PRIVATE ${WEFT_EXTERNAL_LIBS})
# Static: the build tree links weft's imported targets, an install plain
# library names (its weftConfig.cmake runs no pkg_check_modules).
foreach(e IN LISTS _codec_ext)
  target_link_libraries(weft_codec_static INTERFACE $<BUILD_INTERFACE:${e}>)
endforeach()
foreach(e IN LISTS WEFT_CODEC_PLAIN_LIBS)
  target_link_libraries(weft_codec_static INTERFACE $<INSTALL_INTERFACE:${e}>)
endforeach()
target_link_libraries(weft_static INTERFACE weft_codec_static)
foreach(e IN LISTS WEFT_EXTERNAL_LIBS)
  target_link_libraries(weft_static INTERFACE $<BUILD_INTERFACE:${e}>)
endforeach()
foreach(e IN LISTS WEFT_PLAIN_LIBS)
  target_link_libraries(weft_static INTERFACE $<INSTALL_INTERFACE:${e}>)
endforeach()

# weft::json: the JSON codec is inside libweft-codec (every generated file
# needs it); the name exists for users who think of it separately.
add_library(weft_json_iface INTERFACE)
set_target_properties(weft_json_iface PROPERTIES EXPORT_NAME json)
target_link_libraries(weft_json_iface INTERFACE weft_codec_shared)


# ---- install rules ----------------------------------------------------
# Public headers: runtime/include/weft and every transport's include/weft
# (options structs such as weft/grpc_transport.h). Headers next to the .c
# files stay private.
file(GLOB _pub_inc_dirs LIST_DIRECTORIES true
     ${weft_SOURCE_DIR}/runtime/include/weft
     ${weft_SOURCE_DIR}/transports/*/include/weft)
foreach(d IN LISTS _pub_inc_dirs)
  if(IS_DIRECTORY ${d})
    install(DIRECTORY ${d} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
            COMPONENT dev FILES_MATCHING PATTERN "*.h")
  endif()
endforeach()
install(DIRECTORY ${_wkt_inc}/google DESTINATION ${WEFT_INSTALL_WKT_INCLUDEDIR}
        COMPONENT dev FILES_MATCHING PATTERN "*.weft.h")
# weft's own schemas (aitbc.v1, weft.v1), for applications that import them
# or generate their bindings: WEFT_PROTO_DIR in CMake, proto_dir in
# pkg-config.
foreach(d aitbc weft)
  if(IS_DIRECTORY ${weft_SOURCE_DIR}/schema/${d})
    install(DIRECTORY ${weft_SOURCE_DIR}/schema/${d}
            DESTINATION ${WEFT_INSTALL_PROTODIR} COMPONENT dev
            FILES_MATCHING PATTERN "*.proto")
  endif()
endforeach()
# aitbc/v1 imports google/api/annotations.proto (REST routes): ship it and
# http.proto beside them, so WEFT_PROTO_DIR resolves every import.
install(FILES ${WEFT_GOOGLEAPIS_PROTO_DIR}/google/api/annotations.proto
              ${WEFT_GOOGLEAPIS_PROTO_DIR}/google/api/http.proto
        DESTINATION ${WEFT_INSTALL_PROTODIR}/google/api COMPONENT dev)

install(TARGETS weft_codec_shared weft_shared EXPORT weftTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime
          NAMELINK_COMPONENT dev)
install(TARGETS weft_codec_static weft_static weft_json_iface weft_headers
               protoc-gen-weft
  EXPORT weftTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT dev)
if(TARGET weft-cli)
  install(TARGETS weft-cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
          COMPONENT cli)
endif()

install(EXPORT weftTargets NAMESPACE weft:: FILE weftTargets.cmake
        DESTINATION ${WEFT_INSTALL_CMAKEDIR} COMPONENT dev)
configure_package_config_file(${_wi_dir}/weftConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/weftConfig.cmake
  INSTALL_DESTINATION ${WEFT_INSTALL_CMAKEDIR}
  PATH_VARS CMAKE_INSTALL_INCLUDEDIR WEFT_INSTALL_PROTODIR)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/weftConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/weftConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/weftConfigVersion.cmake
              ${weft_SOURCE_DIR}/gen/cmake/WeftGenerate.cmake
        DESTINATION ${WEFT_INSTALL_CMAKEDIR} COMPONENT dev)

# pkg-config: prefix relative to the .pc file, so an unpacked package
# (dpkg -x) or a moved prefix works as well as /usr.
file(RELATIVE_PATH WEFT_PC_PREFIX_REL
     ${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/pkgconfig
     ${CMAKE_INSTALL_PREFIX})
list(JOIN WEFT_PLAIN_LIBS " -l" WEFT_PC_LIBS_PRIVATE)
set(WEFT_PC_LIBS_PRIVATE "-l${WEFT_PC_LIBS_PRIVATE}")
set(_codec_priv ${WEFT_CODEC_PLAIN_LIBS})
list(REMOVE_ITEM _codec_priv protobuf-c)
list(JOIN _codec_priv " -l" WEFT_CODEC_PC_LIBS_PRIVATE)
if(WEFT_CODEC_PC_LIBS_PRIVATE)
  set(WEFT_CODEC_PC_LIBS_PRIVATE "-l${WEFT_CODEC_PC_LIBS_PRIVATE}")
endif()
foreach(pc weft weft-codec)
  configure_file(${_wi_dir}/${pc}.pc.in ${CMAKE_CURRENT_BINARY_DIR}/${pc}.pc @ONLY)
  install(FILES ${CMAKE_CURRENT_BINARY_DIR}/${pc}.pc
          DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT dev)
endforeach()

include(${_wi_dir}/WeftPackage.cmake)
include(${_wi_dir}/WeftDocs.cmake)
