# Finds the dependencies and gives them the imported names the rest of the build uses:
# OpenCL::OpenCL, CLBlast::CLBlast, ZLIB::ZLIB, cJSON::cJSON and (tests) cmocka::cmocka.
find_package(OpenCL REQUIRED)
find_package(ZLIB REQUIRED)

# Debian's CLBlast exports an un-namespaced `clblast` target.
find_package(CLBlast CONFIG REQUIRED)
if(NOT TARGET CLBlast::CLBlast)
  add_library(CLBlast::CLBlast INTERFACE IMPORTED)
  target_link_libraries(CLBlast::CLBlast INTERFACE clblast)
  get_target_property(_clblast_inc clblast INTERFACE_INCLUDE_DIRECTORIES)
  if(_clblast_inc)
    target_include_directories(CLBlast::CLBlast SYSTEM INTERFACE ${_clblast_inc})
  endif()
endif()

# cJSON: `batchtune tune` writes its summary.json with it, and the tests parse it back.
find_package(cJSON CONFIG REQUIRED)
if(NOT TARGET cJSON::cJSON)
  add_library(cJSON::cJSON INTERFACE IMPORTED)
  target_link_libraries(cJSON::cJSON INTERFACE cjson)
  if(CJSON_INCLUDE_DIRS)
    target_include_directories(cJSON::cJSON SYSTEM INTERFACE ${CJSON_INCLUDE_DIRS})
  endif()
endif()

# cmocka ships a config file with variables but no imported target.
if(BATCHTUNE_BUILD_TESTS)
  find_package(cmocka CONFIG REQUIRED)
  if(NOT TARGET cmocka::cmocka)
    add_library(cmocka::cmocka UNKNOWN IMPORTED)
    set_target_properties(cmocka::cmocka PROPERTIES IMPORTED_LOCATION "${CMOCKA_LIBRARY}")
    target_include_directories(cmocka::cmocka SYSTEM INTERFACE "${CMOCKA_INCLUDE_DIR}")
  endif()
endif()
