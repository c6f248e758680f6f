# batchtune_embed_kernels(OUTPUT <c-file> SOURCES <cl files...>)
# Generates a C file holding every .cl file as a byte array plus a table of names, so the library
# runs from any directory with no .cl files around. Byte arrays, not string literals: C11 only
# guarantees 4,095 characters per literal. Regenerated whenever a .cl file changes.
function(batchtune_embed_kernels)
  cmake_parse_arguments(ARG "" "OUTPUT" "SOURCES" ${ARGN})
  add_custom_command(
    OUTPUT "${ARG_OUTPUT}"
    COMMAND "${CMAKE_COMMAND}" "-DOUTPUT=${ARG_OUTPUT}" "-DSOURCES=${ARG_SOURCES}"
            -P "${PROJECT_SOURCE_DIR}/cmake/embed_kernels.cmake"
    DEPENDS ${ARG_SOURCES} "${PROJECT_SOURCE_DIR}/cmake/embed_kernels.cmake"
    COMMENT "Embedding OpenCL kernel sources"
    VERBATIM)
endfunction()
