/* The rule table: buf's v1 breaking rules, their categories and purpose. */
#include <string.h>

#include "brk_internal.h"

#define F WEFT_BREAKING_FILE
#define P WEFT_BREAKING_PACKAGE
#define J WEFT_BREAKING_WIRE_JSON
#define W WEFT_BREAKING_WIRE

static const weft_breaking_rule rules[BRK_N_RULES] = {
    [BRK_ENUM_NO_DELETE] = {"ENUM_NO_DELETE", F,
                            "enums are not deleted from a given file"},
    [BRK_FILE_NO_DELETE] = {"FILE_NO_DELETE", F, "files are not deleted"},
    [BRK_MESSAGE_NO_DELETE] = {"MESSAGE_NO_DELETE", F,
                               "messages are not deleted from a given file"},
    [BRK_SERVICE_NO_DELETE] = {"SERVICE_NO_DELETE", F,
                               "services are not deleted from a given file"},
    [BRK_ENUM_SAME_TYPE] = {"ENUM_SAME_TYPE", F | P,
                            "enums stay open or closed"},
    [BRK_ENUM_VALUE_NO_DELETE] = {"ENUM_VALUE_NO_DELETE", F | P,
                                  "enum values are not deleted"},
    [BRK_EXTENSION_MESSAGE_NO_DELETE] = {"EXTENSION_MESSAGE_NO_DELETE", F | P,
                                         "extension ranges are not deleted"},
    [BRK_FIELD_NO_DELETE] = {"FIELD_NO_DELETE", F | P,
                             "fields are not deleted"},
    [BRK_FIELD_SAME_CARDINALITY] = {"FIELD_SAME_CARDINALITY", F | P,
                                    "fields keep their cardinality"},
    [BRK_FIELD_SAME_CPP_STRING_TYPE] = {"FIELD_SAME_CPP_STRING_TYPE", F | P,
                                        "fields keep their C++ string type "
                                        "(ctype)"},
    [BRK_FIELD_SAME_JAVA_UTF8_VALIDATION] =
        {"FIELD_SAME_JAVA_UTF8_VALIDATION", F | P,
         "string fields keep their Java UTF-8 validation"},
    [BRK_FIELD_SAME_JSTYPE] = {"FIELD_SAME_JSTYPE", F | P,
                               "fields keep their jstype option"},
    [BRK_FIELD_SAME_TYPE] = {"FIELD_SAME_TYPE", F | P,
                             "fields keep their type"},
    [BRK_FIELD_SAME_UTF8_VALIDATION] = {"FIELD_SAME_UTF8_VALIDATION", F | P,
                                        "string fields keep their UTF-8 "
                                        "validation"},
    [BRK_FILE_SAME_CC_ENABLE_ARENAS] = {"FILE_SAME_CC_ENABLE_ARENAS", F | P,
                                        "files keep cc_enable_arenas"},
    [BRK_FILE_SAME_CC_GENERIC_SERVICES] = {"FILE_SAME_CC_GENERIC_SERVICES",
                                           F | P,
                                           "files keep cc_generic_services"},
    [BRK_FILE_SAME_CSHARP_NAMESPACE] = {"FILE_SAME_CSHARP_NAMESPACE", F | P,
                                        "files keep csharp_namespace"},
    [BRK_FILE_SAME_GO_PACKAGE] = {"FILE_SAME_GO_PACKAGE", F | P,
                                  "files keep go_package"},
    [BRK_FILE_SAME_JAVA_GENERIC_SERVICES] =
        {"FILE_SAME_JAVA_GENERIC_SERVICES", F | P,
         "files keep java_generic_services"},
    [BRK_FILE_SAME_JAVA_MULTIPLE_FILES] = {"FILE_SAME_JAVA_MULTIPLE_FILES",
                                           F | P,
                                           "files keep java_multiple_files"},
    [BRK_FILE_SAME_JAVA_OUTER_CLASSNAME] = {"FILE_SAME_JAVA_OUTER_CLASSNAME",
                                            F | P,
                                            "files keep java_outer_classname"},
    [BRK_FILE_SAME_JAVA_PACKAGE] = {"FILE_SAME_JAVA_PACKAGE", F | P,
                                    "files keep java_package"},
    [BRK_FILE_SAME_OBJC_CLASS_PREFIX] = {"FILE_SAME_OBJC_CLASS_PREFIX", F | P,
                                         "files keep objc_class_prefix"},
    [BRK_FILE_SAME_OPTIMIZE_FOR] = {"FILE_SAME_OPTIMIZE_FOR", F | P,
                                    "files keep optimize_for"},
    [BRK_FILE_SAME_PHP_CLASS_PREFIX] = {"FILE_SAME_PHP_CLASS_PREFIX", F | P,
                                        "files keep php_class_prefix"},
    [BRK_FILE_SAME_PHP_METADATA_NAMESPACE] =
        {"FILE_SAME_PHP_METADATA_NAMESPACE", F | P,
         "files keep php_metadata_namespace"},
    [BRK_FILE_SAME_PHP_NAMESPACE] = {"FILE_SAME_PHP_NAMESPACE", F | P,
                                     "files keep php_namespace"},
    [BRK_FILE_SAME_PY_GENERIC_SERVICES] = {"FILE_SAME_PY_GENERIC_SERVICES",
                                           F | P,
                                           "files keep py_generic_services"},
    [BRK_FILE_SAME_RUBY_PACKAGE] = {"FILE_SAME_RUBY_PACKAGE", F | P,
                                    "files keep ruby_package"},
    [BRK_FILE_SAME_SWIFT_PREFIX] = {"FILE_SAME_SWIFT_PREFIX", F | P,
                                    "files keep swift_prefix"},
    [BRK_FILE_SAME_SYNTAX] = {"FILE_SAME_SYNTAX", F | P,
                              "files keep their syntax"},
    [BRK_MESSAGE_NO_REMOVE_STANDARD_DESCRIPTOR_ACCESSOR] =
        {"MESSAGE_NO_REMOVE_STANDARD_DESCRIPTOR_ACCESSOR", F | P,
         "no_standard_descriptor_accessor does not change from false to "
         "true"},
    [BRK_ONEOF_NO_DELETE] = {"ONEOF_NO_DELETE", F | P,
                             "oneofs are not deleted"},
    [BRK_RPC_NO_DELETE] = {"RPC_NO_DELETE", F | P,
                           "RPCs are not deleted from a service"},
    [BRK_ENUM_SAME_JSON_FORMAT] = {"ENUM_SAME_JSON_FORMAT", F | P | J,
                                   "enums keep JSON format support"},
    [BRK_ENUM_VALUE_SAME_NAME] = {"ENUM_VALUE_SAME_NAME", F | P | J,
                                  "enum values keep their name"},
    [BRK_FIELD_SAME_JSON_NAME] = {"FIELD_SAME_JSON_NAME", F | P | J,
                                  "fields keep their JSON name"},
    [BRK_FIELD_SAME_NAME] = {"FIELD_SAME_NAME", F | P | J,
                             "fields keep their name"},
    [BRK_MESSAGE_SAME_JSON_FORMAT] = {"MESSAGE_SAME_JSON_FORMAT", F | P | J,
                                      "messages keep JSON format support"},
    [BRK_FIELD_SAME_ONEOF] = {"FIELD_SAME_ONEOF", F | P | J | W,
                              "fields stay in (or out of) the same oneof"},
    [BRK_FILE_SAME_PACKAGE] = {"FILE_SAME_PACKAGE", F | P | J | W,
                               "files keep their package"},
    [BRK_MESSAGE_SAME_REQUIRED_FIELDS] = {"MESSAGE_SAME_REQUIRED_FIELDS",
                                          F | P | J | W,
                                          "no required field is added or "
                                          "deleted"},
    [BRK_RESERVED_ENUM_NO_DELETE] = {"RESERVED_ENUM_NO_DELETE", F | P | J | W,
                                     "reserved ranges and names of enums are "
                                     "not deleted"},
    [BRK_RESERVED_MESSAGE_NO_DELETE] = {"RESERVED_MESSAGE_NO_DELETE",
                                        F | P | J | W,
                                        "reserved ranges and names of "
                                        "messages are not deleted"},
    [BRK_RPC_SAME_CLIENT_STREAMING] = {"RPC_SAME_CLIENT_STREAMING",
                                       F | P | J | W,
                                       "RPCs keep client streaming"},
    [BRK_RPC_SAME_IDEMPOTENCY_LEVEL] = {"RPC_SAME_IDEMPOTENCY_LEVEL",
                                        F | P | J | W,
                                        "RPCs keep idempotency_level"},
    [BRK_RPC_SAME_REQUEST_TYPE] = {"RPC_SAME_REQUEST_TYPE", F | P | J | W,
                                   "RPCs keep their request type"},
    [BRK_RPC_SAME_RESPONSE_TYPE] = {"RPC_SAME_RESPONSE_TYPE", F | P | J | W,
                                    "RPCs keep their response type"},
    [BRK_RPC_SAME_SERVER_STREAMING] = {"RPC_SAME_SERVER_STREAMING",
                                       F | P | J | W,
                                       "RPCs keep server streaming"},
    [BRK_PACKAGE_ENUM_NO_DELETE] = {"PACKAGE_ENUM_NO_DELETE", P,
                                    "enums are not deleted from a package"},
    [BRK_PACKAGE_MESSAGE_NO_DELETE] = {"PACKAGE_MESSAGE_NO_DELETE", P,
                                       "messages are not deleted from a "
                                       "package"},
    [BRK_PACKAGE_NO_DELETE] = {"PACKAGE_NO_DELETE", P,
                               "packages are not deleted"},
    [BRK_PACKAGE_SERVICE_NO_DELETE] = {"PACKAGE_SERVICE_NO_DELETE", P,
                                       "services are not deleted from a "
                                       "package"},
    [BRK_ENUM_VALUE_NO_DELETE_UNLESS_NAME_RESERVED] =
        {"ENUM_VALUE_NO_DELETE_UNLESS_NAME_RESERVED", J,
         "enum values are deleted only with their name reserved"},
    [BRK_FIELD_NO_DELETE_UNLESS_NAME_RESERVED] =
        {"FIELD_NO_DELETE_UNLESS_NAME_RESERVED", J,
         "fields are deleted only with their name reserved"},
    [BRK_FIELD_WIRE_JSON_COMPATIBLE_CARDINALITY] =
        {"FIELD_WIRE_JSON_COMPATIBLE_CARDINALITY", J,
         "fields keep a wire- and JSON-compatible cardinality"},
    [BRK_FIELD_WIRE_JSON_COMPATIBLE_TYPE] =
        {"FIELD_WIRE_JSON_COMPATIBLE_TYPE", J,
         "fields keep a wire- and JSON-compatible type"},
    [BRK_ENUM_VALUE_NO_DELETE_UNLESS_NUMBER_RESERVED] =
        {"ENUM_VALUE_NO_DELETE_UNLESS_NUMBER_RESERVED", J | W,
         "enum values are deleted only with their number reserved"},
    [BRK_FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED] =
        {"FIELD_NO_DELETE_UNLESS_NUMBER_RESERVED", J | W,
         "fields are deleted only with their number reserved"},
    [BRK_FIELD_WIRE_COMPATIBLE_CARDINALITY] =
        {"FIELD_WIRE_COMPATIBLE_CARDINALITY", W,
         "fields keep a wire-compatible cardinality"},
    [BRK_FIELD_WIRE_COMPATIBLE_TYPE] = {"FIELD_WIRE_COMPATIBLE_TYPE", W,
                                        "fields keep a wire-compatible type"},
};

size_t weft_breaking_n_rules(void) {
  return BRK_N_RULES;
}

const weft_breaking_rule *weft_breaking_rule_at(size_t i) {
  return i < BRK_N_RULES ? &rules[i] : NULL;
}

const weft_breaking_rule *weft_breaking_find_rule(const char *id) {
  for (size_t i = 0; id && i < BRK_N_RULES; i++)
    if (!strcmp(rules[i].id, id))
      return &rules[i];
  return NULL;
}

unsigned weft_breaking_category(const char *name) {
  static const struct {
    const char *name;
    unsigned bit;
  } cats[] = {{"FILE", F}, {"PACKAGE", P}, {"WIRE_JSON", J}, {"WIRE", W}};
  for (size_t i = 0; name && i < sizeof cats / sizeof cats[0]; i++)
    if (!strcmp(cats[i].name, name))
      return cats[i].bit;
  return 0;
}
