/* Puts the well-known-type files (generated into weft_wkt) into the global
 * registry, so Any can carry them without any registration by the user. */
#include "google/protobuf/any.weft.h"
#include "google/protobuf/duration.weft.h"
#include "google/protobuf/empty.weft.h"
#include "google/protobuf/field_mask.weft.h"
#include "google/protobuf/struct.weft.h"
#include "google/protobuf/timestamp.weft.h"
#include "google/protobuf/wrappers.weft.h"
#include "weft/json.h"

void weft__json_register_wkt(weft_registry *r);

void weft__json_register_wkt(weft_registry *r) {
  static const weft_file_desc *const files[] = {
      &google__protobuf__any_proto,     &google__protobuf__duration_proto,
      &google__protobuf__empty_proto,   &google__protobuf__field_1mask_proto,
      &google__protobuf__struct_proto,  &google__protobuf__timestamp_proto,
      &google__protobuf__wrappers_proto};
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
    weft_registry_add_file(r, files[i]);
}
