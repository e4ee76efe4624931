# Doxygen input filter: weft's headers use plain C comments (the house
# style), so every comment is made a documentation comment on the fly:
# a comment after code on the same line documents that member or
# enumerator (/**<), any other documents what follows it (/**).
/^[[:space:]]*#[[:space:]]*\(endif\|else\|include\)/b
s,^\(.*[^[:space:]].*\)/\*\([^*]\),\1/**<\2,
s,^\([[:space:]]*\)/\*\([^*]\),\1/**\2,
