# Installs the library, headers and tool, an exported CMake package (find_package(batchtune)
# gives batchtune::batchtune) and a pkg-config file.
include(CMakePackageConfigHelpers)

install(TARGETS batchtune EXPORT batchtuneTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
file(GLOB BT_PUBLIC_HEADERS CONFIGURE_DEPENDS "${PROJECT_SOURCE_DIR}/include/*.h")
install(FILES ${BT_PUBLIC_HEADERS} "${PROJECT_BINARY_DIR}/include/batchtune_export.h"
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

set(BT_CMAKE_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/batchtune")
install(EXPORT batchtuneTargets NAMESPACE batchtune:: DESTINATION "${BT_CMAKE_DIR}")
configure_package_config_file("${PROJECT_SOURCE_DIR}/cmake/batchtuneConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/batchtuneConfig.cmake" INSTALL_DESTINATION "${BT_CMAKE_DIR}")
write_basic_package_version_file("${PROJECT_BINARY_DIR}/batchtuneConfigVersion.cmake"
  COMPATIBILITY SameMinorVersion)
install(FILES "${PROJECT_BINARY_DIR}/batchtuneConfig.cmake"
              "${PROJECT_BINARY_DIR}/batchtuneConfigVersion.cmake"
        DESTINATION "${BT_CMAKE_DIR}")

# The prefix is found relative to the .pc file itself, so `cmake --install --prefix DIR` and
# relocated installs still give the right paths.
set(_pc_dir "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
string(REGEX REPLACE "[^/]+" ".." BT_PC_UP "${_pc_dir}")
configure_file("${PROJECT_SOURCE_DIR}/cmake/batchtune.pc.in" "${PROJECT_BINARY_DIR}/batchtune.pc"
               @ONLY)
install(FILES "${PROJECT_BINARY_DIR}/batchtune.pc" DESTINATION "${_pc_dir}")
