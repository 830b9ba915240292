# embed_scripts.cmake -- turns core/queue_scripts/*.lua into a C table
# (af__queue_scripts: name, source) so the binary carries its Redis scripts.
# Usage: cmake -DSRC_DIR=... -DOUT=... -P embed_scripts.cmake
file(GLOB scripts "${SRC_DIR}/*.lua")
list(SORT scripts)
set(body "/* generated from core/queue_scripts by embed_scripts.cmake */\n")
set(table "")
foreach(f ${scripts})
  get_filename_component(name "${f}" NAME_WE)
  file(READ "${f}" hex HEX)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," hex "${hex}")
  string(APPEND body "static const char s_${name}[] = {${hex}0};\n")
  string(APPEND table "  {\"${name}\", s_${name}},\n")
endforeach()
string(APPEND body "const struct af__queue_script { const char *name; const char *src; }\n"
       "af__queue_scripts[] = {\n${table}  {0, 0}};\n")
file(WRITE "${OUT}.tmp" "${body}")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
