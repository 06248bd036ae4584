// The rules for the text the index stores: ids are UTF-8, metadata is JSON
// text (RFC 8259). The wrapper decodes both (TextDecoder, JSON.parse), so
// bytes that break these rules would be altered or unreadable there; the index
// refuses them on the way in and in snapshots.
#pragma once

#include <string_view>

namespace tabvec {

bool valid_utf8(std::string_view text);

enum class JsonCheck { valid, invalid, out_of_memory };
// Grammar only (any nesting depth; the nesting stack is the one allocation).
JsonCheck check_json(std::string_view text);

}  // namespace tabvec
