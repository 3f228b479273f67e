# What `cmake --install` puts beside the CLI and the bundled plugins for plugin authors: the
# header (core/CMakeLists.txt), a pkg-config file tranche-plugin.pc, the CMake package
# (find_package(tranche): tranche::plugin and tranche_add_plugin), and the man pages.
include(CMakePackageConfigHelpers)

set(TRANCHE_CMAKE_INSTALL_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/tranche)

# The ABI version the installed header speaks, for the .pc file's description.
file(STRINGS ${PROJECT_SOURCE_DIR}/core/include/tranche/plugin.h abi_lines
    REGEX "^#define TRANCHE_ABI_(MAJOR|MINOR) ")
string(REGEX REPLACE ".*MAJOR ([0-9]+).*MINOR ([0-9]+).*" "\\1.\\2" TRANCHE_ABI_VERSION
    "${abi_lines}")

install(EXPORT trancheTargets NAMESPACE tranche:: FILE trancheTargets.cmake
    DESTINATION ${TRANCHE_CMAKE_INSTALL_DIR})
# (made outside the places find_package looks in: the build tree has a package of its own, below)
set(staging ${CMAKE_BINARY_DIR}/package-install)
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/trancheConfig.cmake.in
    ${staging}/trancheConfig.cmake
    INSTALL_DESTINATION ${TRANCHE_CMAKE_INSTALL_DIR}
    PATH_VARS CMAKE_INSTALL_BINDIR CMAKE_INSTALL_INCLUDEDIR TRANCHE_PLUGIN_INSTALL_DIR)
write_basic_package_version_file(${staging}/trancheConfigVersion.cmake
    COMPATIBILITY SameMajorVersion)
install(FILES ${staging}/trancheConfig.cmake ${staging}/trancheConfigVersion.cmake
    ${CMAKE_CURRENT_LIST_DIR}/TranchePlugin.cmake DESTINATION ${TRANCHE_CMAKE_INSTALL_DIR})

# The .pc file names absolute paths, and the prefix is known only when installing
# (`cmake --install build --prefix P`): the directories are filled in now, the prefix then, in
# a file of that prefix's own (two installs to two prefixes at once, as the tests do, must not
# share one).
set(TRANCHE_PC_PREFIX "@TRANCHE_PC_PREFIX@")
configure_file(${CMAKE_CURRENT_LIST_DIR}/tranche-plugin.pc.in
    ${CMAKE_BINARY_DIR}/tranche-plugin.pc.in @ONLY)
install(CODE "
    set(TRANCHE_PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
    string(MD5 tranche_pc_dir \"\${CMAKE_INSTALL_PREFIX}\")
    set(tranche_pc \"${CMAKE_BINARY_DIR}/pkgconfig/\${tranche_pc_dir}/tranche-plugin.pc\")
    configure_file(\"${CMAKE_BINARY_DIR}/tranche-plugin.pc.in\" \"\${tranche_pc}\" @ONLY)
    file(INSTALL \"\${tranche_pc}\"
        DESTINATION \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/pkgconfig\")")

install(FILES ${PROJECT_SOURCE_DIR}/docs/man/tranche.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES ${PROJECT_SOURCE_DIR}/docs/man/tranche-plugin.7
    DESTINATION ${CMAKE_INSTALL_MANDIR}/man7)

# The same package in the build tree (build/lib/cmake/tranche), so that a plugin project builds
# against a tranche that is built but not installed: -DCMAKE_PREFIX_PATH=build. Its CLI is
# build/bin/tranche, its plugin directory build/lib/tranche/plugins, its header in the sources.
function(tranche_build_tree_package)
    set(dir ${CMAKE_BINARY_DIR}/lib/cmake/tranche)
    set(CMAKE_INSTALL_BINDIR ${CMAKE_RUNTIME_OUTPUT_DIRECTORY})
    set(CMAKE_INSTALL_INCLUDEDIR ${PROJECT_SOURCE_DIR}/core/include)
    set(TRANCHE_PLUGIN_INSTALL_DIR ${TRANCHE_PLUGIN_OUTPUT_DIR})
    export(EXPORT trancheTargets NAMESPACE tranche:: FILE ${dir}/trancheTargets.cmake)
    configure_package_config_file(${CMAKE_CURRENT_FUNCTION_LIST_DIR}/trancheConfig.cmake.in
        ${dir}/trancheConfig.cmake INSTALL_DESTINATION ${dir} INSTALL_PREFIX ${CMAKE_BINARY_DIR}
        PATH_VARS CMAKE_INSTALL_BINDIR CMAKE_INSTALL_INCLUDEDIR TRANCHE_PLUGIN_INSTALL_DIR)
    configure_file(${staging}/trancheConfigVersion.cmake ${dir} COPYONLY)
    configure_file(${CMAKE_CURRENT_FUNCTION_LIST_DIR}/TranchePlugin.cmake ${dir} COPYONLY)
endfunction()
tranche_build_tree_package()
