// Runs the generated kernel's C model on XRT-stub device buffers (tests/test_flow_host.py).
// Compiled with -Ifirmware of a generated U280 project; the kernel name must match.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "xrt/xrt_stub.h"
#include NBQ_TOP_HEADER

static const int WORD_BYTES = nbq_word_t::width / 8;

static std::vector<nbq_word_t> to_words(const std::vector<uint8_t>& bytes) {
    std::vector<nbq_word_t> words(bytes.size() / WORD_BYTES, 0);
    for (size_t b = 0; b < bytes.size(); b++) words[b / WORD_BYTES]((b % WORD_BYTES) * 8 + 7, (b % WORD_BYTES) * 8) = bytes[b];
    return words;
}

void nbq_stub_kernel(const std::string& name, const std::vector<uint8_t>& in, std::vector<uint8_t>& out,
                     int n_images) {
    if (name != NBQ_KERNEL_NAME) throw std::runtime_error("stub: no kernel named " + name);
    if (in.size() % WORD_BYTES || out.size() % WORD_BYTES) throw std::runtime_error("stub: buffers not whole words");
    const std::vector<nbq_word_t> in_words = to_words(in);
    std::vector<nbq_word_t> out_words = to_words(out);
    NBQ_KERNEL(in_words.data(), out_words.data(), n_images);
    for (size_t b = 0; b < out.size(); b++)
        out[b] = uint8_t(out_words[b / WORD_BYTES]((b % WORD_BYTES) * 8 + 7, (b % WORD_BYTES) * 8).to_uint());
}
