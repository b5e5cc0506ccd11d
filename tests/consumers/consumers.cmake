# One program per prunedef target, each linking only that target. Included by the consumer
# projects tests/cmake_import and tests/cmake_add_subdirectory.
#   PRUNEDEF_CONSUMERS  which targets to cover (default: the six without onnx)
set(PRUNEDEF_CONSUMERS "core;io;image;report;prunedef;native" CACHE STRING "prunedef targets to build a consumer of")
foreach(part IN LISTS PRUNEDEF_CONSUMERS)
  add_executable(consumer_${part} ${CMAKE_CURRENT_LIST_DIR}/${part}.cpp)
  target_link_libraries(consumer_${part} PRIVATE prunedef::${part})
endforeach()
