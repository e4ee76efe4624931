/* The .proto files compiled into the weft command (NULL-terminated). */
#ifndef WEFT_CLI_FILES_H
#define WEFT_CLI_FILES_H
#include "weft/desc.h"
extern const weft_file_desc *const weft_cli_files[];
#endif
