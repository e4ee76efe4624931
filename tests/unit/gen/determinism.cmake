# Runs protoc with protoc-gen-weft twice into two directories and fails
# unless every generated file is byte-identical.
# The second run names the files in reverse order, which changes the order
# of protoc's request but must not change any output.
set(rev ${ARGS})
list(REVERSE rev)
foreach(run 1 2)
  file(REMOVE_RECURSE ${OUT}/${run})
  file(MAKE_DIRECTORY ${OUT}/${run})
  if(run EQUAL 1)
    set(args ${ARGS})
  else()
    set(args ${rev})
  endif()
  execute_process(
    COMMAND ${PROTOC} --plugin=protoc-gen-weft=${PLUGIN} --weft_out=${OUT}/${run}
            ${args}
    RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "protoc run ${run} failed: ${rc}")
  endif()
endforeach()
file(GLOB_RECURSE files RELATIVE ${OUT}/1 ${OUT}/1/*)
list(LENGTH files n)
if(n LESS 10)
  message(FATAL_ERROR "expected generated files, got: ${files}")
endif()
foreach(f IN LISTS files)
  file(SHA256 ${OUT}/1/${f} a)
  file(SHA256 ${OUT}/2/${f} b)
  if(NOT a STREQUAL b)
    message(FATAL_ERROR "${f} differs between two runs")
  endif()
endforeach()
message(STATUS "${n} files identical")
