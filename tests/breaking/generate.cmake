# Configures generate_project (weft_generate with BREAKING_AGAINST a
# baseline written by `weft breaking --write-baseline`, rules WIRE_JSON) in
# a scratch directory and checks that: it builds; a compatible edit (a new
# field) rebuilds; a breaking edit (a field renumbered) fails the build
# with the violation printed; a rename that only FILE would refuse builds.
set(src ${WORK}/src)
set(bin ${WORK}/build)
set(proto ${src}/protos/demo/v1/demo.proto)
file(REMOVE_RECURSE ${WORK})
file(COPY ${TEMPLATE}/ DESTINATION ${src})

function(run what expect_rc)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out
                  ERROR_VARIABLE out)
  if(expect_rc STREQUAL "0" AND NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n${out}")
  elseif(NOT expect_rc STREQUAL "0" AND rc EQUAL 0)
    message(FATAL_ERROR "${what} succeeded but should fail:\n${out}")
  endif()
  set(out "${out}" PARENT_SCOPE)
endfunction()

function(edit text)
  # Coarse file systems keep whole-second mtimes: make the edit newer.
  execute_process(COMMAND ${CMAKE_COMMAND} -E sleep 1.1)
  file(WRITE ${proto} "${text}")
endfunction()

run(baseline 0 ${WEFT} breaking ${proto} -I ${src}/protos
    --write-baseline ${src}/baseline.binpb)
run(configure 0 ${CMAKE_COMMAND} -S ${src} -B ${bin}
    -DWEFT_SOURCE_DIR=${WEFT_SOURCE_DIR} -DWEFT_PROTOC_GEN_WEFT=${PLUGIN}
    -DWEFT_INCLUDE_DIR=${WEFT_SOURCE_DIR}/runtime/include -DWEFT_CLI=${WEFT})
run(build 0 ${CMAKE_COMMAND} --build ${bin})

edit([=[
syntax = "proto3";
package demo.v1;

message Thing {
  int32 id = 1;
  string name = 2;
  int64 size = 3;
}
]=])
run("build after adding a field" 0 ${CMAKE_COMMAND} --build ${bin})
run(demo 0 ${bin}/demo)
if(NOT out MATCHES "fields=3")
  message(FATAL_ERROR "the added field was not generated: ${out}")
endif()

edit([=[
syntax = "proto3";
package demo.v1;

message Thing {
  int32 id = 1;
  string name = 7;
}
]=])
run("build after renumbering a field" 1 ${CMAKE_COMMAND} --build ${bin})
if(NOT out MATCHES "demo/v1/demo.proto:4:1:FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED")
  message(FATAL_ERROR "the violation was not printed:\n${out}")
endif()

# WIRE_JSON: the number is what matters on the wire, the name in JSON;
# reserving both makes the deletion compatible.
edit([=[
syntax = "proto3";
package demo.v1;

message Thing {
  reserved 2;
  reserved "name";
  int32 id = 1;
  string label = 4;
}
]=])
run("build after deleting a field with number and name reserved" 0
    ${CMAKE_COMMAND} --build ${bin})
message(STATUS "weft_generate BREAKING_AGAINST: ok")
