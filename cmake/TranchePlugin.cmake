# tranche_add_plugin(NAME [SOURCES file...] [DESTINATION dir]): builds a tranche plugin as the
# module NAME.so (no "lib" prefix, the name `steps: - plugin: NAME` looks for), with symbols
# hidden by default (TRANCHE_PLUGIN exports the descriptor, and nothing else leaks), and installs
# it where tranche finds plugins by name. One implementation for the bundled plugins and for
# plugins built out of tree against the installed package (find_package(tranche)).
#
# SOURCES defaults to NAME/NAME.c when that file exists (the bundled plugins' layout), else
# NAME.c. DESTINATION defaults to TRANCHE_PLUGIN_INSTALL_DIR: in the installed package, the
# plugin directory of the tranche it was found with; in tranche's own build, the bundled
# plugins' directory below the install prefix. Where TRANCHE_PLUGIN_OUTPUT_DIR is set (tranche's
# own build), the module is built there, beside the build tree's CLI.
include_guard(GLOBAL)

function(tranche_add_plugin name)
    cmake_parse_arguments(PARSE_ARGV 1 arg "" "DESTINATION" "SOURCES")
    if(arg_UNPARSED_ARGUMENTS)
        message(FATAL_ERROR "tranche_add_plugin(${name}): unexpected arguments "
            "'${arg_UNPARSED_ARGUMENTS}' (usage: tranche_add_plugin(NAME [SOURCES file...] "
            "[DESTINATION dir]))")
    endif()
    if(NOT name MATCHES "^[A-Za-z_][A-Za-z0-9_]*$")
        message(FATAL_ERROR "tranche_add_plugin(${name}): a plugin name is a C identifier "
            "(letters, digits, underscores), as jobs name it")
    endif()
    set(sources ${arg_SOURCES})
    if(NOT sources)
        if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${name}/${name}.c)
            set(sources ${name}/${name}.c)
        else()
            set(sources ${name}.c)
        endif()
    endif()
    set(destination ${arg_DESTINATION})
    if(NOT destination)
        set(destination ${TRANCHE_PLUGIN_INSTALL_DIR})
    endif()
    if(NOT destination)
        message(FATAL_ERROR "tranche_add_plugin(${name}): no DESTINATION, and "
            "TRANCHE_PLUGIN_INSTALL_DIR is not set (find_package(tranche) sets it)")
    endif()

    add_library(${name} MODULE ${sources})
    set_target_properties(${name} PROPERTIES PREFIX "" SUFFIX ".so" OUTPUT_NAME ${name}
        C_VISIBILITY_PRESET hidden CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)
    if(TRANCHE_PLUGIN_OUTPUT_DIR)
        set_target_properties(${name} PROPERTIES LIBRARY_OUTPUT_DIRECTORY
            ${TRANCHE_PLUGIN_OUTPUT_DIR})
    endif()
    target_link_libraries(${name} PRIVATE tranche::plugin)
    install(TARGETS ${name} LIBRARY DESTINATION ${destination})
endfunction()
