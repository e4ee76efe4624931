# Configures rebuild_project (a stand-alone user of WeftGenerate.cmake) in a
# scratch directory, builds and runs it, adds a field to the .proto and a use
# of it to main.c, rebuilds, and checks that the generated header changed and
# the program sees the new field.
set(src ${WORK}/src)
set(bin ${WORK}/build)
set(header ${bin}/weft_gen/demo/v1/demo.weft.h)
file(REMOVE_RECURSE ${WORK})
file(COPY ${TEMPLATE}/ DESTINATION ${src})

function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out
                  ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n${out}")
  endif()
  set(out "${out}" PARENT_SCOPE)
endfunction()

run(configure ${CMAKE_COMMAND} -S ${src} -B ${bin}
    -DWEFT_SOURCE_DIR=${WEFT_SOURCE_DIR}
    -DWEFT_PROTOC_GEN_WEFT=${PLUGIN}
    -DWEFT_INCLUDE_DIR=${WEFT_SOURCE_DIR}/runtime/include)
run(build ${CMAKE_COMMAND} --build ${bin})
run(demo ${bin}/demo)
if(NOT out MATCHES "fields=1 size=2")
  message(FATAL_ERROR "first run printed: ${out}")
endif()
file(READ ${header} before)

# Coarse file systems keep whole-second mtimes: make the edit visibly newer.
execute_process(COMMAND ${CMAKE_COMMAND} -E sleep 1.1)
file(WRITE ${src}/protos/demo/v1/demo.proto [=[
syntax = "proto3";
package demo.v1;

message Thing {
  int32 id = 1;
  int64 extra = 2;
}
]=])
file(WRITE ${src}/main.c [=[
#include <stdio.h>

#include "demo/v1/demo.weft.h"

int main(void) {
  demo__v1__Thing t = demo__v1__Thing_INIT;
  t.id = 7;
  t.extra = 300;
  printf("fields=%u size=%zu\n", demo__v1__Thing_desc.base.n_fields,
         protobuf_c_message_get_packed_size(&t.base));
  return 0;
}
]=])
run(rebuild ${CMAKE_COMMAND} --build ${bin})
run(demo ${bin}/demo)
if(NOT out MATCHES "fields=2 size=5")
  message(FATAL_ERROR "second run printed: ${out}")
endif()
file(READ ${header} after)
if(before STREQUAL after OR NOT after MATCHES "int64_t extra;")
  message(FATAL_ERROR "generated header did not follow the .proto edit")
endif()
message(STATUS "regenerated on edit: ok")
