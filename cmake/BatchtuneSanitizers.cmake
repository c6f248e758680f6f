# -DBATCHTUNE_SANITIZE=ON builds everything with AddressSanitizer (LeakSanitizer included) and
# UndefinedBehaviorSanitizer; any UB report aborts, so a test under sanitizers cannot pass past one.
if(BATCHTUNE_SANITIZE)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "GNU|Clang")
    message(FATAL_ERROR "BATCHTUNE_SANITIZE needs GCC or Clang")
  endif()
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=undefined
                      -fno-omit-frame-pointer -g)
  add_link_options(-fsanitize=address,undefined)
endif()
