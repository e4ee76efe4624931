# cmake -DCTEST=<ctest> -DBUILD=<build dir> -DLABEL=<label>
#       -DEXPECT=<regex>|<regex>... -P labels_check.cmake
# Fails unless `ctest -N -L ^LABEL$` lists a test matching every regex:
# a test program given several labels must be selected by each of them
# (CI's TSan phase selects with -L tsan).
execute_process(COMMAND "${CTEST}" --test-dir "${BUILD}" -N -L "^${LABEL}$"
                OUTPUT_VARIABLE out RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "ctest -N -L ${LABEL} failed (${rc}): ${out}")
endif()
string(REPLACE "|" ";" expect "${EXPECT}")
foreach(re IN LISTS expect)
  if(NOT out MATCHES "${re}")
    message(FATAL_ERROR "no test matching '${re}' has label ${LABEL}:\n${out}")
  endif()
endforeach()
message(STATUS "label ${LABEL}: ${EXPECT} listed")
