# protoc-gen-weft fed a file that is not a CodeGeneratorRequest must say so
# and exit non-zero.
execute_process(COMMAND ${PLUGIN} INPUT_FILE ${INPUT}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(rc EQUAL 0 OR NOT err MATCHES "not a CodeGeneratorRequest")
  message(FATAL_ERROR "rc=${rc} stderr=${err}")
endif()
